"""Reading entities: collections with paging, single entities, properties, `$ref` and `$expand`.

Works on a SQLAlchemy connection and returns plain JSON-ready values; knows nothing of HTTP.
Expanded relations are fetched with one query per relation and page (never one per parent row),
limited per parent with a window function when a page has several parents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import BigInteger, Connection, and_, cast, exists, func, select
from sqlalchemy.sql import ColumnElement, Select

from urbantwin.errors import BadRequest, NotFound
from urbantwin.sensorthings import sqljson
from urbantwin.sensorthings.model import DATASTREAM, ENTITY_TYPES, OBSERVATION, EntityType, Relation
from urbantwin.sensorthings.paths import ResourcePath, Step, steps_text
from urbantwin.sensorthings.query.ast import ExpandItem, QueryOptions
from urbantwin.sensorthings.query.compiler import FilterCompiler
from urbantwin.sensorthings.resultformat import data_array
from urbantwin.sensorthings.serialize import RowWriter, property_value
from urbantwin.sensorthings.visibility import ALL, Visibility, carries_dataset, dataset_column
from urbantwin.store.observation_counts import observation_counts


def _kept_count(
    entity: EntityType, steps: tuple[Step, ...], options: QueryOptions, visibility: Visibility
) -> Select | None:
    """The count of Observations from the counts the database keeps per Datastream
    (`store/observation_counts.py`), for `/Observations` and `…/Datastreams(…)/Observations` without
    `$filter`; None where the rows must be counted."""
    if entity is not OBSERVATION or options.filter is not None:
        return None
    datastreams = DATASTREAM.table.alias()
    if len(steps) <= 1:
        conditions = visibility.conditions(DATASTREAM, datastreams)
    elif steps[-2].entity is DATASTREAM:
        conditions = [path_condition(steps[:-1], datastreams, visibility)]
    else:
        return None  # e.g. FeaturesOfInterest(1)/Observations: counted from the rows
    counts = observation_counts
    # A sum of BIGINTs is NUMERIC on PostgreSQL: cast back, so the count is an integer.
    total = select(cast(func.coalesce(func.sum(counts.c.observations), 0), BigInteger))
    if not conditions:
        return total
    return total.where(counts.c.datastream_id.in_(select(datastreams.c.id).where(*conditions)))


@dataclass(frozen=True)
class Paging:
    default_top: int
    max_top: int


def _columns(entity: EntityType, table: Any) -> list[Any]:
    return entity.columns(table)


def path_condition(steps: tuple[Step, ...], alias: Any, visibility: Visibility = ALL) -> Any:
    """Restrict rows of the last step's entity (as `alias`) to those reachable along `steps` and
    visible, through parents that are visible too."""
    conditions = [*visibility.conditions(steps[-1].entity, alias)]
    last = steps[-1]
    if last.id is not None:
        conditions.append(alias.c.id == last.id)
    if len(steps) > 1 and steps[-2].id is not None:
        # The parent is addressed by id: compare with it directly, so the planner sees
        # `datastream_id = 1` and walks the (datastream, time) index; the rest of the chain,
        # if any, is one uncorrelated EXISTS.
        parent = steps[-2]
        relation = last.via
        assert relation is not None
        parent_table = parent.entity.table
        if relation.fk:
            conditions.append(
                alias.c.id.in_(select(parent_table.c[relation.fk]).where(parent_table.c.id == parent.id))
            )
        elif relation.reverse_fk:
            conditions.append(alias.c[relation.reverse_fk] == parent.id)
        else:
            link = relation.link
            assert link is not None and relation.link_self and relation.link_target
            conditions.append(
                alias.c.id.in_(
                    select(link.c[relation.link_target]).where(link.c[relation.link_self] == parent.id)
                )
            )
        if len(steps) > 2 or not visibility.unrestricted:
            parent_alias = parent.entity.table.alias()
            conditions.append(
                exists(select(parent_alias.c.id).where(path_condition(steps[:-1], parent_alias, visibility)))
            )
    elif len(steps) > 1:
        parent = steps[-2]
        parent_alias = parent.entity.table.alias()
        assert last.via is not None
        parent_where = path_condition(steps[:-1], parent_alias, visibility)
        parent_query = select(parent_alias.c.id).where(parent_where)
        relation = last.via
        if relation.fk:
            conditions.append(alias.c.id.in_(select(parent_alias.c[relation.fk]).where(parent_where)))
        elif relation.reverse_fk:
            conditions.append(alias.c[relation.reverse_fk].in_(parent_query))
        else:
            link = relation.link
            assert link is not None and relation.link_self and relation.link_target
            conditions.append(
                alias.c.id.in_(
                    select(link.c[relation.link_target]).where(link.c[relation.link_self].in_(parent_query))
                )
            )
    return and_(*conditions) if conditions else None


def check_options(entity: EntityType, options: QueryOptions, now: datetime | None = None) -> None:
    """Check `$select` and `$expand` (with the options inside) against the model before reading.

    An unknown name in `$select` was ignored (`$select=foo` gave empty objects), and `$expand` was
    only checked for the rows found: the same request answered 200 on an empty collection and 400
    on a full one. Compiling the nested `$filter`/`$orderby` here raises their errors up front too.
    """
    for selected in options.select or ():
        name = selected[0]
        if name not in _SELECTABLE and entity.property(name) is None and name not in entity.relations:
            raise BadRequest(f"$select: {entity.name} has no property {name!r}")
    for item in options.expand:
        target = entity
        for segment in item.path:
            relation = target.relations.get(segment)
            if relation is None:
                raise BadRequest(f"$expand: {target.name} has no relation {segment!r}")
            target = ENTITY_TYPES[relation.target]
        compiler = FilterCompiler(target, target.table.alias(), now)
        if item.options.filter is not None:
            compiler.predicate(item.options.filter)
        compiler.order_by(item.options.orderby)
        check_options(target, item.options, now)


_MAX_ROW = 2**63 - 1

#: `$select` names that are no property of the model.
_SELECTABLE = frozenset({"id", "@iot.id", "@iot.selfLink"})


class Reader:
    def __init__(
        self,
        connection: Connection,
        base: str,
        paging: Paging,
        now: datetime | None = None,
        visibility: Visibility = ALL,
    ) -> None:
        self.connection = connection
        self.base = base
        self.paging = paging
        self.now = now
        self.visibility = visibility
        #: The dataset of the entity a path starts at, once a read has checked that entity
        #: (`_check_parents`) or read it (`_single`); the service counts the read against it
        #: without asking again.
        self.first_dataset: str | None = None
        self.first_dataset_read = False

    # --- entry points ---------------------------------------------------------------------------

    def get(self, path: ResourcePath, options: QueryOptions, query_string: str = "") -> Any:
        """The JSON answer for GET on `path` with `options`."""
        if not path.ref and path.property_name is None:
            check_options(path.target.entity, options, self.now)
        self._check_parents(path)
        if path.ref:
            return self._refs(path, options, query_string)
        if path.property_name is not None:
            return self._property(path)
        if path.is_collection:
            return self.collection(
                path.target.entity, path.steps, options, query_string, self._path_url(path)
            )
        row = self._single(path.target.entity, path.steps)
        if row is None:
            raise NotFound(f"no {path.target.entity.name} at {self._path_text(path)}")
        writer = RowWriter(path.target.entity, self.base, options.select)
        entity_json = writer(row)
        self._expand(path.target.entity, [row], [entity_json], options.expand)
        return entity_json

    def collection(
        self,
        entity: EntityType,
        steps: tuple[Step, ...],
        options: QueryOptions,
        query_string: str,
        url: str,
    ) -> dict[str, Any]:
        table = entity.table
        compiler = FilterCompiler(entity, table, self.now, self.visibility)
        if steps:
            where = [w for w in [path_condition(steps, table, self.visibility)] if w is not None]
        else:
            where = self.visibility.conditions(entity, table)
        if options.filter is not None:
            where.append(compiler.predicate(options.filter))
        order = _ordering(compiler, options, table)
        top = self._top(options.top)
        as_arrays = options.result_format == "dataArray"
        in_database = not (options.expand or as_arrays) and sqljson.supports(entity, options.select)
        columns = (
            [sqljson.row_json(entity, table, self.base, options.select)]
            if in_database
            else _columns(entity, table)
        )
        query: Select = (
            select(*columns)
            .select_from(compiler.from_clause())
            .where(*where)
            .order_by(*order)
            .limit(top + 1)
            .offset(options.skip)
        )
        result = self.connection.execute(query)
        out: dict[str, Any] = {}
        if in_database:
            # Each row arrives as its JSON text; it is embedded in the answer as it is.
            texts = result.scalars().all()
            more = len(texts) > top
            values: list[Any] = [orjson.Fragment(text) for text in texts[:top]]
        else:
            rows = _rows(result)
            more = len(rows) > top
            rows = rows[:top]
            if as_arrays:
                values = data_array(entity, rows, options.select, self.base)
            else:
                writer = RowWriter(entity, self.base, options.select)
                values = [writer(r) for r in rows]
                self._expand(entity, rows, values, options.expand)
        if options.count:
            count_query = _kept_count(entity, steps, options, self.visibility)
            if count_query is None:
                count_query = select(func.count()).select_from(compiler.from_clause()).where(*where)
            out["@iot.count"] = self.connection.execute(count_query).scalar_one()
        if more and top > 0:
            out["@iot.nextLink"] = next_link(url, query_string, options.skip + top, top)
        out["value"] = values
        return out

    # --- helpers --------------------------------------------------------------------------------

    def _top(self, top: int | None) -> int:
        if top is None:
            return self.paging.default_top
        return min(top, self.paging.max_top)

    def _single(self, entity: EntityType, steps: tuple[Step, ...]) -> dict[str, Any] | None:
        table = entity.table
        condition = path_condition(steps, table, self.visibility)
        query = select(*_columns(entity, table)).where(condition).limit(2)
        rows = _rows(self.connection.execute(query))
        if rows and len(steps) == 1 and carries_dataset(entity):
            # The entity the path starts at is this row: its dataset is known without asking again.
            self.first_dataset, self.first_dataset_read = rows[0]["dataset_id"], True
        return rows[0] if rows else None

    def _check_parents(self, path: ResourcePath) -> None:
        """A path through an entity that does not exist (or is not related) answers 404."""
        steps = path.steps
        for end in range(1, len(steps)):
            prefix = steps[:end]
            if prefix[-1].is_collection:
                continue
            entity = prefix[-1].entity
            columns: list[ColumnElement[Any]] = [entity.table.c.id]
            if end == 1:
                # The first entity's dataset comes along: the read is counted against it.
                columns.append(dataset_column(entity, entity.table))
            exists = self.connection.execute(
                select(*columns).where(path_condition(prefix, entity.table, self.visibility)).limit(1)
            ).first()
            if exists is None:
                raise NotFound(f"no {entity.name} at {steps_text(prefix)}")
            if end == 1:
                self.first_dataset, self.first_dataset_read = exists[1], True

    def _property(self, path: ResourcePath) -> Any:
        entity = path.target.entity
        if path.target.is_collection:
            raise BadRequest("a property can be addressed on one entity only, not on a collection")
        row = self._single(entity, path.steps)
        if row is None:
            raise NotFound(f"no {entity.name} at {self._path_text(path)}")
        prop = entity.property(path.property_name or "")
        assert prop is not None
        value = property_value(prop, row)
        for key in path.property_keys:
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isascii() and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                raise NotFound(f"{entity.name}/{path.property_name} has no {'/'.join(path.property_keys)}")
        if path.value:
            return RawValue(value)
        name = path.property_keys[-1] if path.property_keys else path.property_name
        return {name: value}

    def _refs(self, path: ResourcePath, options: QueryOptions, query_string: str) -> Any:
        entity = path.target.entity
        ref_options = replace(options, select=(("@iot.selfLink",),), expand=())
        if path.target.is_collection:
            page = self.collection(
                entity, path.steps, ref_options, query_string, self._path_url(path) + "/$ref"
            )
            return page
        row = self._single(entity, path.steps)
        if row is None:
            raise NotFound(f"no {entity.name} at {self._path_text(path)}")
        return {"@iot.selfLink": f"{self.base}/{entity.set_name}({row['id']})"}

    def _path_url(self, path: ResourcePath) -> str:
        return self.base + "/" + self._path_text(path)

    def _path_text(self, path: ResourcePath) -> str:
        return steps_text(path.steps)

    # --- $expand --------------------------------------------------------------------------------

    def _expand(
        self,
        entity: EntityType,
        rows: list[dict[str, Any]],
        values: list[dict[str, Any]],
        items: tuple[ExpandItem, ...],
    ) -> None:
        if not items or not rows:
            return
        # `Datastreams($top=2),Datastreams/Thing`: one expansion of Datastreams, with Thing inside.
        merged: dict[str, QueryOptions] = {}
        for item in items:
            name = item.path[0]
            if name not in entity.relations:
                raise BadRequest(f"$expand: {entity.name} has no relation {name!r}")
            current = merged.get(name, QueryOptions())
            if len(item.path) == 1:
                current = replace(item.options, expand=current.expand + item.options.expand)
            else:
                nested = ExpandItem(item.path[1:], item.options)
                current = replace(current, expand=(*current.expand, nested))
            merged[name] = current
        for name, options in merged.items():
            self._expand_relation(entity, entity.relations[name], rows, values, options)

    def _expand_relation(
        self,
        entity: EntityType,
        relation: Relation,
        rows: list[dict[str, Any]],
        values: list[dict[str, Any]],
        options: QueryOptions,
    ) -> None:
        target = ENTITY_TYPES[relation.target]
        table = target.table.alias()
        compiler = FilterCompiler(target, table, self.now, self.visibility)
        where = self.visibility.conditions(target, table)
        if options.filter is not None:
            where.append(compiler.predicate(options.filter))
        writer = RowWriter(target, self.base, options.select)
        if not relation.many:
            assert relation.fk is not None  # a to-one relation has its foreign key
            keys = {r[relation.fk] for r in rows if r.get(relation.fk) is not None}
            found: dict[int, dict[str, Any]] = {}
            if keys:
                query = (
                    select(*_columns(target, table))
                    .select_from(compiler.from_clause())
                    .where(table.c.id.in_(keys), *where)
                )
                found = {r["id"]: r for r in _rows(self.connection.execute(query))}
            child_rows, child_values = [], []
            for row, value in zip(rows, values, strict=True):
                child = found.get(row.get(relation.fk))  # type: ignore[arg-type]
                if child is None:
                    value[relation.name] = None
                    continue
                child_json = writer(child)
                value[relation.name] = child_json
                child_rows.append(child)
                child_values.append(child_json)
            self._expand(target, child_rows, child_values, options.expand)
            return
        parent_ids = [r["id"] for r in rows]
        # The order first: a relation path in it (`$orderby=Sensor/name`) adds a join to the FROM
        # clause, which was otherwise built without it (an SQL error, a 500).
        order = _ordering(compiler, options, table)
        if relation.reverse_fk:
            parent_key = table.c[relation.reverse_fk]
            source = compiler.from_clause()
        else:
            link = relation.link
            assert link is not None and relation.link_self and relation.link_target
            parent_key = link.c[relation.link_self]
            source = compiler.from_clause().join(link, link.c[relation.link_target] == table.c.id)
        where.append(parent_key.in_(parent_ids))
        top = self._top(options.top)
        columns = [*_columns(target, table), parent_key.label("ut_parent")]
        if len(parent_ids) == 1:
            query = (
                select(*columns)
                .select_from(source)
                .where(*where)
                .order_by(*order)
                .limit(top + 1)
                .offset(options.skip)
            )
        else:
            number = func.row_number().over(partition_by=parent_key, order_by=order).label("ut_row")
            inner = select(*columns, number).select_from(source).where(*where).subquery()
            query = (
                select(inner)
                # Capped at 2**63 - 1: a larger bound (from a huge $skip) does not fit a SQL integer.
                .where(inner.c.ut_row > options.skip, inner.c.ut_row <= min(options.skip + top + 1, _MAX_ROW))
                .order_by(inner.c.ut_parent, inner.c.ut_row)
            )
        by_parent: dict[int, list[dict[str, Any]]] = {pid: [] for pid in parent_ids}
        for r in _rows(self.connection.execute(query)):
            by_parent[r["ut_parent"]].append(r)
        counts: dict[int, int] = {}
        if options.count:
            count_query = (
                select(parent_key, func.count()).select_from(source).where(*where).group_by(parent_key)
            )
            counts = {k: n for k, n in self.connection.execute(count_query)}
        child_rows, child_values = [], []
        for row, value in zip(rows, values, strict=True):
            children = by_parent[row["id"]]
            if options.count:
                value[relation.name + "@iot.count"] = counts.get(row["id"], 0)
            if len(children) > top and top > 0:
                children = children[:top]
                own = f"{self.base}/{entity.set_name}({row['id']})/{relation.name}"
                value[relation.name + "@iot.nextLink"] = next_link(
                    own, _expand_query(options), options.skip + top, top
                )
            jsons = [writer(c) for c in children]
            value[relation.name] = jsons
            child_rows.extend(children)
            child_values.extend(jsons)
        self._expand(target, child_rows, child_values, options.expand)


def _rows(result: Any) -> list[dict[str, Any]]:
    """All rows of a result as dicts, fetched at once (iterating mappings fetches row by row)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _ordering(compiler: FilterCompiler, options: QueryOptions, table: Any) -> list[Any]:
    """The requested order, then the id as tie-breaker in the direction of the last key, so one
    index scan (e.g. datastream, time, id backwards) yields the page."""
    descending = bool(options.orderby) and options.orderby[-1].descending
    return [*compiler.order_by(options.orderby), table.c.id.desc() if descending else table.c.id.asc()]


class RawValue:
    """A property's value for `$value`: written as plain text, not JSON (objects and arrays stay
    JSON, as they have no other text)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def is_json(self) -> bool:
        return isinstance(self.value, dict | list)

    @property
    def text(self) -> str:
        """The value as plain text: a string as it is, a boolean `true`/`false`, and null the
        literal `null` (an empty body would read as the empty string, which is another value)."""
        if self.value is None:
            return "null"
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(self.value)


def next_link(url: str, query_string: str, skip: int, top: int) -> str:
    """`url` with the same query options, `$skip` and `$top` replaced."""
    kept = []
    for part in query_string.split("&") if query_string else []:
        key = part.split("=", 1)[0]
        if key in ("$skip", "%24skip", "$top", "%24top"):
            continue
        kept.append(part)
    kept.append(f"$top={top}")
    kept.append(f"$skip={skip}")
    return url + "?" + "&".join(kept)


def _expand_query(options: QueryOptions) -> str:
    """Query options of an expanded relation, for its nextLink (filter, order and select kept)."""
    from urbantwin.sensorthings.query.render import render_options

    return "&".join(f"{k}={quote(v, safe='')}" for k, v in render_options(options).items())
