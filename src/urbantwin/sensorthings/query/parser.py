"""Parser of the SensorThings API 1.1 query options ($filter, $orderby, $select, $expand, ...) into an AST.

It is a hand-written recursive descent parser rather than a parser library: the grammar is small, and we
need precise error positions and no extra dependency.

Binary operators are parsed by precedence climbing (one function for all levels, lowest first: or, and,
not, comparisons, add/sub, mul/div/mod, unary minus), which keeps the Python stack shallow per nesting
level.  The parser bounds the work of a request by construction (`QueryLimits`, from the settings of the
same names): the length of each value, the depth of each expression tree counted while it is built (a
chain `a or b or c` is as deep as it is long, and everything after the parser walks trees recursively),
and the depth and breadth of `$expand`, all checked before any query runs: a QuerySyntaxError naming the
limit, never a RecursionError.  Operators, keywords and function names are accepted in any case, as
FROST-Server does.  The parser does not know the entity model: whether a path or a function argument
makes sense is the compiler's business.

Positions in errors are 0-based character offsets in the option value; for options nested in `$expand`
they are offsets in the whole `$expand` value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from urbantwin.sensorthings.query.ast import (
    BinOp,
    Call,
    ExpandItem,
    GeoLiteral,
    Literal,
    Neg,
    Node,
    Not,
    OrderBy,
    Path,
    QueryOptions,
)
from urbantwin.sensorthings.query.lexer import IOT_ID, Kind, QuerySyntaxError, Token, show, tokenize
from urbantwin.settings import Settings

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "QueryLimits",
    "QuerySyntaxError",
    "parse_expand",
    "parse_filter",
    "parse_orderby",
    "parse_query_options",
    "parse_select",
]


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """The most work the query options of one request may ask for (see the settings of the same names)."""

    max_filter_length: int = Settings.max_filter_length
    max_filter_depth: int = Settings.max_filter_depth
    max_expand_depth: int = Settings.max_expand_depth
    max_expand_breadth: int = Settings.max_expand_breadth
    max_offset: int = Settings.max_offset

    @classmethod
    def of(cls, settings: Settings) -> QueryLimits:
        return cls(
            settings.max_filter_length,
            settings.max_filter_depth,
            settings.max_expand_depth,
            settings.max_expand_breadth,
            settings.max_offset,
        )


DEFAULT_LIMITS = QueryLimits()
#: Longest option value accepted by default, in characters.
MAX_LENGTH = DEFAULT_LIMITS.max_filter_length
#: Deepest expression accepted by default: nested parentheses, functions and operators.
MAX_DEPTH = DEFAULT_LIMITS.max_filter_depth

_BINARY_PRECEDENCE = {
    "or": 1,
    "and": 2,
    **dict.fromkeys(("eq", "ne", "gt", "ge", "lt", "le"), 4),
    **dict.fromkeys(("add", "sub"), 5),
    **dict.fromkeys(("mul", "div", "mod"), 6),
}
# `not` sits between `and` and the comparisons: `not a eq b` is `not (a eq b)`.
_NOT_OPERAND_PRECEDENCE = 4
# The operand of unary minus is a primary (or another prefix expression) only.
_NEG_OPERAND_PRECEDENCE = 7
_KEYWORD_LITERALS: dict[str, None | bool] = {"true": True, "false": False, "null": None}
# Words that cannot start a path in an expression (a property of that name is out of reach there).
_RESERVED = frozenset(_BINARY_PRECEDENCE) | {"not"}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: Function name -> accepted argument counts.
FUNCTION_ARITY: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(("substringof", "endswith", "startswith", "contains", "indexof", "concat"), (2,)),
    **dict.fromkeys(("length", "tolower", "toupper", "trim"), (1,)),
    "substring": (2, 3),
    **dict.fromkeys(
        ("year", "month", "day", "hour", "minute", "second", "fractionalseconds", "date", "time"), (1,)
    ),
    "totaloffsetminutes": (1,),
    **dict.fromkeys(("now", "mindatetime", "maxdatetime"), (0,)),
    **dict.fromkeys(("round", "floor", "ceiling"), (1,)),
    "geo.distance": (2,),
    "geo.length": (1,),
    "geo.intersects": (2,),
    **dict.fromkeys(
        (
            "st_equals",
            "st_disjoint",
            "st_touches",
            "st_within",
            "st_overlaps",
            "st_crosses",
            "st_intersects",
            "st_contains",
        ),
        (2,),
    ),
    "st_relate": (3,),
}
_DE9IM = re.compile(r"[012TF*]{9}", re.IGNORECASE)


class _Parser:
    """Expressions and paths over the tokens of text[start:end], within `limit` levels of depth."""

    def __init__(self, text: str, start: int, end: int, limit: int) -> None:
        self._tokens = tokenize(text, start, end)
        self._lookahead: Token | None = None
        self._depth = 0
        self._limit = limit

    def peek(self) -> Token:
        if self._lookahead is None:
            self._lookahead = next(self._tokens)
        return self._lookahead

    def advance(self) -> Token:
        token = self.peek()
        if token.kind is not Kind.EOF:  # the tokenizer yields EOF once; keep answering it
            self._lookahead = None
        return token

    def expression(self) -> Node:
        return self._expression(1)[0]

    def _too_deep(self, token: Token) -> QuerySyntaxError:
        return QuerySyntaxError(
            "expression nested too deeply",
            token.pos,
            hint=f"the limit is {self._limit} levels of parentheses, functions and operators",
        )

    # Each method below answers the node and its height (the longest way from it down to a leaf): a
    # chain `a or b or c` is parsed by a loop, not by recursion, yet it is as deep as it is long.

    def _expression(self, min_precedence: int) -> tuple[Node, int]:
        self._depth += 1
        if self._depth > self._limit:
            raise self._too_deep(self.peek())
        left, height = self._prefix()
        while True:
            token = self.peek()
            op = token.text.lower() if token.kind is Kind.IDENT else ""
            precedence = _BINARY_PRECEDENCE.get(op)
            if precedence is None or precedence < min_precedence:
                break
            self.advance()
            right, right_height = self._expression(precedence + 1)  # +1: left-associative
            left, height = BinOp(op, left, right), max(height, right_height) + 1
            if height > self._limit:
                raise self._too_deep(token)
        self._depth -= 1
        return left, height

    def _prefix(self) -> tuple[Node, int]:
        token = self.peek()
        if token.kind is Kind.IDENT and token.text.lower() == "not":
            self.advance()
            operand, height = self._expression(_NOT_OPERAND_PRECEDENCE)
            return Not(operand), self._checked_height(height + 1, token)
        if token.kind is Kind.MINUS:
            self.advance()
            if self.peek().kind is Kind.NUMBER:
                return Literal(_checked_number(self.advance(), negative=True)), 0
            operand, height = self._expression(_NEG_OPERAND_PRECEDENCE)
            return Neg(operand), self._checked_height(height + 1, token)
        return self._primary()

    def _checked_height(self, height: int, token: Token) -> int:
        if height > self._limit:
            raise self._too_deep(token)
        return height

    def _primary(self) -> tuple[Node, int]:
        token = self.advance()
        kind = token.kind
        if kind is Kind.LPAREN:
            inner = self._expression(1)
            closing = self.advance()
            if closing.kind is not Kind.RPAREN:
                raise _unexpected(closing, "expected an operator or ')'")
            return inner
        if kind is Kind.NUMBER:
            return Literal(_checked_number(token, negative=False)), 0
        if kind in (Kind.STRING, Kind.DATETIME, Kind.INTERVAL, Kind.DURATION):
            return Literal(token.value), 0  # decoded by the lexer
        if kind is Kind.GEO:
            return GeoLiteral(str(token.value)), 0
        if kind is Kind.IDENT:
            word = token.text.lower()
            if word in _KEYWORD_LITERALS:
                return Literal(_KEYWORD_LITERALS[word]), 0
            if word in _RESERVED:
                raise _unexpected(token, "expected an expression")
            if self.peek().kind is Kind.LPAREN:
                return self._call(token)
            return Path(self._path_from(token, "expected an expression")), 0
        raise _unexpected(token, "expected an expression")

    def _call(self, name_token: Token) -> tuple[Call, int]:
        name = name_token.text.lower()
        arities = FUNCTION_ARITY.get(name)
        if arities is None:
            raise QuerySyntaxError(f"unknown function {show(name_token.text)}", name_token.pos)
        self.advance()  # "("
        args: list[Node] = []
        arg_positions: list[int] = []
        height = 0
        if self.peek().kind is Kind.RPAREN:
            self.advance()
        else:
            while True:
                arg_positions.append(self.peek().pos)
                arg, arg_height = self._expression(1)
                args.append(arg)
                height = max(height, arg_height)
                separator = self.advance()
                if separator.kind is Kind.RPAREN:
                    break
                if separator.kind is not Kind.COMMA:
                    raise _unexpected(separator, "expected an operator, ',' or ')'")
        if len(args) not in arities:
            expected = " or ".join(map(str, arities))
            noun = "argument" if arities == (1,) else "arguments"
            raise QuerySyntaxError(
                f"function {name}() takes {expected} {noun}, got {len(args)}", name_token.pos
            )
        if name == "st_relate":
            pattern = args[2]
            if not (isinstance(pattern, Literal) and isinstance(pattern.value, str)) or not _DE9IM.fullmatch(
                pattern.value
            ):
                raise QuerySyntaxError(
                    "st_relate() needs a DE-9IM pattern as its third argument",
                    arg_positions[2],
                    hint="expected a string of 9 characters from T F * 0 1 2, e.g. 'T*T***FF*'",
                )
        return Call(name, tuple(args)), self._checked_height(height + 1, name_token)

    def path(self, hint: str) -> tuple[str, ...]:
        """A bare path (for $select and $expand): segment ('/' segment)*, keywords allowed."""
        return self._path_from(self.advance(), hint)

    def _path_from(self, first: Token, hint: str) -> tuple[str, ...]:
        segments = [_segment(first, hint)]
        while self.peek().kind is Kind.SLASH:
            self.advance()
            segments.append(_segment(self.advance(), "expected a property name after '/'"))
        return tuple(segments)


def _segment(token: Token, hint: str) -> str:
    if token.kind is not Kind.IDENT:
        raise _unexpected(token, hint)
    if "." in token.text and token.text != IOT_ID:
        raise QuerySyntaxError(f"{show(token.text)} is not a property name", token.pos, hint=hint)
    return token.text


def _checked_number(token: Token, *, negative: bool) -> int | float:
    value = token.value
    assert isinstance(value, int | float)
    value = -value if negative else value
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        raise QuerySyntaxError(
            f"integer {show(token.text)} is out of range", token.pos, hint="integers must fit in 64 bits"
        )
    return value


def _unexpected(token: Token, hint: str) -> QuerySyntaxError:
    if token.kind is Kind.EOF:
        return QuerySyntaxError("unexpected end of input", token.pos, hint=hint)
    return QuerySyntaxError(f"unexpected token {show(token.text)}", token.pos, hint=hint)


# --- the options, each on text[start:end] --------------------------------------------------------------


@dataclass(slots=True)
class _Budget:
    """The limits of one request, and how many navigation properties its `$expand`s have used so far."""

    limits: QueryLimits
    expanded: int = 0


def _parse_filter(text: str, start: int, end: int, level: int, budget: _Budget) -> Node:
    parser = _Parser(text, start, end, budget.limits.max_filter_depth)
    node = parser.expression()
    rest = parser.advance()
    if rest.kind is Kind.RPAREN:
        raise QuerySyntaxError("unbalanced ')'", rest.pos)
    if rest.kind is not Kind.EOF:
        raise _unexpected(rest, "expected an operator")
    return node


def _parse_orderby(text: str, start: int, end: int, level: int, budget: _Budget) -> tuple[OrderBy, ...]:
    parser = _Parser(text, start, end, budget.limits.max_filter_depth)
    keys: list[OrderBy] = []
    while True:
        expr = parser.expression()
        direction = parser.peek()
        word = direction.text.lower() if direction.kind is Kind.IDENT else ""
        has_direction = word in ("asc", "desc")
        if has_direction:
            parser.advance()
        keys.append(OrderBy(expr, descending=word == "desc"))
        separator = parser.advance()
        if separator.kind is Kind.EOF:
            return tuple(keys)
        if separator.kind is not Kind.COMMA:
            hint = (
                "expected ',' or end of input"
                if has_direction
                else "expected an operator, 'asc', 'desc' or ','"
            )
            raise _unexpected(separator, hint)


def _parse_select(
    text: str, start: int, end: int, level: int, budget: _Budget
) -> tuple[tuple[str, ...], ...]:
    parser = _Parser(text, start, end, budget.limits.max_filter_depth)
    paths: list[tuple[str, ...]] = []
    while True:
        paths.append(parser.path("expected a property name"))
        separator = parser.advance()
        if separator.kind is Kind.EOF:
            return tuple(paths)
        if separator.kind is not Kind.COMMA:
            raise _unexpected(separator, "expected '/', ',' or end of input")


def _parse_expand(text: str, start: int, end: int, level: int, budget: _Budget) -> tuple[ExpandItem, ...]:
    """The items of an `$expand` at `level` (the levels of the expansions it is nested in)."""
    return tuple(
        _parse_expand_item(text, item_start, item_end, level, budget)
        for item_start, item_end in _split_top_level(text, ",", start, end)
    )


def _parse_expand_item(text: str, start: int, end: int, level: int, budget: _Budget) -> ExpandItem:
    """`Path` or `Path($option=value;...)` in text[start:end]."""
    start, end = _strip(text, start, end)
    paren = text.find("(", start, end)
    path_end = end if paren < 0 else paren
    parser = _Parser(text, start, path_end, budget.limits.max_filter_depth)
    path = parser.path("expected a navigation property")
    rest = parser.advance()
    if rest.kind is not Kind.EOF:
        raise _unexpected(rest, "expected '/', '(' or ','")
    # Checked here, before the nested options are parsed and long before any query: each level
    # is a query per page of the level above, so the work grows with every level and every item.
    level += len(path)
    limits = budget.limits
    if level > limits.max_expand_depth:
        raise QuerySyntaxError(
            "nested too deeply",
            start,
            hint=f"the limit is {limits.max_expand_depth} levels",
        )
    budget.expanded += len(path)
    if budget.expanded > limits.max_expand_breadth:
        raise QuerySyntaxError(
            "too many navigation properties expanded",
            start,
            hint=f"the limit is {limits.max_expand_breadth} in one request, all levels together",
        )
    if paren < 0:
        return ExpandItem(path, QueryOptions())
    close = _matching_paren(text, paren, end)
    if close != end - 1:
        raise QuerySyntaxError(
            f"unexpected text {show(text[close + 1 : end])} after ')'", close + 1, hint="expected ','"
        )
    options: list[_RawOption] = []
    for option_start, option_end in _split_top_level(text, ";", paren + 1, close):
        a, b = _strip(text, option_start, option_end)
        equals = text.find("=", a, b)
        if a == b or text[a] != "$" or equals < 0:
            raise QuerySyntaxError(
                f"malformed expand option {show(text[a:b])}", a, hint="expected $option=value, e.g. $top=3"
            )
        options.append(_RawOption(text[a:equals].strip(), text, equals + 1, b, a))
    return ExpandItem(path, _build_options(options, level, budget, expanded=path))


def _split_top_level(text: str, separator: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of text[start:end] between `separator`s outside quotes and parentheses."""
    spans: list[tuple[int, int]] = []
    open_parens: list[int] = []
    quote_at: int | None = None
    span_start = start
    for i in range(start, end):
        ch = text[i]
        if quote_at is not None:
            if ch == "'":  # a doubled '' closes and reopens, which comes to the same
                quote_at = None
        elif ch == "'":
            quote_at = i
        elif ch == "(":
            open_parens.append(i)
        elif ch == ")":
            if not open_parens:
                raise QuerySyntaxError("unbalanced ')'", i)
            open_parens.pop()
        elif ch == separator and not open_parens:
            spans.append((span_start, i))
            span_start = i + 1
    if quote_at is not None:
        raise QuerySyntaxError("unterminated string", quote_at, hint="expected a closing quote")
    if open_parens:
        raise QuerySyntaxError("unclosed '('", open_parens[-1], hint="expected ')'")
    spans.append((span_start, end))
    return spans


def _matching_paren(text: str, open_at: int, end: int) -> int:
    """Offset of the ')' closing the '(' at `open_at` (the span is known to be balanced)."""
    depth = 0
    in_quote = False
    for i in range(open_at, end):
        ch = text[i]
        if ch == "'":
            in_quote = not in_quote
        elif not in_quote and ch in "()":
            depth += 1 if ch == "(" else -1
            if depth == 0:
                return i
    raise AssertionError("unbalanced span")  # _split_top_level has checked the balance


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _non_negative_int(text: str, start: int, end: int, level: int, budget: _Budget) -> int:
    a, b = _strip(text, start, end)
    value = text[a:b]
    if not (value.isascii() and value.isdigit()):
        raise QuerySyntaxError(f"invalid value {show(value)}", a, hint="expected a non-negative integer")
    if len(value.lstrip("0")) > 19 or int(value) > _INT64_MAX:
        raise QuerySyntaxError(f"value {show(value)} is out of range", a, hint="integers must fit in 64 bits")
    return int(value)


def _skip(text: str, start: int, end: int, level: int, budget: _Budget) -> int:
    value = _non_negative_int(text, start, end, level, budget)
    limit = budget.limits.max_offset
    if value > limit:
        a, _ = _strip(text, start, end)
        raise QuerySyntaxError(f"value {value} is out of range", a, hint=f"the limit is {limit}")
    return value


def _boolean(text: str, start: int, end: int, level: int, budget: _Budget) -> bool:
    a, b = _strip(text, start, end)
    value = text[a:b].lower()
    if value not in ("true", "false"):
        raise QuerySyntaxError(f"invalid value {show(text[a:b])}", a, hint="expected true or false")
    return value == "true"


_RESULT_FORMATS = {"dataarray": "dataArray", "geojson": "GeoJSON", "csv": "CSV"}


def _result_format(text: str, start: int, end: int, level: int, budget: _Budget) -> str:
    a, b = _strip(text, start, end)
    value = _RESULT_FORMATS.get(text[a:b].lower())
    if value is None:
        raise QuerySyntaxError(
            f"unsupported format {show(text[a:b])}", a, hint="expected dataArray, GeoJSON or CSV"
        )
    return value


# --- assembling QueryOptions ---------------------------------------------------------------------------

#: Option name -> (QueryOptions field, parser of text[start:end] at an $expand level, within a budget).
_OPTIONS: dict[str, tuple[str, Callable[[str, int, int, int, _Budget], Any]]] = {
    "$filter": ("filter", _parse_filter),
    "$orderby": ("orderby", _parse_orderby),
    "$select": ("select", _parse_select),
    "$expand": ("expand", _parse_expand),
    "$top": ("top", _non_negative_int),
    "$skip": ("skip", _skip),
    "$count": ("count", _boolean),
    "$resultFormat": ("result_format", _result_format),
}
_OPTION_BY_LOWER_NAME = {name.lower(): name for name in _OPTIONS}
_NOT_IN_EXPAND = frozenset({"$resultFormat"})


@dataclass(frozen=True, slots=True)
class _RawOption:
    """An option as written: `name` and its value text[start:end]; `name_pos` is None at top level."""

    name: str
    text: str
    start: int
    end: int
    name_pos: int | None


def _build_options(
    options: list[_RawOption], level: int, budget: _Budget, expanded: tuple[str, ...] | None
) -> QueryOptions:
    """Parse each option's value; `expanded` is the $expand path they belong to (None: the request)."""
    allowed = [name for name in _OPTIONS if expanded is None or name not in _NOT_IN_EXPAND]
    fields: dict[str, Any] = {}
    for option in options:
        name = _OPTION_BY_LOWER_NAME.get(option.name.lower())
        if name is None or name not in allowed:
            hint = f"expected one of {', '.join(allowed)}"
            if expanded is None:
                raise QuerySyntaxError("unknown query option", option=option.name, hint=hint)
            raise QuerySyntaxError(
                f"unknown option {show(option.name)} in $expand", option.name_pos, hint=hint
            )
        field_name, parse = _OPTIONS[name]
        if field_name in fields:
            if expanded is None:
                raise QuerySyntaxError("given more than once (option names match in any case)", option=name)
            raise QuerySyntaxError(f"{name} given more than once", option.name_pos)
        try:
            if expanded is None:
                _check_length(option.text, budget.limits.max_filter_length)
            fields[field_name] = parse(option.text, option.start, option.end, level, budget)
        except QuerySyntaxError as exc:
            if expanded is None:
                exc.option = name
            else:
                exc.add_expand_context(name, expanded)
            raise
        except RecursionError:  # a safety net only: the limits keep the stack far from Python's
            if expanded is None:
                raise QuerySyntaxError("nested too deeply", option=name) from None
            raise
    return QueryOptions(**fields)


def _check_length(text: str, limit: int) -> None:
    if len(text) > limit:
        raise QuerySyntaxError(
            f"value too long ({len(text)} characters)",
            hint=f"the limit is {limit} characters",
        )


def _parse_one(name: str, text: str, limits: QueryLimits) -> Any:
    options = _build_options([_RawOption(name, text, 0, len(text), None)], 0, _Budget(limits), None)
    return getattr(options, _OPTIONS[name][0])


# --- public API --------------------------------------------------------------------------------------


def parse_filter(text: str, limits: QueryLimits = DEFAULT_LIMITS) -> Node:
    """Parse a `$filter` value, e.g. `Datastream/Thing/name eq 'x' and result gt 3`."""
    return _parse_one("$filter", text, limits)


def parse_orderby(text: str, limits: QueryLimits = DEFAULT_LIMITS) -> tuple[OrderBy, ...]:
    """Parse a `$orderby` value: comma-separated expressions, each optionally followed by asc or desc."""
    return _parse_one("$orderby", text, limits)


def parse_select(text: str, limits: QueryLimits = DEFAULT_LIMITS) -> tuple[tuple[str, ...], ...]:
    """Parse a `$select` value: comma-separated paths such as `id,name,properties/owner`."""
    return _parse_one("$select", text, limits)


def parse_expand(text: str, limits: QueryLimits = DEFAULT_LIMITS) -> tuple[ExpandItem, ...]:
    """Parse a `$expand` value: `Datastreams($top=3;$expand=Observations($top=2)),Locations`, or
    the short form `Datastreams/Observations`.  Nested options are separated by `;`."""
    return _parse_one("$expand", text, limits)


def parse_query_options(params: Mapping[str, str], limits: QueryLimits = DEFAULT_LIMITS) -> QueryOptions:
    """Parse all query options of a request.

    Keys that do not start with `$` are not query options and are ignored; unknown `$` keys are errors,
    so a typo such as `$fliter` is not silently ignored.  Option names match in any case.
    """
    options = [
        _RawOption(key, value, 0, len(value), None) for key, value in params.items() if key.startswith("$")
    ]
    return _build_options(options, 0, _Budget(limits), None)
