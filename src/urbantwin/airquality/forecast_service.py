"""The forecast check on the store: a station's forecast Datastreams (model data) against its
measurements of the same pollutant, for a calendar year, per model and lead time (see
`forecast.py` for the pairing and the scores). Knows no HTTP; asks the access point.

**Forecasts** are the Datastreams of the station's Thing whose `properties.kind` is
`model forecast` (as the CAMS connector writes them), of an assessed pollutant in µg/m³. Every
answer says that they are model data and carries their attribution. The measurements are the
Datastream the assessment uses for the pollutant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from urbantwin.access.gate import Caller
from urbantwin.airquality.engine import valid_hours
from urbantwin.airquality.forecast import (
    UNKNOWN_LEAD,
    Scores,
    day_of,
    lead_days,
    measured_days_from_hours,
    scores,
)
from urbantwin.airquality.service import _DEFINITIONS, _MICROGRAMS, API, AirService, Answer, Series
from urbantwin.airquality.standards import standards
from urbantwin.airquality.texts import PAIRING, SCORE_LABELS, days
from urbantwin.errors import BadRequest
from urbantwin.store.schema import datastreams, observations, observed_properties
from urbantwin.times import format_instant

#: The standard whose daily limit value is the default exceedance threshold.
THRESHOLD_STANDARD = "eu-2024-2881"
MAX_FORECASTS = 20_000


def default_threshold(pollutant: str) -> float | None:
    """The daily limit value of the pollutant under `THRESHOLD_STANDARD` (None: it has none)."""
    for standard in standards():
        if standard.id == THRESHOLD_STANDARD:
            for value in standard.values:
                if value.pollutant == pollutant and value.statistic == "day":
                    return value.level
    return None


def parse_threshold(raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"threshold: expected a concentration in µg/m³, got {raw!r}") from None
    if not np.isfinite(value) or value < 0:
        raise BadRequest(f"threshold: expected a concentration of 0 µg/m³ or more, got {raw!r}")
    return value


def _number(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _text(s: Scores, language: str) -> str:
    def fmt(value: float | None) -> str:
        if value is None:
            return "–"
        text = f"{value:.1f}"
        return text.replace(".", ",") if language == "de" else text

    if s.n == 0:
        return (
            "Keine Tage mit Vorhersage und Messung."
            if language == "de"
            else "No days with forecast and measurement."
        )
    if language == "de":
        return (
            f"{days(s.n, 'de')} verglichen: mittlere Abweichung {fmt(s.bias)} µg/m³, "
            f"RMSE {fmt(s.rmse)} µg/m³; "
            f"von {days(s.hits + s.misses, 'de')} über {fmt(s.threshold)} µg/m³ {s.hits} vorhergesagt, "
            f"{s.false_alarms} Fehlalarm{'e' if s.false_alarms != 1 else ''}."
        )
    return (
        f"{days(s.n, 'en')} compared: mean bias {fmt(s.bias)} µg/m³, RMSE {fmt(s.rmse)} µg/m³; "
        f"of {days(s.hits + s.misses, 'en')} above {fmt(s.threshold)} µg/m³ {s.hits} forecast, "
        f"{s.false_alarms} false alarm{'s' if s.false_alarms != 1 else ''}."
    )


def scores_document(lead: str, s: Scores) -> dict[str, Any]:
    return {
        "leadTime": lead,
        "leadTimeDays": None if lead == UNKNOWN_LEAD else int(lead),
        "n": s.n,
        "meanForecast": _number(s.mean_forecast),
        "meanMeasured": _number(s.mean_measured),
        "bias": _number(s.bias),
        "rmse": _number(s.rmse),
        "correlation": _number(s.correlation, 4),
        "threshold": s.threshold,
        "hits": s.hits,
        "misses": s.misses,
        "falseAlarms": s.false_alarms,
        "correctNegatives": s.correct_negatives,
        "hitRate": _number(s.hit_rate, 4),
        "falseAlarmRatio": _number(s.false_alarm_ratio, 4),
        "text": {language: _text(s, language) for language in ("de", "en")},
    }


class ForecastCheck:
    def __init__(self, air: AirService) -> None:
        self.air = air

    def _forecasts(self, thing_id: int, scope: Any) -> list[tuple[int, str, str, str | None, dict[str, Any]]]:
        ds, op = datastreams, observed_properties
        statement = (
            select(
                ds.c.id,
                ds.c.name,
                ds.c.dataset_id,
                ds.c.properties,
                ds.c.unit_of_measurement,
                op.c.definition,
            )
            .join(op, op.c.id == ds.c.observed_property_id)
            .where(ds.c.thing_id == thing_id, op.c.definition.in_(list(_DEFINITIONS)))
            .order_by(ds.c.id)
        )
        for column in (ds.c.dataset_id, op.c.dataset_id):
            condition = scope.allows_column(column)
            if condition is not None:
                statement = statement.where(condition)
        with self.air.engine.connect() as connection:
            rows = connection.execute(statement).all()
        found = []
        for row in rows:
            properties = row.properties if isinstance(row.properties, dict) else {}
            unit = (
                (row.unit_of_measurement or {}).get("symbol")
                if isinstance(row.unit_of_measurement, dict)
                else None
            )
            if properties.get("kind") == "model forecast" and unit in _MICROGRAMS:
                found.append((row.id, row.name, _DEFINITIONS[row.definition], row.dataset_id, properties))
        return found

    def _forecast_days(
        self, datastream_id: int, start: datetime, end: datetime, declared: Any
    ) -> pd.DataFrame:
        o = observations
        statement = (
            select(o.c.phenomenon_time_start, o.c.phenomenon_time_end, o.c.result_time, o.c.result_number)
            .where(
                o.c.datastream_id == datastream_id,
                o.c.phenomenon_time_start >= start,
                o.c.phenomenon_time_start < end,
                o.c.result_number.is_not(None),
            )
            .order_by(o.c.phenomenon_time_start)
            .limit(MAX_FORECASTS + 1)
        )
        with self.air.engine.connect() as connection:
            rows = connection.execute(statement).all()
        if len(rows) > MAX_FORECASTS:
            raise BadRequest(
                f"year: Datastream {datastream_id} has more than {MAX_FORECASTS} forecasts in the year"
            )
        frame = pd.DataFrame(rows, columns=["start", "end", "made", "value"])
        frame["start"] = pd.to_datetime(frame["start"], utc=True)
        frame["end"] = pd.to_datetime(frame["end"], utc=True).fillna(frame["start"])
        frame["made"] = pd.to_datetime(frame["made"], utc=True)
        frame["day"] = (
            day_of(frame["start"], frame["end"]) if len(frame) else pd.Series(dtype="datetime64[ns]")
        )
        frame["lead"] = (
            lead_days(frame["start"], frame["made"], declared) if len(frame) else pd.Series(dtype=str)
        )
        return frame

    def _measured_days(self, series: Series, start: datetime, end: datetime, scope: Any) -> pd.Series:
        hourly = self.air._hours(series, start, end, scope)
        if series.daily:
            starts = pd.Series(hourly.index, index=hourly.index)
            return pd.Series(
                hourly["mean"].to_numpy(), index=day_of(starts, starts + pd.Timedelta(hours=24)).to_numpy()
            )
        return measured_days_from_hours(valid_hours(hourly, series.values_per_hour, standards()[0].capture))

    def check(self, thing_id: int, year: int, caller: Caller, threshold: float | None = None) -> Answer:
        """Every forecast Datastream of the station against its measurements in the UTC year `year`."""
        scope = self.air.access.scope(caller)
        name, chosen = self.air._station(thing_id, scope)
        start = datetime(year, 1, 1, tzinfo=UTC)
        end = datetime(year + 1, 1, 1, tzinfo=UTC)
        margin = timedelta(days=1)
        models = []
        used: set[str | None] = set()
        for ident, stream_name, pollutant, dataset_id, properties in self._forecasts(thing_id, scope):
            measured_series = chosen.get(pollutant)
            level = threshold if threshold is not None else default_threshold(pollutant)
            forecasts = self._forecast_days(ident, start - margin, end + margin, properties.get("lead_time"))
            forecasts = forecasts[
                (forecasts["day"] >= pd.Timestamp(start.date()))
                & (forecasts["day"] < pd.Timestamp(end.date()))
            ]
            used.add(dataset_id)
            leads = []
            if measured_series is not None and level is not None:
                used.add(measured_series.dataset_id)
                measured = self._measured_days(measured_series, start - margin, end + margin, scope)
                measured = measured.groupby(level=0).mean()
                for lead, group in forecasts.groupby("lead", sort=True):
                    daily = group.groupby("day")["value"].mean()
                    pairs = pd.DataFrame({"forecast": daily}).join(
                        pd.DataFrame({"measured": measured}), how="inner"
                    )
                    leads.append(scores_document(str(lead), scores(pairs, level)))
            models.append(
                {
                    "datastream": {"@iot.id": ident, "name": stream_name},
                    "pollutant": pollutant,
                    "modelData": True,
                    "label": {
                        "en": "model data (forecast), not measurements",
                        "de": "Modelldaten (Vorhersage), keine Messwerte",
                    },
                    "attribution": properties.get("attribution"),
                    "disclaimer": properties.get("disclaimer"),
                    "forecastDays": int(forecasts["day"].nunique()) if len(forecasts) else 0,
                    "measured": None if measured_series is None else measured_series.document(),
                    "threshold": level,
                    "leadTimes": leads,
                }
            )
        self.air.access.record_read(caller, API, sorted(used, key=lambda d: d or ""))
        body = {
            "station": {"@iot.id": thing_id, "name": name},
            "year": year,
            "days": PAIRING,
            "scores": SCORE_LABELS,
            "start": format_instant(start),
            "end": format_instant(end),
            "forecasts": models,
        }
        return Answer(body, sorted(used, key=lambda d: d or ""))
