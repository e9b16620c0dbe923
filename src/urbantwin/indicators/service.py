"""The goals and indicators service: the registry, the values per year, the traffic lights.

Reading (`listing`, `one`) first brings the computed indicators up to date: each computation's
stamp (`compute.STAMPS`, a cheap read of the state of its data) is compared with the one stored with
its values, and only an indicator whose data changed is computed again; its values per year are
replaced (a year the data no longer supports is dropped) and the new stamp stored. So the time
series follows the data without a schedule, and a reader waits for a computation only after a change.

Hand-entered values are written through the one policy point: the caller must be allowed to write
the indicator's dataset (`Access.authorize_write`); an indicator's registry entry decides which
dataset that is (`indicators` unless it names another). Reading asks the same point: an indicator
of a dataset the caller may not read is not listed (404 when asked for). Knows no HTTP.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from urbantwin.access.datasets import create_dataset
from urbantwin.access.gate import Access, Caller
from urbantwin.city_profile import NO_CITY, CityProfile
from urbantwin.errors import BadRequest, NotFound, PlatformError
from urbantwin.indicators import texts
from urbantwin.indicators.compute import COMPUTATIONS, STAMPS, Computed, Sources
from urbantwin.indicators.registry import Indicator, Target
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets
from urbantwin.store.engine import for_writes
from urbantwin.store.indicators_schema import indicator_values, indicators

API = "indicators"
log = logging.getLogger(__name__)
FIRST_YEAR, LAST_YEAR = 1900, 2200
MAX_NOTE = 500


@dataclass(frozen=True)
class Light:
    """A target's traffic light: `green` met, `amber` not met but on course, `red` not on course,
    `grey` no value."""

    light: str
    reason: dict[str, str]
    #: The share of the way from the baseline to the target covered (1: reached), None without one.
    progress: float | None = None
    #: The linear trend's value in the target year, None without a trend.
    projected: float | None = None


def _reaches(value: float, target: Target) -> bool:
    return value <= target.value if target.direction == "at_most" else value >= target.value


def assess(values: dict[int, float], target: Target, unit: str = "") -> Light:
    """The traffic light of `target` for the values per year.

    Green when the newest value meets the target. Otherwise red when the newest value is of the
    target year or later (missed); else the straight line through the baseline year's value (the
    target's `baseline_year`, or the first year) and the newest is carried on to the target year:
    amber when it meets the target there, red when not; amber too with a single value (no trend).
    """
    if not values:
        return Light("grey", texts.no_value())
    latest = max(values)
    value = values[latest]
    base_year = target.baseline_year if target.baseline_year in values else min(values)
    assert base_year is not None
    base = values[base_year]
    progress = None
    if base != target.value:
        progress = round((value - base) / (target.value - base), 4)
    if _reaches(value, target):
        return Light("green", texts.met(latest), progress)
    if latest >= target.year:
        return Light("red", texts.missed(target.year), progress)
    left = target.year - latest
    if latest == base_year:
        return Light("amber", texts.no_trend(left), progress)
    slope = (value - base) / (latest - base_year)
    projected = value + slope * left
    if _reaches(projected, target):
        return Light("amber", texts.on_course(left, projected, unit), progress, round(projected, 4))
    return Light("red", texts.off_course(left, projected, unit), progress, round(projected, 4))


class Indicators:
    """The registry and values of one store."""

    def __init__(self, engine: Engine, access: Access, sources: Sources) -> None:
        self.engine = engine
        self.access = access
        self.sources = sources
        self._lock = threading.Lock()

    # --- the registry -------------------------------------------------------------------------------

    def load(self, caller: Caller, registry: Sequence[Indicator]) -> dict[str, int]:
        """Replace the registry (administrators only): indicators kept keep their values (computed
        ones are computed again at the next read), those gone lose theirs. A dataset an indicator
        names that does not exist yet is created, open."""
        self.access.authorize_admin(caller)
        now = datetime.now(UTC)
        ids = [indicator.id for indicator in registry]
        with for_writes(self.engine).begin() as connection:
            known = set(connection.execute(select(datasets.c.id)).scalars())
            for name in sorted({indicator.dataset for indicator in registry} - known):
                create_dataset(
                    connection,
                    name,
                    title="Goals and indicators",
                    description="The city's indicators and targets and their values per year "
                    "(urbantwin's goals registry, docs/indicators.md).",
                    access_level="open",
                    keywords=["indicators", "goals"],
                )
            removed = connection.execute(delete(indicators).where(indicators.c.id.not_in(ids))).rowcount
            connection.execute(delete(indicator_values).where(indicator_values.c.indicator_id.not_in(ids)))
            stored = {r.id: r for r in connection.execute(select(indicators.c.id, indicators.c.document))}
            for position, indicator in enumerate(registry):
                document = indicator.document()
                if indicator.id in stored:
                    changed = stored[indicator.id].document != document
                    values: dict[str, Any] = {"position": position, "document": document, "updated": now}
                    values["dataset_id"] = indicator.dataset
                    if changed:
                        values["stamp"] = None  # computed afresh: the computation may have changed
                    connection.execute(
                        indicators.update().where(indicators.c.id == indicator.id).values(**values)
                    )
                else:
                    connection.execute(
                        indicators.insert().values(
                            id=indicator.id,
                            dataset_id=indicator.dataset,
                            position=position,
                            document=document,
                            updated=now,
                        )
                    )
        return {"indicators": len(ids), "removed": removed}

    def _registry(self) -> list[tuple[Indicator, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(indicators).order_by(indicators.c.position, indicators.c.id)
            ).all()
        return [(Indicator.from_document(row.document), row) for row in rows]

    # --- computing ----------------------------------------------------------------------------------

    def refresh(self, only: str | None = None, force: bool = False) -> list[str]:
        """Compute again each computed indicator whose data changed since (every one with `force`);
        the ids computed."""
        done: list[str] = []
        with self._lock:
            for indicator, row in self._registry():
                if indicator.method != "computed" or (only is not None and indicator.id != only):
                    continue
                kind = indicator.compute["kind"]
                stamp = STAMPS[kind](self.sources)
                if stamp == row.stamp and not force:
                    continue
                params = {k: v for k, v in indicator.compute.items() if k != "kind"}
                try:
                    computed = COMPUTATIONS[kind](self.sources, params)
                except PlatformError as exc:  # bad parameters or missing data: said, not a 500
                    computed = Computed({}, [texts.failed(str(exc))])
                self._store(indicator.id, computed, stamp)
                done.append(indicator.id)
        return done

    def _store(self, ident: str, computed: Computed, stamp: str) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "indicator_id": ident,
                "year": int(year),
                "value": float(value),
                "origin": "computed",
                "recorded_by": "urbantwin",
                "note": None,
                "recorded": now,
            }
            for year, value in sorted(computed.values.items())
            if math.isfinite(value)
        ]
        try:
            with for_writes(self.engine).begin() as connection:
                connection.execute(delete(indicator_values).where(indicator_values.c.indicator_id == ident))
                if rows:
                    connection.execute(indicator_values.insert(), rows)
                connection.execute(
                    indicators.update()
                    .where(indicators.c.id == ident)
                    .values(stamp=stamp, computed=now, notes=computed.notes)
                )
        except IntegrityError:
            # another server process stored the same computation first (it saw the same change):
            # its values stand, computed from the same data
            log.info("indicator %s was computed by another process meanwhile", ident)

    # --- reading ------------------------------------------------------------------------------------

    def listing(self, caller: Caller) -> dict[str, Any]:
        """Every indicator the caller may read, with its values, targets and lights."""
        self.refresh()
        scope = self.access.scope(caller)
        shown = [(i, row) for i, row in self._registry() if scope.allows(row.dataset_id)]
        values = self._values([i.id for i, _ in shown])
        self.access.record_read(caller, API, sorted({row.dataset_id for _, row in shown}))
        return {
            "lights": texts.LIGHTS,
            "origins": texts.ORIGINS,
            "indicators": [self._document(i, row, values.get(i.id, [])) for i, row in shown],
        }

    def one(self, caller: Caller, ident: str) -> dict[str, Any]:
        indicator, row = self._readable(caller, ident)
        self.refresh(only=ident)
        indicator, row = self._readable(caller, ident)
        self.access.record_read(caller, API, [row.dataset_id])
        return {
            "lights": texts.LIGHTS,
            "origins": texts.ORIGINS,
            **self._document(indicator, row, self._values([ident]).get(ident, [])),
        }

    def _readable(self, caller: Caller, ident: str) -> tuple[Indicator, Any]:
        scope = self.access.scope(caller)
        for indicator, row in self._registry():
            if indicator.id == ident and scope.allows(row.dataset_id):
                return indicator, row
        raise NotFound(f"no indicator {ident!r}")

    def _values(self, ids: list[str]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        if not ids:
            return out
        with self.engine.connect() as connection:
            for row in connection.execute(
                select(indicator_values)
                .where(indicator_values.c.indicator_id.in_(ids))
                .order_by(indicator_values.c.indicator_id, indicator_values.c.year)
            ):
                out.setdefault(row.indicator_id, []).append(row)
        return out

    @staticmethod
    def _document(indicator: Indicator, row: Any, values: list[Any]) -> dict[str, Any]:
        series = {v.year: v.value for v in values}
        latest = values[-1] if values else None
        return {
            **indicator.document(),
            "values": [
                {
                    "year": v.year,
                    "value": v.value,
                    "origin": v.origin,
                    "recorded_by": v.recorded_by,
                    "note": v.note,
                    "recorded": v.recorded.isoformat().replace("+00:00", "Z"),
                }
                for v in values
            ],
            "latest": None if latest is None else {"year": latest.year, "value": latest.value},
            "computed": None if row.computed is None else row.computed.isoformat().replace("+00:00", "Z"),
            "notes": row.notes or [],
            "targets": [
                {
                    **target_document,
                    **_light_document(assess(series, target, indicator.unit)),
                }
                for target, target_document in zip(
                    indicator.targets, indicator.document()["targets"], strict=True
                )
            ],
        }

    # --- entering by hand ---------------------------------------------------------------------------

    def enter(self, caller: Caller, ident: str, year: int, value: float, note: str | None) -> dict[str, Any]:
        """Store a hand-entered value of `year` (replacing one of that year) of an entered indicator."""
        self.access.require_writer(caller, "entering an indicator's value")
        indicator, row = self._readable(caller, ident)
        if indicator.method != "entered":
            raise BadRequest(
                f"indicator {ident!r} is computed from the platform's data; its values cannot be entered"
            )
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise BadRequest(f"year: expected {FIRST_YEAR} to {LAST_YEAR}, got {year}")
        if not math.isfinite(value):
            raise BadRequest("value: expected a finite number")
        if note is not None and len(note) > MAX_NOTE:
            raise BadRequest(f"note: at most {MAX_NOTE} characters, got {len(note)}")
        with for_writes(self.engine).begin() as connection:
            self.access.authorize_write(caller, connection, row.dataset_id)
            connection.execute(
                delete(indicator_values).where(
                    indicator_values.c.indicator_id == ident, indicator_values.c.year == year
                )
            )
            connection.execute(
                indicator_values.insert().values(
                    indicator_id=ident,
                    year=year,
                    value=float(value),
                    origin="entered",
                    recorded_by=caller.principal.name,
                    note=note,
                    recorded=datetime.now(UTC),
                )
            )
        return self.one(caller, ident)

    def remove(self, caller: Caller, ident: str, year: int) -> None:
        """Delete the hand-entered value of `year`."""
        self.access.require_writer(caller, "deleting an indicator's value")
        indicator, row = self._readable(caller, ident)
        if indicator.method != "entered":
            raise BadRequest(
                f"indicator {ident!r} is computed from the platform's data; its values cannot be deleted"
            )
        with for_writes(self.engine).begin() as connection:
            self.access.authorize_write(caller, connection, row.dataset_id)
            gone = connection.execute(
                delete(indicator_values).where(
                    indicator_values.c.indicator_id == ident, indicator_values.c.year == year
                )
            ).rowcount
        if not gone:
            raise NotFound(f"no value of indicator {ident!r} for {year}")


def _light_document(light: Light) -> dict[str, Any]:
    return {
        "light": light.light,
        "light_label": texts.LIGHTS[light.light],
        "reason": light.reason,
        "progress": light.progress,
        "projected": light.projected,
    }


def build(engine: Engine, settings: Settings, access: Access, city: CityProfile = NO_CITY) -> Indicators:
    """The service with the sources its computations read through."""
    from urbantwin.airquality.service import AirService
    from urbantwin.districts.service import DistrictProfiles
    from urbantwin.energy.jobs import EnergyRuns
    from urbantwin.energy.scenario import Library

    runs = EnergyRuns(engine, access, Library.at(settings.energy_scenarios))
    sources = Sources(
        engine,
        DistrictProfiles(engine, settings, access, city),
        AirService(engine, settings, access, city),
        runs,
    )
    return Indicators(engine, access, sources)
