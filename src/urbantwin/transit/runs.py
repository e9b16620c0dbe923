"""Stored scenario runs of the public-transport model: computed when submitted, read back, compared.

A run is a scenario (`transit.scenario`) on a feed and day. The model takes seconds, so a run is
computed when it is submitted (no queue, unlike the energy quarter's year-long simulations) and
stored `done` with its KPIs, the KPIs of its baseline (the same feed, day and `[coefficients]`
without the scenario's changes), the coefficients used and the per-line results with their hourly
profiles; a run the model refuses is not stored (the 400 names the bad key).

Each run's per-line results are published as the feature collection `transit-run-<id>` (the
feed's line geometries with the run's KPIs per line and hour) in a dataset of its own in the
catalogue, published by the platform's city, labelled a model result, with the access rules of
the feed's lines dataset — a result is never more open than the feed it derives from. Who may
write the feed's lines dataset may run scenarios on it (as an energy run needs write rights on its
scenario's dataset); a run is read with the rights of its dataset, and one the caller may not read
answers like an unknown one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import shapely
from sqlalchemy import Engine, select

from urbantwin.access.datasets import create_dataset
from urbantwin.access.gate import Caller
from urbantwin.energy.site import Site
from urbantwin.errors import BadRequest, NotFound
from urbantwin.ingest.pipeline import CollectionInfo, Row, store_rows_in
from urbantwin.store.access_schema import datasets
from urbantwin.store.city import read_profile
from urbantwin.store.engine import for_writes
from urbantwin.store.features_schema import collections, features
from urbantwin.store.transit_schema import transit_runs
from urbantwin.transit import scenario as scenarios
from urbantwin.transit.energy import NOTE, TransitEnergy

_SUMMARY = [
    transit_runs.c.id,
    transit_runs.c.name,
    transit_runs.c.title,
    transit_runs.c.feed_id,
    transit_runs.c.day,
    transit_runs.c.collection,
    transit_runs.c.status,
    transit_runs.c.error,
    transit_runs.c.submitted_by,
    transit_runs.c.created,
    transit_runs.c.finished,
    transit_runs.c.kpis,
    transit_runs.c.baseline,
    transit_runs.c.scenario,
]


def collection_id(run_id: str) -> str:
    return f"transit-run-{run_id[:12]}"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


class TransitRuns:
    """The stored runs of one store, computed with `energy`'s model and access point."""

    def __init__(self, engine: Engine, energy: TransitEnergy) -> None:
        self.engine = engine
        self.energy = energy
        self.access = energy.access

    def site(self, feed_id: str) -> tuple[tuple[float, float, float] | None, str]:
        """(latitude, longitude, altitude) where the PV model puts the sun, and where it comes
        from: the city profile's site (`energy.site`), else the middle of the feed's stops."""
        profile = read_profile(self.engine)
        if profile.site_point() is not None:
            site = Site.of(profile)
            return site.point, site.note
        with self.engine.connect() as connection:
            stops = connection.execute(
                select(features.c.geom).where(
                    features.c.collection_id == f"{feed_id}-stops", features.c.geom.is_not(None)
                )
            ).scalars()
            points = [shapely.from_wkb(wkb) for wkb in stops]
        if not points:
            return None, ""
        centre = shapely.centroid(shapely.MultiPoint(points))
        note = "the middle of the feed's stops at 0 m (assumed: the city profile gives no site)"
        return (float(centre.y), float(centre.x), 0.0), note

    def submit(self, caller: Caller, body: Any) -> str:
        """Check, compute and store a run; its id. 400 naming a bad key, 403 for a caller who may
        not write the feed's lines dataset, 404 for a feed unknown or not readable."""
        self.access.require_writer(caller, "running a transit scenario")
        scenario = scenarios.parse(body)
        tables = self.energy.tables(caller, scenario.feed, day=scenario.day, weekday=scenario.day is None)
        with self.engine.connect() as connection:
            self.access.authorize_write(caller, connection, tables.dataset)
        base = self.energy.coefficients
        site, site_note = self.site(scenario.feed)
        outcome = scenarios.run(scenario, tables, base, site)
        if scenario.pv_kwp:
            outcome.kpis["pv_site"] = site_note
        baseline = scenarios.run(
            scenarios.Scenario(
                name="baseline",
                feed=scenario.feed,
                day=scenario.day,
                coefficients=scenario.coefficients,
                electricity_eur_per_kwh=scenario.electricity_eur_per_kwh,
                diesel_eur_per_l=scenario.diesel_eur_per_l,
            ),
            tables,
            base,
            site,
        )
        run_id = uuid.uuid4().hex
        document = outcome.result.document()
        now = datetime.now(UTC)
        collection = collection_id(run_id)
        with for_writes(self.engine).begin() as connection:
            connection.execute(
                transit_runs.insert().values(
                    id=run_id,
                    name=scenario.name,
                    title=scenario.title,
                    feed_id=scenario.feed,
                    day=tables.period.first,
                    scenario=scenario.document,
                    collection=collection,
                    status="done",
                    submitted_by=caller.principal.name,
                    created=now,
                    finished=now,
                    kpis=outcome.kpis,
                    baseline=baseline.kpis,
                    parameters=document["coefficients"],
                    lines=document["lines"],
                )
            )
            self._publish(connection, run_id, scenario, tables.dataset, document["lines"])
        return run_id

    def _publish(
        self,
        connection: Any,
        run_id: str,
        scenario: scenarios.Scenario,
        feed_dataset: str | None,
        lines: list[dict[str, Any]],
    ) -> None:
        """The per-line results as the collection `transit-run-<id>` in a dataset of its own."""
        ident = collection_id(run_id)
        rule = (
            connection.execute(select(datasets).where(datasets.c.id == feed_dataset)).first()
            if feed_dataset
            else None
        )
        description = (
            f"Model result of the transit scenario '{scenario.title}' on the feed {scenario.feed}: "
            f"vehicle-km, energy and CO2 per line and hour of the service day. {NOTE}"
        )
        rules: dict[str, Any] = {}
        if rule is not None:
            rules = {
                "access_level": rule.access_level,
                "read_groups": list(rule.read_groups or []),
                "writers": list(rule.writers or []),
                "licence": rule.licence,
            }
        create_dataset(
            connection,
            ident,
            title=f"Transit scenario: {scenario.title} (model result)",
            description=description,
            themes=["TRAN", "ENER"],
            keywords=["public transport", "scenario", "model result", scenario.name],
            update_frequency="NEVER",
            extra={"model": True, "derived_from": feed_dataset, "run": run_id},
            **rules,
        )
        geometries = dict(
            connection.execute(
                select(features.c.feature_key, features.c.geom).where(
                    features.c.collection_id == f"{scenario.feed}-lines"
                )
            ).all()
        )
        rows = []
        for line in lines:
            wkb = geometries.get(line["route_id"])
            geometry = shapely.from_wkb(wkb) if wkb is not None else None
            bounds = tuple(float(v) for v in shapely.bounds(geometry)) if geometry is not None else None
            properties = {k: v for k, v in line.items() if k != "hourly"}
            properties.update({f"hourly_{k}": v for k, v in line["hourly"].items()})
            properties["model"] = True
            rows.append(Row(line["route_id"], properties, wkb, bounds, None, None, None))  # type: ignore[arg-type]
        store_rows_in(
            connection,
            rows,
            # the collection finds its dataset made above (same id) and keeps its rules
            CollectionInfo(
                ident,
                f"Transit scenario: {scenario.title} (model result)",
                description,
                attribution="urbantwin transit model",
                keywords=["public transport", "scenario", "model result"],
            ),
            "EPSG:4326",
            progress=False,
        )

    # --- reading -----------------------------------------------------------------------------------

    def _rows(self, caller: Caller, run_id: str | None = None, full: bool = False) -> list[Any]:
        columns = [*_SUMMARY, transit_runs.c.parameters, transit_runs.c.lines] if full else _SUMMARY
        query = select(*columns, collections.c.dataset_id.label("dataset")).select_from(
            transit_runs.outerjoin(collections, collections.c.id == transit_runs.c.collection)
        )
        if run_id is not None:
            query = query.where(transit_runs.c.id == run_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(transit_runs.c.created.desc(), transit_runs.c.id)).all()
        scope = self.access.scope(caller)
        shown = [row for row in rows if scope.allows(row.dataset)]
        self.access.record_read(caller, "transit", [row.dataset for row in shown])
        return shown

    def list(self, caller: Caller) -> list[dict[str, Any]]:
        """The runs the caller may read, newest first."""
        return [self._summary(row) for row in self._rows(caller)]

    def get(self, caller: Caller, run_id: str, full: bool = True) -> dict[str, Any]:
        """One run (with the per-line results when `full`); 404 for one unknown or not readable."""
        rows = self._rows(caller, run_id, full)
        if not rows:
            raise NotFound(f"no transit run {run_id!r}")
        out = self._summary(rows[0])
        if full:
            out["parameters"] = rows[0].parameters
            out["lines"] = rows[0].lines
        return out

    def compare(self, caller: Caller, run_ids: Sequence[str]) -> dict[str, Any]:
        """The runs' KPIs side by side with the baseline of the first (`scenario.compare`)."""
        if not run_ids:
            raise BadRequest("runs: give at least one run id")
        return scenarios.compare([self.get(caller, r, full=False) for r in run_ids])

    def _summary(self, row: Any) -> dict[str, Any]:
        day = row.day
        return {
            "id": row.id,
            "name": row.name,
            "title": row.title,
            "feed": row.feed_id,
            "day": day.isoformat() if isinstance(day, date) else str(day),
            "collection": row.collection,
            "links": {
                "items": f"/ogcapi/collections/{row.collection}/items",
                "catalogue": f"/catalog/datasets/{row.collection}",
            },
            "status": row.status,
            "error": row.error,
            "submitted_by": row.submitted_by,
            "created": _time(row.created),
            "finished": _time(row.finished),
            "model": True,
            "note": NOTE,
            "scenario": row.scenario,
            "kpis": row.kpis,
            "baseline": row.baseline,
        }
