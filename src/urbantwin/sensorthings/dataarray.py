"""The dataArray extension: many Observations in one request (`POST /CreateObservations`).

Rows are checked one by one; a bad row answers "error" in its place of the response, as the
standard specifies, and the good rows are stored, all in the request's one transaction, through
the store's bulk insert (COPY on PostgreSQL) rather than row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from urbantwin.errors import BadRequest, PlatformError
from urbantwin.sensorthings.model import FEATURE_OF_INTEREST, OBSERVATION
from urbantwin.sensorthings.record import CREATED
from urbantwin.sensorthings.values import (
    entity_id,
    parse_interval,
    parse_time,
    parse_time_or_interval,
    result_columns,
)
from urbantwin.sensorthings.write import Writer
from urbantwin.store.bulk import OBSERVATION_COLUMNS, insert_observations

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
_POSITION = {name: i for i, name in enumerate(OBSERVATION_COLUMNS)}


def _datastream_id(block: dict[str, Any], index: int) -> int:
    reference = block.get("Datastream")
    if not isinstance(reference, dict) or "@iot.id" not in reference:
        raise BadRequest(f'CreateObservations[{index}]: needs "Datastream": {{"@iot.id": …}}')
    return entity_id(reference["@iot.id"], f"CreateObservations[{index}] Datastream")


def _object(value: Any, where: str) -> Any:
    if value is not None and not isinstance(value, dict):
        raise BadRequest(f"{where}: expected a JSON object")
    return value


def _setters(components: list[str]) -> list[Callable[[list[Any], Any], None]]:
    """One function per component that puts its value into a row of `OBSERVATION_COLUMNS`."""

    def phenomenon(row: list[Any], value: Any) -> None:
        row[0], row[1] = parse_time_or_interval(value, "phenomenonTime")

    def result_time(row: list[Any], value: Any) -> None:
        row[2] = None if value is None else parse_time(value, "resultTime")

    def result(row: list[Any], value: Any) -> None:
        columns = result_columns(value)
        row[3], row[4], row[5], row[6] = (
            columns["result_type"],
            columns["result_number"],
            columns["result_string"],
            columns["result_json"],
        )

    def quality(row: list[Any], value: Any) -> None:
        row[7] = value

    def valid_time(row: list[Any], value: Any) -> None:
        row[8], row[9] = (None, None) if value is None else parse_interval(value, "validTime")

    def parameters(row: list[Any], value: Any) -> None:
        row[10] = _object(value, "parameters")

    def feature(row: list[Any], value: Any) -> None:
        row[12] = entity_id(value, "FeatureOfInterest/id")

    table = {
        "phenomenonTime": phenomenon,
        "resultTime": result_time,
        "result": result,
        "resultQuality": quality,
        "validTime": valid_time,
        "parameters": parameters,
        "FeatureOfInterest/id": feature,
        "FeatureOfInterest/@iot.id": feature,
    }
    return [table[name] for name in components]


@dataclass
class _Block:
    """One validated dataArray block: its Datastream, how to read its rows, and its rows."""

    where: str
    datastream: int
    setters: list[Callable[[list[Any], Any], None]]
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
    return _Block(where, datastream, _setters(components), rows)


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
    prepared: list[list[Any] | None] = []
    for block in blocks:
        width = len(block.setters)
        for values in block.rows:
            if not isinstance(values, list) or len(values) != width:
                prepared.append(None)
                continue
            row: list[Any] = [
                now,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                block.datastream,
                None,
            ]
            try:
                for setter, value in zip(block.setters, values, strict=True):
                    setter(row, value)
            except PlatformError:
                prepared.append(None)
                continue
            feature = row[12]
            if feature is None:
                row[12] = defaults[block.datastream]
            elif feature not in known_features:
                if feature in missing_features or not writer.guard.visible(
                    connection, FEATURE_OF_INTEREST, feature
                ):
                    missing_features.add(feature)
                    prepared.append(None)
                    continue
                known_features.add(feature)
            prepared.append(row)
    good = [tuple(r) for r in prepared if r is not None]
    new_ids = list(insert_observations(connection, good))
    writer.record.add(CREATED, OBSERVATION.name, new_ids)
    ids = iter(new_ids)
    for datastream, feature in {(r[11], r[12]) for r in good}:
        writer.summary.add(datastream, feature)
    prefix = f"{base}/Observations("
    return ["error" if row is None else f"{prefix}{next(ids)})" for row in prepared]


def _needs_default(block: _Block) -> bool:
    """Whether a row of the block may lack a FeatureOfInterest (then its Thing's Location gives one)."""
    return not any(s.__name__ == "feature" for s in block.setters)
