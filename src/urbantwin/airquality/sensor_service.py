"""The low-cost sensor service: runs the checks of `sensors.py` on the store, writes their flags,
fits the co-location calibrations, compares official and citizen measurements per district.
Knows no HTTP; takes the caller and asks the access point for every read and write.

**Low-cost sensors** are Datastreams of PM10 or PM2.5 in µg/m³ whose `properties.network` is
`sensor.community` (as its importer writes them) or whose `properties.low_cost` is true. Their
humidity is the relative humidity Datastream of the same Thing (the climate sensor beside them).
They are not official stations: the assessment leaves them out.

**What a check run writes** (for a window of at most `MAX_CHECK_DAYS` days, with write rights on
each Datastream's dataset):

- each Observation's `resultQuality`: `{"flags": [...], "usable": bool, "checks": "urbantwin air
  check", "checked": <UTC time>}` — the result itself is never touched;
- each Observation's `parameters.airquality`: `{"relativeHumidity", "corrected", "calibrated"}` (the
  humidity used, the humidity-corrected value, the calibrated one; null where there is none), the
  other parameters kept. Corrected values are parameters, not a derived Datastream, so that a value
  and its corrections stay one Observation and a second run replaces, rather than duplicates, them;
- the Datastream's `properties.calibration`: the calibration of the run (reference station,
  distance, period, n, slope, intercept, R², RMSE), when one could be fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, select, update

from urbantwin.access.gate import Access, Caller
from urbantwin.access.policy import DatasetScope
from urbantwin.airquality.engine import valid_hours
from urbantwin.airquality.sensors import (
    FLAGS,
    METHOD,
    Calibration,
    Checked,
    Thresholds,
    calibrate,
    check,
    is_low_cost,
)
from urbantwin.airquality.service import AirService, Series
from urbantwin.airquality.standards import standards
from urbantwin.airquality.texts import CALIBRATION_METHOD, COMPARISON_METHOD, FLAG_LABELS
from urbantwin.errors import BadRequest, NotFound
from urbantwin.ingest.vocabulary import OBSERVED_PROPERTIES
from urbantwin.store.city import read_profile
from urbantwin.store.engine import for_writes
from urbantwin.store.features_schema import collections, features
from urbantwin.store.observation_quality import update_quality
from urbantwin.store.schema import datastreams, observations, observed_properties
from urbantwin.times import format_instant

API = "air"
#: The longest window a check run or a comparison may span.
MAX_CHECK_DAYS = 92
#: The most readings one sensor's check reads (a year of 2.5-minute readings is 210,240).
MAX_READINGS = 250_000
CHECKS = "urbantwin air check"
_PM = {OBSERVED_PROPERTIES[code].observed_property["definition"]: code for code in ("pm10", "pm25")}
_HUMIDITY = OBSERVED_PROPERTIES["relative_humidity"].observed_property["definition"]
_EARTH_M = 6_371_008.8


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (lon, lat) points, in metres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_M * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class Sensor:
    """A low-cost PM Datastream, its humidity Datastream and its position."""

    id: int
    name: str
    pollutant: str
    thing_id: int
    dataset_id: str | None
    humidity_id: int | None
    point: tuple[float, float] | None
    #: The calibration the last check run stored (`properties.calibration`), if any.
    calibration: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        return {
            "@iot.id": self.id,
            "name": self.name,
            "pollutant": self.pollutant,
            "thing": self.thing_id,
            "humidityDatastream": self.humidity_id,
            "position": list(self.point) if self.point else None,
            "calibration": self.calibration,
        }


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, start: datetime, end: datetime) -> Window:
        if end <= start:
            raise BadRequest("end: must be later than start")
        if end - start > timedelta(days=MAX_CHECK_DAYS):
            raise BadRequest(f"end: the window may span at most {MAX_CHECK_DAYS} days")
        return cls(start, end)


def _point(document: Any) -> tuple[float, float] | None:
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if isinstance(document, dict) and document.get("type") == "Point":
        coordinates = document.get("coordinates")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            return float(coordinates[0]), float(coordinates[1])
    return None


def _round(value: float | None, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def calibration_document(calibration: Calibration) -> dict[str, Any]:
    return {
        "reference": {"@iot.id": calibration.reference_id, "name": calibration.reference_name},
        "distanceM": calibration.distance_m,
        "resolution": calibration.resolution,
        "start": format_instant(calibration.start),
        "end": format_instant(calibration.end),
        "n": calibration.n,
        "slope": _round(calibration.slope, 4),
        "intercept": _round(calibration.intercept, 3),
        "r2": _round(calibration.r2, 4),
        "rmse": _round(calibration.rmse, 3),
        "rmseUncalibrated": _round(calibration.rmse_uncalibrated, 3),
        "method": CALIBRATION_METHOD,
        "formula": "calibrated = intercept + slope × corrected",
    }


class SensorChecks:
    """Checks, calibration and district comparison of low-cost sensors (see the module's text)."""

    def __init__(self, air: AirService) -> None:
        self.air = air
        self.engine: Engine = air.engine
        self.access: Access = air.access

    # --- finding sensors and stations -------------------------------------------------------

    def _points(self, thing_ids: Sequence[int], scope: DatasetScope) -> dict[int, tuple[float, float]]:
        return self.air.points(thing_ids, scope)

    def sensors(self, scope: DatasetScope, sensor_id: int | None = None) -> list[Sensor]:
        """The low-cost PM Datastreams the scope shows (one, when `sensor_id` is given)."""
        ds, op = datastreams, observed_properties
        statement = (
            select(ds.c.id, ds.c.name, ds.c.thing_id, ds.c.dataset_id, ds.c.properties, op.c.definition)
            .join(op, op.c.id == ds.c.observed_property_id)
            .where(op.c.definition.in_([*_PM, _HUMIDITY]))
            .order_by(ds.c.id)
        )
        for column in (ds.c.dataset_id, op.c.dataset_id):
            condition = scope.allows_column(column)
            if condition is not None:
                statement = statement.where(condition)
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        humidity: dict[int, int] = {}
        for row in rows:
            if row.definition == _HUMIDITY:
                humidity.setdefault(row.thing_id, row.id)
        chosen = [
            row
            for row in rows
            if row.definition in _PM
            and is_low_cost(row.properties)
            and (sensor_id is None or row.id == sensor_id)
        ]
        points = self._points(sorted({row.thing_id for row in chosen}), scope)
        return [
            Sensor(
                id=row.id,
                name=row.name,
                pollutant=_PM[row.definition],
                thing_id=row.thing_id,
                dataset_id=row.dataset_id,
                humidity_id=humidity.get(row.thing_id),
                point=points.get(row.thing_id),
                calibration=row.properties.get("calibration")
                if isinstance(row.properties.get("calibration"), dict)
                else None,
            )
            for row in chosen
        ]

    def _sensor(self, sensor_id: int, scope: DatasetScope) -> Sensor:
        found = self.sensors(scope, sensor_id)
        if not found:
            raise NotFound(f"no low-cost PM sensor Datastream {sensor_id}")
        return found[0]

    def stations(self, scope: DatasetScope) -> list[tuple[int, str, tuple[float, float] | None, Series]]:
        """(thing id, name, position, series) of the official stations' PM series."""
        found = [item for item in self.air._series(scope) if item[2].pollutant in ("pm10", "pm25")]
        points = self._points(sorted({item[0] for item in found}), scope)
        by_thing: dict[int, list[tuple[int, str, Series]]] = {}
        for item in found:
            by_thing.setdefault(item[0], []).append(item)
        out = []
        for thing_id, items in by_thing.items():
            for series in AirService._chosen(items).values():
                out.append((thing_id, items[0][1], points.get(thing_id), series))
        return out

    def listing(self, caller: Caller) -> dict[str, Any]:
        """The low-cost sensors the caller may read, with their stored calibrations."""
        found = self.sensors(self.access.scope(caller))
        self.access.record_read(caller, API, sorted({s.dataset_id for s in found}, key=lambda d: d or ""))
        return {"sensors": [sensor.document() for sensor in found]}

    # --- reading -----------------------------------------------------------------------------

    def _readings(self, datastream_id: int, window: Window) -> pd.DataFrame:
        o = observations
        statement = (
            select(o.c.id, o.c.phenomenon_time_start, o.c.result_number, o.c.parameters)
            .where(
                o.c.datastream_id == datastream_id,
                o.c.phenomenon_time_start >= window.start,
                o.c.phenomenon_time_start < window.end,
                o.c.result_number.is_not(None),
            )
            .order_by(o.c.phenomenon_time_start, o.c.id)
            .limit(MAX_READINGS + 1)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        if len(rows) > MAX_READINGS:
            raise BadRequest(
                f"end: Datastream {datastream_id} has more than {MAX_READINGS} readings in the window; "
                "check a shorter one"
            )
        frame = pd.DataFrame(rows, columns=["id", "time", "value", "parameters"])
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame

    def _reference(
        self,
        sensor: Sensor,
        window: Window,
        scope: DatasetScope,
        thresholds: Thresholds,
        stations: list[tuple[int, str, tuple[float, float] | None, Series]],
        read: dict[int, pd.Series],
    ) -> tuple[int, str, float, Series, pd.Series] | None:
        """The nearest of the official `stations` measuring the sensor's pollutant, and its values
        (each station's read once per run, kept in `read`)."""
        if sensor.point is None:
            return None
        near = [
            (distance_m(sensor.point, point), thing_id, name, series)
            for thing_id, name, point, series in stations
            if point is not None and series.pollutant == sensor.pollutant
        ]
        near = [item for item in near if item[0] <= thresholds.max_distance_m]
        if not near:
            return None
        distance, thing_id, name, series = min(near, key=lambda item: (item[0], item[1]))
        if series.id not in read:
            hourly = self.air._hours(series, window.start, window.end, scope)
            read[series.id] = (
                hourly["mean"]
                if series.daily
                else valid_hours(hourly, series.values_per_hour, standards()[0].capture)
            )
        return thing_id, name, distance, series, read[series.id]

    def _checked(
        self, sensor: Sensor, window: Window, thresholds: Thresholds
    ) -> tuple[pd.DataFrame, Checked]:
        readings = self._readings(sensor.id, window)
        humidity = None
        if sensor.humidity_id is not None:
            pad = timedelta(seconds=thresholds.humidity_tolerance)
            rh = self._readings(sensor.humidity_id, Window(window.start - pad, window.end + pad))
            humidity = pd.Series(rh["value"].to_numpy(dtype="float64"), index=pd.DatetimeIndex(rh["time"]))
        readings = readings.drop_duplicates("time").reset_index(drop=True)
        raw = pd.Series(readings["value"].to_numpy(dtype="float64"), index=pd.DatetimeIndex(readings["time"]))
        return readings, check(raw, humidity, thresholds)

    # --- the check run -----------------------------------------------------------------------

    def run(
        self,
        caller: Caller,
        window: Window,
        thresholds: Thresholds = Thresholds(),
        sensor_id: int | None = None,
        write: bool = True,
    ) -> dict[str, Any]:
        """Check every low-cost sensor the caller may read (or one) over `window`; with `write`, store
        the flags and corrections (403 unless the caller may write each sensor's dataset)."""
        if write:
            self.access.require_writer(caller, "checking low-cost sensors")
        scope = self.access.scope(caller)
        chosen = [self._sensor(sensor_id, scope)] if sensor_id is not None else self.sensors(scope)
        if write:
            with self.engine.connect() as connection:
                for sensor in chosen:
                    self.access.authorize_write(caller, connection, sensor.dataset_id)
        checked_at = datetime.now(UTC).replace(microsecond=0)
        stations = self.stations(scope)
        read: dict[int, pd.Series] = {}
        results = []
        datasets: set[str | None] = set()
        for sensor in chosen:
            readings, checked = self._checked(sensor, window, thresholds)
            reference = self._reference(sensor, window, scope, thresholds, stations, read)
            calibration = None
            if reference is not None:
                thing_id, name, distance, series, values = reference
                datasets.add(series.dataset_id)
                calibration = calibrate(
                    checked,
                    values,
                    daily=series.daily,
                    reference_id=thing_id,
                    reference_name=name,
                    distance_m=distance,
                    thresholds=thresholds,
                )
            datasets.add(sensor.dataset_id)
            if write and len(readings):
                self._write(sensor, readings, checked, calibration, checked_at)
            results.append(self._summary(sensor, checked, calibration, reference))
        self.access.record_read(caller, API, sorted(datasets, key=lambda d: d or ""))
        return {
            "start": format_instant(window.start),
            "end": format_instant(window.end),
            "written": write,
            "checked": format_instant(checked_at) if write else None,
            "thresholds": thresholds.document(),
            "correction": {"method": METHOD, "formula": "PM / (1 + (κ / 1.65) / (100 / RH − 1))"},
            "flags": {flag: FLAG_LABELS[flag] for flag in FLAGS},
            "sensors": results,
        }

    def _summary(
        self,
        sensor: Sensor,
        checked: Checked,
        calibration: Calibration | None,
        reference: tuple[int, str, float, Series, pd.Series] | None,
    ) -> dict[str, Any]:
        usable = checked.usable
        return {
            "@iot.id": sensor.id,
            "name": sensor.name,
            "pollutant": sensor.pollutant,
            "thing": sensor.thing_id,
            "humidityDatastream": sensor.humidity_id,
            "readings": len(checked.raw),
            "usable": int(usable.sum()),
            "flagged": checked.counts(),
            "meanRaw": _round(float(np.mean(checked.raw))) if len(checked.raw) else None,
            "meanCorrected": _round(float(np.mean(checked.corrected[usable]))) if usable.any() else None,
            "nearestStation": None
            if reference is None
            else {"@iot.id": reference[0], "name": reference[1], "distanceM": round(reference[2], 1)},
            "calibration": None if calibration is None else calibration_document(calibration),
        }

    def _write(
        self,
        sensor: Sensor,
        readings: pd.DataFrame,
        checked: Checked,
        calibration: Calibration | None,
        checked_at: datetime,
    ) -> None:
        calibrated = (
            calibration.apply(checked.corrected)
            if calibration is not None
            else np.full(len(checked.raw), np.nan)
        )
        usable = checked.usable
        stamp = format_instant(checked_at)
        rows = []
        for i, (ident, parameters) in enumerate(zip(readings["id"], readings["parameters"], strict=True)):
            kept = dict(parameters) if isinstance(parameters, dict) else {}
            kept["airquality"] = {
                "relativeHumidity": _round(checked.humidity[i], 1),
                "corrected": _round(checked.corrected[i]),
                "calibrated": _round(calibrated[i]) if usable[i] else None,
            }
            quality = {
                "flags": checked.flags[i],
                "usable": bool(usable[i]),
                "checks": CHECKS,
                "checked": stamp,
            }
            rows.append((int(ident), quality, kept))
        with for_writes(self.engine).begin() as connection:
            update_quality(connection, sensor.id, rows)
            if calibration is not None:
                properties = connection.execute(
                    select(datastreams.c.properties).where(datastreams.c.id == sensor.id)
                ).scalar()
                updated = dict(properties) if isinstance(properties, dict) else {}
                updated["calibration"] = calibration_document(calibration)
                connection.execute(
                    update(datastreams).where(datastreams.c.id == sensor.id).values(properties=updated)
                )

    # --- flags -------------------------------------------------------------------------------

    def flags(self, caller: Caller, sensor_id: int, window: Window) -> dict[str, Any]:
        """The stored flags and corrections of a sensor's readings in `window` (the last run's)."""
        scope = self.access.scope(caller)
        sensor = self._sensor(sensor_id, scope)
        o = observations
        statement = (
            select(o.c.id, o.c.phenomenon_time_start, o.c.result_number, o.c.result_quality, o.c.parameters)
            .where(
                o.c.datastream_id == sensor.id,
                o.c.phenomenon_time_start >= window.start,
                o.c.phenomenon_time_start < window.end,
            )
            .order_by(o.c.phenomenon_time_start, o.c.id)
            .limit(MAX_READINGS + 1)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        if len(rows) > MAX_READINGS:
            raise BadRequest(f"end: more than {MAX_READINGS} readings in the window; ask for a shorter one")
        self.access.record_read(caller, API, [sensor.dataset_id])
        readings = []
        for row in rows:
            quality = row.result_quality if isinstance(row.result_quality, dict) else None
            extra = (row.parameters or {}).get("airquality") if isinstance(row.parameters, dict) else None
            readings.append(
                {
                    "@iot.id": row.id,
                    "phenomenonTime": format_instant(pd.Timestamp(row.phenomenon_time_start).to_pydatetime()),
                    "result": row.result_number,
                    "flags": (quality or {}).get("flags")
                    if quality and quality.get("checks") == CHECKS
                    else None,
                    "usable": (quality or {}).get("usable")
                    if quality and quality.get("checks") == CHECKS
                    else None,
                    "corrected": (extra or {}).get("corrected"),
                    "calibrated": (extra or {}).get("calibrated"),
                }
            )
        return {
            "datastream": {"@iot.id": sensor.id, "name": sensor.name, "pollutant": sensor.pollutant},
            "start": format_instant(window.start),
            "end": format_instant(window.end),
            "flags": {flag: FLAG_LABELS[flag] for flag in FLAGS},
            "readings": readings,
        }

    # --- official versus citizen, per district -----------------------------------------------

    def districts(self, caller: Caller, window: Window, collection: str | None = None) -> dict[str, Any]:
        """Per district of the city profile: the mean of the official stations' valid hours and of
        the citizen sensors' usable hours (calibrated where a calibration is stored, else corrected),
        per pollutant, over `window`."""
        scope = self.access.scope(caller)
        profile = read_profile(self.engine)
        if collection is not None:
            districts = profile.districts_of(collection)
            if districts is None:
                raise NotFound(
                    f"collection: {collection!r} is not one of the city profile's district collections"
                )
        elif profile.districts:
            districts = profile.districts[0]
        else:
            raise NotFound("collection: the city profile names no district collections")
        with self.engine.connect() as connection:
            dataset = connection.execute(
                select(collections.c.dataset_id).where(collections.c.id == districts.collection)
            ).first()
            if dataset is None or not scope.allows(dataset.dataset_id):
                raise NotFound(f"collection: no district collection {districts.collection!r}")
            shapes = connection.execute(
                select(features.c.feature_key, features.c.properties, features.c.geom).where(
                    features.c.collection_id == districts.collection
                )
            ).all()
        polygons = [
            (key, str((props or {}).get(districts.name_property) or key), shapely.from_wkb(geom))
            for key, props, geom in shapes
            if geom is not None
        ]

        def district_of(point: tuple[float, float] | None) -> tuple[str, str] | None:
            if point is None:
                return None
            where = shapely.Point(point)
            for key, name, polygon in polygons:
                if polygon.covers(where):
                    return key, name
            return None

        first = standards()[0].capture
        official: dict[tuple[str, str], list[pd.Series]] = {}
        used: set[str | None] = {dataset.dataset_id}
        for _thing, _name, point, series in self.stations(scope):
            place = district_of(point)
            if place is None or series.daily:
                continue  # daily series have no hours to set beside the sensors'
            hourly = self.air._hours(series, window.start, window.end, scope)
            official.setdefault((place[0], series.pollutant), []).append(
                valid_hours(hourly, series.values_per_hour, first)
            )
            used.add(series.dataset_id)
        citizen: dict[tuple[str, str], list[pd.Series]] = {}
        for sensor in self.sensors(scope):
            place = district_of(sensor.point)
            if place is None:
                continue
            values = self._stored_hours(sensor, window)
            if values is not None:
                citizen.setdefault((place[0], sensor.pollutant), []).append(values)
                used.add(sensor.dataset_id)
        self.access.record_read(caller, API, sorted(used, key=lambda d: d or ""))
        out = []
        for key, name, _ in polygons:
            rows = []
            for pollutant in ("pm10", "pm25"):
                a = official.get((key, pollutant), [])
                b = citizen.get((key, pollutant), [])
                if not a and not b:
                    continue
                mean_a = _mean_of(a)
                mean_b = _mean_of(b)
                rows.append(
                    {
                        "pollutant": pollutant,
                        "officialStations": len(a),
                        "officialMean": _round(mean_a),
                        "officialHours": int(sum(len(s) for s in a)),
                        "citizenSensors": len(b),
                        "citizenMean": _round(mean_b),
                        "citizenHours": int(sum(len(s) for s in b)),
                        "difference": _round(mean_b - mean_a)
                        if mean_a is not None and mean_b is not None
                        else None,
                    }
                )
            if rows:
                out.append({"key": key, "name": name, "pollutants": rows})
        return {
            "collection": districts.collection,
            "start": format_instant(window.start),
            "end": format_instant(window.end),
            "method": COMPARISON_METHOD,
            "districts": out,
        }

    def _stored_hours(self, sensor: Sensor, window: Window) -> pd.Series | None:
        o = observations
        statement = (
            select(o.c.phenomenon_time_start, o.c.result_quality, o.c.parameters)
            .where(
                o.c.datastream_id == sensor.id,
                o.c.phenomenon_time_start >= window.start,
                o.c.phenomenon_time_start < window.end,
                o.c.result_quality.is_not(None),
            )
            .limit(MAX_READINGS + 1)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        times, values = [], []
        for moment, quality, parameters in rows[:MAX_READINGS]:
            if not isinstance(quality, dict) or quality.get("checks") != CHECKS or not quality.get("usable"):
                continue
            extra = (parameters or {}).get("airquality") if isinstance(parameters, dict) else None
            value = (extra or {}).get("calibrated")
            if value is None:
                value = (extra or {}).get("corrected")
            if value is not None:
                times.append(moment)
                values.append(float(value))
        if not values:
            return None
        series = pd.Series(values, index=pd.to_datetime(times, utc=True))
        return series.groupby(series.index.floor("h")).mean()


def _mean_of(parts: list[pd.Series]) -> float | None:
    values = [s.to_numpy(dtype="float64") for s in parts if len(s)]
    if not values:
        return None
    joined = np.concatenate(values)
    joined = joined[np.isfinite(joined)]
    return float(joined.mean()) if len(joined) else None
