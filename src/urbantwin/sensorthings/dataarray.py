"""The dataArray extension: many Observations in one request (`POST /CreateObservations`).

Every row is checked; a bad row answers "error" in its place of the response, as the standard
specifies, and the good rows are stored, all in the request's one transaction, through the store's
bulk insert (COPY on PostgreSQL) rather than row by row.

A block is checked a component (a column) at a time, with a fast path for the values nearly every
client sends (`…Z` instants, finite numbers, integer ids) and the exact checks of `values.py` for
anything else, so a row is accepted or refused exactly as before, at a fraction of the cost: the
per-row Python work, not the database, was what limited a dataArray's rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from urbantwin.errors import BadRequest, PlatformError
from urbantwin.sensorthings.model import FEATURE_OF_INTEREST, OBSERVATION
from urbantwin.sensorthings.paths import MAX_ID
from urbantwin.sensorthings.record import CREATED
from urbantwin.sensorthings.values import (
    entity_id,
    parse_interval,
    parse_time,
    parse_time_or_interval,
    result_columns,
)
from urbantwin.sensorthings.write import Writer
from urbantwin.store import schema
from urbantwin.store.bulk import OBSERVATION_COLUMNS, insert_observations
from urbantwin.times import FIRST_YEAR, LAST_YEAR

_FEATURE_COMPONENTS = ("FeatureOfInterest/id", "FeatureOfInterest/@iot.id")
_COMPONENTS = {
    "phenomenonTime",
    "resultTime",
    "result",
    "resultQuality",
    "validTime",
    "parameters",
    *_FEATURE_COMPONENTS,
}
_FROM_ISO = datetime.fromisoformat


def _datastream_id(block: dict[str, Any], index: int) -> int:
    reference = block.get("Datastream")
    if not isinstance(reference, dict) or "@iot.id" not in reference:
        raise BadRequest(f'CreateObservations[{index}]: needs "Datastream": {{"@iot.id": …}}')
    return entity_id(reference["@iot.id"], f"CreateObservations[{index}] Datastream")


def _object(value: Any, where: str) -> Any:
    if value is not None and not isinstance(value, dict):
        raise BadRequest(f"{where}: expected a JSON object")
    return value


#: Where a value that failed its check stands in a column until its row is dropped.
_BAD: Any = object()

#: A component's check of a whole column: takes the column's values (None in rows already bad),
#: whether each row is still good, and the columns of the batch to fill; a row whose value fails
#: the check is marked bad. The common values take a fast path; anything else the exact per-value
#: check of `values.py`, so what is accepted is the same, value for value.
Column = Callable[[list[Any], list[bool], dict[str, list[Any]]], None]


def _instant(value: Any, where: str) -> datetime:
    """`parse_time`, with the usual `…Z` or `+00:00` text read straight by `fromisoformat`."""
    if type(value) is str:
        try:
            moment = _FROM_ISO(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is UTC and FIRST_YEAR <= moment.year <= LAST_YEAR:
                return moment
    return parse_time(value, where)


def _checked(values: list[Any], good: list[bool], check: Callable[[Any], Any]) -> list[Any]:
    """`check` of every good value; a value it refuses marks its row bad."""
    out: list[Any] = []
    for index, value in enumerate(values):
        if not good[index]:
            out.append(_BAD)
            continue
        try:
            out.append(check(value))
        except PlatformError:
            good[index] = False
            out.append(_BAD)
    return out


def _phenomenon_time(values: list[Any], good: list[bool], columns: dict[str, list[Any]]) -> None:
    def check(value: Any) -> tuple[datetime, datetime | None]:
        if type(value) is str and "/" not in value:
            return _instant(value, "phenomenonTime"), None
        return parse_time_or_interval(value, "phenomenonTime")

    checked = _checked(values, good, check)
    columns["phenomenon_time_start"] = [_BAD if c is _BAD else c[0] for c in checked]
    columns["phenomenon_time_end"] = [_BAD if c is _BAD else c[1] for c in checked]


def _result_time(values: list[Any], good: list[bool], columns: dict[str, list[Any]]) -> None:
    columns["result_time"] = _checked(
        values, good, lambda value: None if value is None else _instant(value, "resultTime")
    )


def _result(values: list[Any], good: list[bool], columns: dict[str, list[Any]]) -> None:
    kinds: list[Any] = []
    numbers: list[Any] = []
    strings: list[Any] = []
    jsons: list[Any] = []
    for index, value in enumerate(values):
        if type(value) is float and value - value == 0.0:  # a finite number: the common case
            kinds.append(schema.RESULT_NUMBER)
            numbers.append(value)
            strings.append(None)
            jsons.append(None)
            continue
        try:
            typed = result_columns(value) if good[index] else None
        except PlatformError:
            typed = None
        if typed is None:
            good[index] = False
            kinds.append(_BAD)
            numbers.append(_BAD)
            strings.append(_BAD)
            jsons.append(_BAD)
            continue
        kinds.append(typed["result_type"])
        numbers.append(typed["result_number"])
        strings.append(typed["result_string"])
        jsons.append(typed["result_json"])
    columns.update(result_type=kinds, result_number=numbers, result_string=strings, result_json=jsons)


def _quality(values: list[Any], good: list[bool], columns: dict[str, list[Any]]) -> None:
    columns["result_quality"] = values


def _valid_time(values: list[Any], good: list[bool], columns: dict[str, list[Any]]) -> None:
    checked = _checked(
        values, good, lambda value: (None, None) if value is None else parse_interval(value, "validTime")
    )
    columns["valid_time_start"] = [_BAD if c is _BAD else c[0] for c in checked]
    columns["valid_time_end"] = [_BAD if c is _BAD else c[1] for c in checked]


def _parameters(values: list[Any], good: list[bool], columns: dict[str, list[Any]]) -> None:
    columns["parameters"] = _checked(values, good, lambda value: _object(value, "parameters"))


def _feature(values: list[Any], good: list[bool], columns: dict[str, list[Any]]) -> None:
    def check(value: Any) -> int:
        if type(value) is int and 0 <= value <= MAX_ID:
            return value
        return entity_id(value, "FeatureOfInterest/id")

    columns["feature_of_interest_id"] = _checked(values, good, check)


_COLUMNS: dict[str, Column] = {
    "phenomenonTime": _phenomenon_time,
    "resultTime": _result_time,
    "result": _result,
    "resultQuality": _quality,
    "validTime": _valid_time,
    "parameters": _parameters,
    "FeatureOfInterest/id": _feature,
    "FeatureOfInterest/@iot.id": _feature,
}


@dataclass
class _Block:
    """One validated dataArray block: its Datastream, its components and its rows."""

    where: str
    datastream: int
    components: list[str]
    rows: list[Any]


def _block(index: int, block: Any) -> _Block:
    where = f"CreateObservations[{index}]"
    if not isinstance(block, dict):
        raise BadRequest(f"{where}: expected an object")
    datastream = _datastream_id(block, index)
    components = block.get("components")
    rows = block.get("dataArray")
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        raise BadRequest(f"{where}: components must be an array of names")
    unknown = [c for c in components if c not in _COMPONENTS]
    if unknown:
        raise BadRequest(f"{where}: unknown component(s) {', '.join(unknown)}")
    if "result" not in components:
        raise BadRequest(f"{where}: the components must include result")
    if len(set(components)) != len(components):
        raise BadRequest(f"{where}: a component is given twice")
    if not isinstance(rows, list):
        raise BadRequest(f"{where}: dataArray must be an array of rows")
    return _Block(where, datastream, components, rows)


def _block_columns(block: _Block, now: datetime) -> tuple[list[bool], dict[str, list[Any]]]:
    """The block's rows checked column by column: whether each row is good, and the values of
    every column of `OBSERVATION_COLUMNS` (the feature None where the row names none)."""
    rows = block.rows
    width = len(block.components)
    good = [isinstance(row, list) and len(row) == width for row in rows]
    count = len(rows)
    columns: dict[str, list[Any]] = {name: [None] * count for name in OBSERVATION_COLUMNS}
    columns["phenomenon_time_start"] = [now] * count
    columns["datastream_id"] = [block.datastream] * count
    for position, component in enumerate(block.components):
        values = [row[position] if ok else None for row, ok in zip(rows, good, strict=True)]
        _COLUMNS[component](values, good, columns)
    return good, columns


def create_observations(writer: Writer, body: Any, base: str) -> list[str]:
    """Store the rows of every block; answer one selfLink (or "error") per row, in order.

    Every block is checked before anything is stored, the Datastreams of all blocks in one query,
    and the good rows of all blocks go into the store in one bulk insert: a request of many small
    blocks (the MQTT ingest sends one per Datastream) costs hardly more than one large block.
    """
    if not isinstance(body, list):
        raise BadRequest("CreateObservations: the body must be a JSON array of dataArray blocks")
    blocks = [_block(index, block) for index, block in enumerate(body)]
    wheres: dict[int, str] = {}
    for block in blocks:
        wheres.setdefault(block.datastream, block.where)
    writer.observations_targets(wheres)
    defaults = writer.default_features([b.datastream for b in blocks if _needs_default(b)])
    connection = writer.connection
    known_features: set[int] = set()
    missing_features: set[int] = set()
    now = datetime.now(UTC)
    stored: list[bool] = []
    batch: dict[str, list[Any]] = {name: [] for name in OBSERVATION_COLUMNS}
    for block in blocks:
        good, columns = _block_columns(block, now)
        features = columns["feature_of_interest_id"]
        for index, ok in enumerate(good):
            if not ok:
                continue
            feature = features[index]
            if feature is None:
                features[index] = defaults[block.datastream]
            elif feature not in known_features:
                if feature in missing_features or not writer.guard.visible(
                    connection, FEATURE_OF_INTEREST, feature
                ):
                    missing_features.add(feature)
                    good[index] = False
                    continue
                known_features.add(feature)
        stored += good
        if all(good):
            for name, values in columns.items():
                batch[name] += values
        else:
            for name, values in columns.items():
                batch[name] += [value for value, ok in zip(values, good, strict=True) if ok]
    new_ids = insert_observations(connection, batch)
    writer.record.add(CREATED, OBSERVATION.name, new_ids)
    for pair in set(zip(batch["datastream_id"], batch["feature_of_interest_id"], strict=True)):
        writer.summary.add(*pair)
    prefix = f"{base}/Observations("
    ids = iter(new_ids)
    return [f"{prefix}{next(ids)})" if ok else "error" for ok in stored]


def _needs_default(block: _Block) -> bool:
    """Whether a row of the block may lack a FeatureOfInterest (then its Thing's Location gives one)."""
    return not any(c in _FEATURE_COMPONENTS for c in block.components)
