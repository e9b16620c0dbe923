"""Query options back to their text form, for links (the nextLink of an expanded collection).

`parse_filter(render_filter(node)) == node` for every tree the parser produces.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from urbantwin.sensorthings.query.ast import (
    BinOp,
    Call,
    ExpandItem,
    GeoLiteral,
    Interval,
    Literal,
    Neg,
    Node,
    Not,
    QueryOptions,
)
from urbantwin.sensorthings.query.ast import Path as PathNode


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    sign = "-" if seconds < 0 else ""
    return f"duration'{sign}PT{abs(seconds)!r}S'"


def _literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, Interval):
        return f"{_time(value.start)}/{_time(value.end)}"
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, timedelta):
        return _duration(value)
    raise TypeError(f"cannot render literal {value!r}")


def render_filter(node: Node) -> str:
    if isinstance(node, Literal):
        return _literal(node.value)
    if isinstance(node, GeoLiteral):
        return f"geography'{node.wkt}'"
    if isinstance(node, PathNode):
        return "/".join(node.segments)
    if isinstance(node, BinOp):
        return f"({render_filter(node.left)} {node.op} {render_filter(node.right)})"
    if isinstance(node, Not):
        return f"not ({render_filter(node.operand)})"
    if isinstance(node, Neg):
        return f"-({render_filter(node.operand)})"
    if isinstance(node, Call):
        return f"{node.name}({','.join(render_filter(a) for a in node.args)})"
    raise TypeError(f"cannot render {node!r}")


def render_options(options: QueryOptions) -> dict[str, str]:
    """The options as `{"$filter": "...", ...}`, leaving out defaults."""
    out: dict[str, str] = {}
    if options.filter is not None:
        out["$filter"] = render_filter(options.filter)
    if options.orderby:
        out["$orderby"] = ",".join(
            render_filter(o.expr) + (" desc" if o.descending else " asc") for o in options.orderby
        )
    if options.select is not None:
        out["$select"] = ",".join("/".join(s) for s in options.select)
    if options.expand:
        out["$expand"] = ",".join(_expand_item(i) for i in options.expand)
    if options.count:
        out["$count"] = "true"
    return out


def _expand_item(item: ExpandItem) -> str:
    inner = render_options(item.options)
    if item.options.top is not None:
        inner["$top"] = str(item.options.top)
    if item.options.skip:
        inner["$skip"] = str(item.options.skip)
    text = "/".join(item.path)
    if inner:
        text += "(" + ";".join(f"{k}={v}" for k, v in inner.items()) + ")"
    return text
