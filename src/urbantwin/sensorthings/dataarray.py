"""The dataArray extension: many Observations in one request (`POST /CreateObservations`).

Rows are checked one by one; a bad row answers "error" in its place of the response, as the
standard specifies, and the good rows are stored, all in the request's one transaction. The rows
of a Datastream are inserted with one multi-row statement, not row by row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from urbantwin.errors import BadRequest, PlatformError
from urbantwin.sensorthings.model import OBSERVATION
from urbantwin.sensorthings.paths import MAX_ID
from urbantwin.sensorthings.values import property_columns
from urbantwin.sensorthings.write import Writer
from urbantwin.store import schema

_COMPONENTS = {
    "phenomenonTime",
    "resultTime",
    "result",
    "resultQuality",
    "validTime",
    "parameters",
    "FeatureOfInterest/id",
    "FeatureOfInterest/@iot.id",
}


def _datastream_id(block: dict[str, Any], index: int) -> int:
    reference = block.get("Datastream")
    if not isinstance(reference, dict) or "@iot.id" not in reference:
        raise BadRequest(f'CreateObservations[{index}]: needs "Datastream": {{"@iot.id": …}}')
    raw = reference["@iot.id"]
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        raise BadRequest(f"CreateObservations[{index}]: the Datastream @iot.id must be an integer")
    ident = int(raw)
    if ident > MAX_ID:
        raise BadRequest(f"CreateObservations[{index}]: no Datastream with @iot.id {ident}")
    return ident


def create_observations(writer: Writer, body: Any, base: str) -> list[str]:
    """Store the rows of every block; answer one selfLink (or "error") per row, in order."""
    if not isinstance(body, list):
        raise BadRequest("CreateObservations: the body must be a JSON array of dataArray blocks")
    connection = writer.connection
    ds, foi = schema.datastreams, schema.features_of_interest
    answers: list[str] = []
    for index, block in enumerate(body):
        if not isinstance(block, dict):
            raise BadRequest(f"CreateObservations[{index}]: expected an object")
        datastream = _datastream_id(block, index)
        components = block.get("components")
        rows = block.get("dataArray")
        if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
            raise BadRequest(f"CreateObservations[{index}]: components must be an array of names")
        unknown = [c for c in components if c not in _COMPONENTS]
        if unknown:
            raise BadRequest(f"CreateObservations[{index}]: unknown component(s) {', '.join(unknown)}")
        if "result" not in components:
            raise BadRequest(f"CreateObservations[{index}]: the components must include result")
        if not isinstance(rows, list):
            raise BadRequest(f"CreateObservations[{index}]: dataArray must be an array of rows")
        if connection.execute(select(ds.c.id).where(ds.c.id == datastream)).first() is None:
            raise BadRequest(f"CreateObservations[{index}]: no Datastream with @iot.id {datastream}")
        feature_column = next(
            (i for i, c in enumerate(components) if c.startswith("FeatureOfInterest/")), None
        )
        default_feature: int | None = None
        known_features: set[int] = set()
        prepared: list[dict[str, Any] | None] = []
        for row in rows:
            try:
                columns = _row_columns(components, row, feature_column)
            except PlatformError:
                prepared.append(None)
                continue
            feature = columns.pop("_feature", None)
            if feature is None:
                if default_feature is None:
                    default_feature = writer._feature_from_location(datastream)
                feature = default_feature
            elif feature not in known_features:
                if connection.execute(select(foi.c.id).where(foi.c.id == feature)).first() is None:
                    prepared.append(None)
                    continue
                known_features.add(feature)
            columns["datastream_id"] = datastream
            columns["feature_of_interest_id"] = feature
            prepared.append(columns)
        good = [c for c in prepared if c is not None]
        ids = _insert_many(connection, good)
        for columns in good:
            writer.summary.add(
                datastream,
                columns["phenomenon_time_start"],
                columns["phenomenon_time_end"],
                columns["result_time"],
                columns["feature_of_interest_id"],
            )
        id_iter = iter(ids)
        prefix = f"{base}/Observations("
        for columns in prepared:
            answers.append("error" if columns is None else f"{prefix}{next(id_iter)})")
    return answers


_ALL_COLUMNS = (
    "phenomenon_time_start",
    "phenomenon_time_end",
    "result_time",
    "result_type",
    "result_number",
    "result_string",
    "result_json",
    "result_quality",
    "valid_time_start",
    "valid_time_end",
    "parameters",
)


def _row_columns(components: list[str], row: Any, feature_column: int | None) -> dict[str, Any]:
    if not isinstance(row, list) or len(row) != len(components):
        raise BadRequest("a dataArray row must have one value per component")
    columns: dict[str, Any] = dict.fromkeys(_ALL_COLUMNS)
    for i, (name, value) in enumerate(zip(components, row, strict=True)):
        if i == feature_column:
            if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
                raise BadRequest("FeatureOfInterest/id must be an integer")
            columns["_feature"] = int(value)
            continue
        prop = OBSERVATION.properties[name]
        columns.update(property_columns(OBSERVATION, prop, value))
    if columns["phenomenon_time_start"] is None:
        columns["phenomenon_time_start"] = datetime.now(UTC)
    return columns


def _insert_many(connection: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in order and return their ids in the same order."""
    if not rows:
        return []
    table = schema.observations
    result = connection.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        rows,
    )
    return [r[0] for r in result]
