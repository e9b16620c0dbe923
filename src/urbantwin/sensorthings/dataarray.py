"""The dataArray extension: many Observations in one request (`POST /CreateObservations`).

Every row is checked; a bad row answers "error" in its place of the response, as the standard
specifies, and the good rows are stored, all in the request's one transaction, through the store's
bulk insert (binary COPY on PostgreSQL) rather than row by row.

A block is checked a component (a column) at a time and its columns stay numpy arrays from the
check to the store: the times are read for all rows at once (`timecolumns`), numbers and ids are
checked by numpy, and only what is not of the common kinds (a text result, an interval, a time in
another form) takes the exact per-value checks of `values.py`, so a row is accepted or refused
exactly as by those checks, at a fraction of the cost: the per-row Python work, not the database,
was what limited a dataArray's rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, compress
from operator import itemgetter
from typing import Any

import numpy as np

from urbantwin.errors import BadRequest, PlatformError
from urbantwin.sensorthings.model import FEATURE_OF_INTEREST, OBSERVATION
from urbantwin.sensorthings.record import CREATED
from urbantwin.sensorthings.timecolumns import parse_instants, parse_instants_or_intervals
from urbantwin.sensorthings.values import entity_id, result_columns
from urbantwin.sensorthings.write import Writer
from urbantwin.store import schema
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
_TIME = "datetime64[us]"
_NOT_A_TIME = np.datetime64("NaT", "us")
#: The columns of text and JSON, kept as lists (None: null in every row); the others are arrays.
_LISTS = ("result_string", "result_json", "result_quality", "parameters")
_NO_FEATURE = -1


def _datastream_id(block: dict[str, Any], index: int) -> int:
    reference = block.get("Datastream")
    if not isinstance(reference, dict) or "@iot.id" not in reference:
        raise BadRequest(f'CreateObservations[{index}]: needs "Datastream": {{"@iot.id": …}}')
    return entity_id(reference["@iot.id"], f"CreateObservations[{index}] Datastream")


#: A component's check of a whole column: takes the column's values (whatever stands in rows
#: already bad), whether each row is still good (cleared where a value fails its check), and the
#: columns of the block to fill.
Column = Callable[[Any, np.ndarray, dict[str, Any]], None]


def _times(column: np.ndarray, given: np.ndarray | None = None) -> np.ndarray:
    """Microseconds since 1970 as times, NaT (null) where not `given`."""
    times = column.astype(_TIME)
    if given is not None:
        times[~given] = _NOT_A_TIME
    return times


def _nulls(values: Any) -> np.ndarray | None:
    """Where the values are null; None when none is."""
    if None not in values:
        return None
    return np.fromiter((value is None for value in values), bool, len(values))


def _phenomenon_time(values: Any, good: np.ndarray, columns: dict[str, Any]) -> None:
    read = parse_instants_or_intervals(values, "phenomenonTime")
    good &= read.good
    columns["phenomenon_time_start"] = _times(read.start)
    if read.has_end.any():
        columns["phenomenon_time_end"] = _times(read.end, read.has_end)


def _result_time(values: Any, good: np.ndarray, columns: dict[str, Any]) -> None:
    nulls = _nulls(values)
    if nulls is not None and nulls.all():
        return
    read = parse_instants(values, "resultTime")
    good &= read.good if nulls is None else read.good | nulls
    columns["result_time"] = _times(read.start, None if nulls is None else ~nulls)


def _result(values: Any, good: np.ndarray, columns: dict[str, Any]) -> None:
    count = len(values)
    if set(map(type, values)) == {float}:  # numbers, the common case: all at once
        numbers = np.array(values, np.float64)
        good &= np.isfinite(numbers)
        columns.update(result_type=np.full(count, schema.RESULT_NUMBER, np.int16), result_number=numbers)
        return
    kinds = [schema.RESULT_NUMBER] * count
    plain: list[float] = [float("nan")] * count
    strings: list[Any] = [None] * count
    jsons: list[Any] = [None] * count
    for index, value in enumerate(values):
        if type(value) is float and value - value == 0.0:  # a finite number
            plain[index] = value
            continue
        try:
            typed = result_columns(value) if good[index] else None
        except PlatformError:
            typed = None
        if typed is None:
            good[index] = False
            continue
        kinds[index] = typed["result_type"]
        if typed["result_number"] is not None:
            plain[index] = typed["result_number"]
        strings[index] = typed["result_string"]
        jsons[index] = typed["result_json"]
    columns.update(
        result_type=np.array(kinds, np.int16),
        result_number=np.array(plain, np.float64),
        result_string=strings,
        result_json=jsons,
    )


def _quality(values: Any, good: np.ndarray, columns: dict[str, Any]) -> None:
    columns["result_quality"] = list(values)


def _valid_time(values: Any, good: np.ndarray, columns: dict[str, Any]) -> None:
    nulls = _nulls(values)
    if nulls is not None and nulls.all():
        return
    # `values.parse_interval`: an interval and nothing else (an instant is refused).
    read = parse_instants_or_intervals(values, "validTime")
    intervals = read.good & read.has_end
    good &= intervals if nulls is None else intervals | nulls
    columns["valid_time_start"] = _times(read.start, intervals)
    columns["valid_time_end"] = _times(read.end, intervals)


def _parameters(values: Any, good: np.ndarray, columns: dict[str, Any]) -> None:
    good &= np.fromiter((value is None or type(value) is dict for value in values), bool, len(values))
    columns["parameters"] = list(values)


def _feature(values: Any, good: np.ndarray, columns: dict[str, Any]) -> None:
    if set(map(type, values)) == {int}:  # ids, the common case: all at once
        try:
            ids = np.array(values, np.int64)  # beyond 2^63 - 1 (`MAX_ID`): OverflowError
        except OverflowError:
            pass
        else:
            good &= ids >= 0
            columns["feature_of_interest_id"] = ids
            return
    ids = np.full(len(values), _NO_FEATURE, np.int64)
    for index, value in enumerate(values):
        if not good[index]:
            continue
        try:
            ids[index] = entity_id(value, "FeatureOfInterest/id")
        except PlatformError:
            good[index] = False
    columns["feature_of_interest_id"] = ids


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


def _block_columns(
    components: list[str], rows: list[Any], datastreams: np.ndarray, now: datetime
) -> tuple[np.ndarray, dict[str, Any]]:
    """Rows of `components` (of one block, or of consecutive blocks with the same components, each
    row's Datastream in `datastreams`) checked column by column: whether each row is good, and the
    values of every column of `OBSERVATION_COLUMNS` (the feature `_NO_FEATURE` where the row names
    none)."""
    width = len(components)
    count = len(rows)
    if not count:
        return np.zeros(0, bool), _empty_columns(datastreams)
    if set(map(type, rows)) == {list} and set(map(len, rows)) == {width}:  # every row of its shape
        good = np.ones(count, bool)
        # Not zip(*rows): its iterator per row would wake the garbage collector again and again,
        # and each collection walks the request's young rows.
        values: list[Any] = [list(map(itemgetter(position), rows)) for position in range(width)]
    else:
        good = np.fromiter((isinstance(row, list) and len(row) == width for row in rows), bool, count)
        values = [
            [row[position] if ok else None for row, ok in zip(rows, good.tolist(), strict=True)]
            for position in range(width)
        ]
    columns = _empty_columns(datastreams)
    for position, component in enumerate(components):
        _COLUMNS[component](values[position], good, columns)
    if columns["phenomenon_time_start"] is None:
        columns["phenomenon_time_start"] = np.full(count, np.datetime64(now.replace(tzinfo=None), "us"))
    return good, columns


def _empty_columns(datastreams: np.ndarray) -> dict[str, Any]:
    """The columns of rows before their components fill them: None for a column null in every
    row (and phenomenonTime, which is now where no component gives it)."""
    columns: dict[str, Any] = dict.fromkeys(OBSERVATION_COLUMNS)
    columns["datastream_id"] = datastreams
    columns["feature_of_interest_id"] = np.full(len(datastreams), _NO_FEATURE, np.int64)
    return columns


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
    stored: list[np.ndarray] = []
    parts: dict[str, list[Any]] = {name: [] for name in OBSERVATION_COLUMNS}
    pairs: set[tuple[int, int]] = set()
    # Consecutive blocks with the same components are checked as one: the MQTT ingest sends a block
    # per Datastream, often of a few rows, and a column's checks cost about the same for one row
    # as for a hundred.
    for run in _runs(blocks):
        rows = run[0].rows if len(run) == 1 else list(chain.from_iterable(b.rows for b in run))
        streams = np.array([b.datastream for b in run], np.int64)
        datastreams = np.repeat(streams, [len(b.rows) for b in run])
        good, columns = _block_columns(run[0].components, rows, datastreams, now)
        features = columns["feature_of_interest_id"]
        if _needs_default(run[0]):
            for datastream in set(streams.tolist()):
                features[datastreams == datastream] = defaults[datastream]
        else:
            for feature in np.unique(features[good]).tolist():
                if feature in known_features or feature in missing_features:
                    continue
                if writer.guard.visible(connection, FEATURE_OF_INTEREST, feature):
                    known_features.add(feature)
                else:
                    missing_features.add(feature)
            if missing_features:
                good &= ~np.isin(features, list(missing_features))
        pairs |= _pairs(datastreams[good], features[good])
        stored.append(good)
        everything = bool(good.all())
        kept = len(good) if everything else int(good.sum())
        for name, values in columns.items():
            if values is None:
                parts[name].append(kept)  # so many rows null
            elif name not in _LISTS:
                parts[name].append(values if everything else values[good])
            else:
                parts[name].append(values if everything else list(compress(values, good.tolist())))
    batch = {name: _joined(name, pieces) for name, pieces in parts.items()}
    new_ids = insert_observations(connection, batch)
    writer.record.add(CREATED, OBSERVATION.name, new_ids)
    for datastream, feature in pairs:
        writer.summary.add(datastream, feature)
    links = list(map(f"{base}/Observations({{}})".format, new_ids))
    good_rows = np.concatenate(stored) if stored else np.zeros(0, bool)
    if good_rows.all():
        return links
    answer = ["error"] * len(good_rows)
    for row, link in zip(np.flatnonzero(good_rows).tolist(), links, strict=True):
        answer[row] = link
    return answer


def _runs(blocks: list[_Block]) -> list[list[_Block]]:
    """The blocks in order, consecutive blocks with the same components together."""
    runs: list[list[_Block]] = []
    for block in blocks:
        if runs and runs[-1][0].components == block.components:
            runs[-1].append(block)
        else:
            runs.append([block])
    return runs


def _pairs(datastreams: np.ndarray, features: np.ndarray) -> set[tuple[int, int]]:
    """The distinct (Datastream, FeatureOfInterest) pairs of rows."""
    if not len(datastreams):
        return set()
    if (datastreams == datastreams[0]).all():
        return {(int(datastreams[0]), feature) for feature in np.unique(features).tolist()}
    order = np.lexsort((features, datastreams))
    streams, kept = datastreams[order], features[order]
    first = np.ones(len(order), bool)
    first[1:] = (streams[1:] != streams[:-1]) | (kept[1:] != kept[:-1])
    return set(zip(streams[first].tolist(), kept[first].tolist(), strict=True))


def _joined(name: str, pieces: list[Any]) -> Any:
    """A column of the whole batch from its pieces, one per block: values, or the number of rows
    in which the column is null (None: null in every row)."""
    if all(isinstance(piece, int) for piece in pieces):
        return None
    if name in _LISTS:
        joined: list[Any] = []
        for piece in pieces:
            joined += [None] * piece if isinstance(piece, int) else piece
        return joined
    kind = next(piece.dtype for piece in pieces if not isinstance(piece, int))
    null = _NOT_A_TIME if kind.kind == "M" else np.nan
    return np.concatenate(
        [np.full(piece, null, kind) if isinstance(piece, int) else piece for piece in pieces]
    )


def _needs_default(block: _Block) -> bool:
    """Whether a row of the block may lack a FeatureOfInterest (then its Thing's Location gives one)."""
    return not any(c in _FEATURE_COMPONENTS for c in block.components)
