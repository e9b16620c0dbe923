"""The assessment of every station of a year, as a CSV report and as a dataset of the catalogue.

**Report.** One CSV row per station and value of a standard, the columns of a station's
`assessment.csv`: what an agency's annual air quality report tabulates.

**Publication.** The year's assessment becomes the feature collection `air-assessment-<year>`:
one feature per station (its position, and per standard, pollutant and statistic the verdict, the
annual mean or the exceedance count), in a dataset of its own in the catalogue, served by OGC API
Features like every collection. The dataset takes the access rules of the stations' datasets —
the most restrictive of them, so that a result is never more open than the data it derives from —
and is published again (its features replaced) when the year is assessed again. Only a caller who
may write each station's dataset may publish.
"""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy import select

from urbantwin.access.datasets import create_dataset, update_dataset
from urbantwin.access.gate import Caller
from urbantwin.airquality.sensor_service import SensorChecks
from urbantwin.airquality.service import AirService, Answer, assessments_csv
from urbantwin.errors import NotFound
from urbantwin.ingest.pipeline import CollectionInfo, Row, store_rows_in
from urbantwin.store.access_schema import datasets
from urbantwin.store.engine import for_writes

#: Access levels from the most open to the most restrictive.
LEVELS = ("open", "registered", "partner", "internal")
ATTRIBUTION = "urbantwin air quality assessment"


def collection_id(year: int) -> str:
    return f"air-assessment-{year}"


def _stations(air: AirService, caller: Caller) -> list[dict[str, Any]]:
    stations: list[dict[str, Any]] = air.stations(caller).body["stations"]
    return stations


def report_csv(air: AirService, year: int, caller: Caller) -> str:
    """Every readable station's assessment of `year`, one row per value of a standard."""
    answers = air.assessments(year, caller)
    if not answers:
        raise NotFound("no air quality station the caller may read")
    return assessments_csv([answer.body for answer in answers])


def _rules(connection: Any, sources: set[str | None]) -> dict[str, Any]:
    """The most restrictive access rules among the source datasets."""
    rows = [
        row
        for row in connection.execute(
            select(datasets).where(datasets.c.id.in_([s for s in sources if s]))
        ).all()
    ]
    if not rows:
        return {}
    strictest = max(
        rows, key=lambda r: LEVELS.index(r.access_level) if r.access_level in LEVELS else len(LEVELS)
    )
    groups = set(strictest.read_groups or [])
    for row in rows:
        if row.access_level == strictest.access_level and row is not strictest:
            groups &= set(row.read_groups or [])
    return {
        "access_level": strictest.access_level,
        "read_groups": sorted(groups),
        "writers": list(strictest.writers or []),
        "licence": strictest.licence,
    }


def _feature_properties(body: dict[str, Any], year: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "station": body["station"]["name"],
        "station_id": body["station"]["@iot.id"],
        "year": year,
        "calendar": body["timeConvention"]["calendar"],
    }
    for check in body["checks"]:
        stem = f"{check['standard']}_{check['pollutant']}_{check['statistic']}"
        properties[f"{stem}_verdict"] = check["verdict"]
        if check["annualMean"] is not None:
            properties[f"{stem}_annual_mean"] = check["annualMean"]
        if check["exceedances"] is not None:
            properties[f"{stem}_exceedances"] = check["exceedances"]
        if check["averagedExceedances"] is not None:
            properties[f"{stem}_averaged_exceedances"] = check["averagedExceedances"]
    return properties


def publish(air: AirService, year: int, caller: Caller) -> Answer:
    """Publish the year's assessment of every station the caller may read as a catalogue dataset."""
    air.access.require_writer(caller, "publishing an air quality assessment")
    scope = air.access.scope(caller)
    stations = _stations(air, caller)
    if not stations:
        raise NotFound("no air quality station the caller may read")
    points = SensorChecks(air)._points([s["@iot.id"] for s in stations], scope)
    rows: list[Row] = []
    sources: set[str | None] = set()
    verdicts: dict[str, int] = {}
    for station in stations:
        answer = air.assessment(station["@iot.id"], year, caller)
        sources.update(answer.datasets)
        point = points.get(station["@iot.id"])
        geometry = shapely.Point(point) if point is not None else None
        properties = _feature_properties(answer.body, year)
        for check in answer.body["checks"]:
            verdicts[check["verdict"]] = verdicts.get(check["verdict"], 0) + 1
        rows.append(
            Row(
                str(station["@iot.id"]),
                properties,
                shapely.to_wkb(geometry) if geometry is not None else None,
                tuple(float(v) for v in geometry.bounds) if geometry is not None else None,  # type: ignore[arg-type]
                None,
                None,
                None,
            )
        )
    ident = collection_id(year)
    title = f"Air quality assessment {year} (EU directives 2008/50/EC and (EU) 2024/2881, WHO 2021)"
    description = (
        f"The assessment of {len(rows)} air quality station(s) for the calendar year {year} under "
        "Directive 2008/50/EC, Directive (EU) 2024/2881 and the WHO 2021 guidelines, computed by the "
        "platform from the stations' measurements with the directives' aggregation and data capture "
        "rules: per station, standard, pollutant and statistic the verdict (met, exceeded, "
        "insufficient_data, no_data) and the annual mean or the number of exceedances. Derived data; "
        "the method is described in the platform's documentation (docs/air.md)."
    )
    with for_writes(air.engine).begin() as connection:
        for source in sorted(s for s in sources if s):
            air.access.authorize_write(caller, connection, source)
        rules = _rules(connection, sources)
        fields: dict[str, Any] = {
            "title": title,
            "description": description,
            "themes": ["ENVI", "HEAL"],
            "keywords": ["air quality", "Luftqualität", "limit values", "assessment", str(year)],
            "update_frequency": "ANNUAL",
            "extra": {"derived": True, "derived_from": sorted(s for s in sources if s), "year": year},
            **rules,
        }
        if connection.execute(select(datasets.c.id).where(datasets.c.id == ident)).first():
            update_dataset(connection, ident, **fields)
        else:
            create_dataset(connection, ident, **fields)
        report = store_rows_in(
            connection,
            rows,
            CollectionInfo(ident, title, description, attribution=ATTRIBUTION, keywords=["air quality"]),
            "EPSG:4326",
            progress=False,
            delete_missing=True,
        )
    body = {
        "dataset": ident,
        "collection": ident,
        "catalogue": f"/catalog/datasets/{ident}",
        "features": f"/ogcapi/collections/{ident}/items",
        "year": year,
        "stations": len(rows),
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "deleted": report.deleted,
        "verdicts": verdicts,
        "accessLevel": rules.get("access_level"),
    }
    return Answer(body, sorted(sources, key=lambda d: d or ""))
