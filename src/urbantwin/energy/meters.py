"""Simulated quarter meters: a scenario's plan with documented deviation, written as SensorThings data.

A quarter without real meters (the demo's) gets some made, labelled SIMULATED everywhere (the
Thing's and each Datastream's `properties.simulated`, their names, the monitoring API's
`simulated_meters`). They follow the meter convention of `monitoring.py`: one Thing
"<quarter> quarter meters (simulated)" with a Datastream per flow, Observations of kWh per
15-minute interval, written through the SensorThings API like any sensor's (so they reach MQTT and
the browsers' live stream, and the catalogue).

How the values are made from the plan of a run, for each 15-minute step (seeded, reproducible):

- consumption = plan × (1 + `consumption_bias` + ε), PV = plan × (1 + `pv_bias` + ε), gas =
  plan × (1 + `gas_bias` + ε), with ε ~ Normal(0, `noise`) per step and flow, clipped at 0;
- the plan's storage effect at the connection (import − export − consumption + PV: what batteries
  and their losses did) is kept, and the deviated net load is split into grid import and export,
  so the meters balance as a real connection does;
- with no bias and no noise the meters are the plan exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from urbantwin.city_profile import CityProfile
from urbantwin.energy.monitoring import METER_FLOWS, STEP, plan_steps, quarter_name
from urbantwin.energy.scenario import Library
from urbantwin.ingest.sta_client import SensorThingsClient
from urbantwin.ingest.sta_loader import Catalogue, ImportReport, ObservationWriter, Reading


@dataclass(frozen=True)
class MeterPlace:
    """The quarter the meters belong to: its name and where their Thing is placed (lon, lat)."""

    name: str
    location: tuple[float, float]

    @classmethod
    def of(cls, library: Library, city: CityProfile) -> MeterPlace:
        """The scenario folder's quarter (`quarter.toml`), else the city's name and site."""
        site = city.site_point()
        location = library.quarter().location or ((site[0], site[1]) if site else None)
        if location is None:
            raise ValueError(
                "the simulated meters need a place: give the scenario folder's quarter.toml a location, "
                "or the city profile a site or an extent"
            )
        return cls(quarter_name(library, city.name), location)


@dataclass(frozen=True)
class Deviation:
    """How simulated meters deviate from the plan (fractions; see the module doc)."""

    noise: float = 0.05
    consumption_bias: float = 0.0
    pv_bias: float = 0.0
    gas_bias: float = 0.0
    seed: int = 1

    def describe(self, step: str = "15-minute step") -> str:
        return (
            f"plan × (1 + bias + Normal(0, {self.noise:g})) per {step}, biases: consumption "
            f"{self.consumption_bias:+g}, PV {self.pv_bias:+g}, gas {self.gas_bias:+g}; seed {self.seed}"
        )


def meter_values(
    series: dict[str, np.ndarray], start: datetime, steps: int, deviation: Deviation
) -> dict[str, np.ndarray]:
    """The simulated meter readings [kWh per step] of `steps` quarter-hours from `start` (UTC)."""
    return deviate(quarter_plan(series, start, steps), deviation)


def quarter_plan(series: dict[str, np.ndarray], start: datetime, steps: int) -> dict[str, np.ndarray]:
    """The plan of the quarter's meters [kWh per step] for `steps` quarter-hours from `start` (UTC)."""
    times = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us") + np.arange(
        steps
    ) * np.timedelta64(15, "m")
    index = plan_steps(times, len(series["pv"]))
    return {
        "pv": series["pv"][index],
        "consumption": (series["load"] + series["ev"] + series["hp_electricity"])[index],
        "grid_import": series["grid_import"][index],
        "grid_export": series["grid_export"][index],
        "gas": series["gas"][index],
    }


def deviate(plan: dict[str, np.ndarray], deviation: Deviation) -> dict[str, np.ndarray]:
    """Meter readings from a plan's meter flows (arrays of any shape: steps, or steps × meters)."""
    pv, consumption = plan["pv"], plan["consumption"]
    imports, exports, gas = plan["grid_import"], plan["grid_export"], plan["gas"]
    exact = deviation.noise == 0 and not (
        deviation.consumption_bias or deviation.pv_bias or deviation.gas_bias
    )
    if exact:
        return {
            "pv": pv,
            "consumption": consumption,
            "grid_import": imports,
            "grid_export": exports,
            "gas": gas,
        }
    rng = np.random.default_rng(deviation.seed)

    def deviate(values: np.ndarray, bias: float) -> np.ndarray:
        return np.clip(values * (1.0 + bias + rng.normal(0.0, deviation.noise, values.shape)), 0.0, None)

    storage = imports - exports - consumption + pv
    pv_a = deviate(pv, deviation.pv_bias)
    consumption_a = deviate(consumption, deviation.consumption_bias)
    net = consumption_a - pv_a + storage
    return {
        "pv": pv_a,
        "consumption": consumption_a,
        "grid_import": np.clip(net, 0.0, None),
        "grid_export": np.clip(-net, 0.0, None),
        "gas": deviate(gas, deviation.gas_bias),
    }


def ensure_meters(
    client: SensorThingsClient,
    report: ImportReport,
    run_id: str,
    scenario: str,
    deviation: Deviation,
    place: MeterPlace,
) -> dict[str, int]:
    """The simulated meter Thing of the quarter and its Datastreams (made if missing); ids by flow."""
    quarter = place.name
    catalogue = Catalogue(client, report)
    note = (
        f"SIMULATED meters: the plan of energy run {run_id} (scenario {scenario}) with deviation: "
        f"{deviation.describe()}. Not measurements."
    )
    key = f"energy-meters:{quarter}"
    thing = catalogue.ensure(
        "Things",
        key,
        {
            "name": f"{quarter} quarter meters (simulated)",
            "description": f"The energy meters of the quarter {quarter} at its grid connection. {note}",
            "properties": {
                "energy_meters": quarter,
                "simulated": True,
                "plan_run": run_id,
                "scenario": scenario,
                "note": note,
            },
            "Locations": [
                {
                    "name": f"{quarter} quarter",
                    "description": "the quarter's grid connection (placed in its middle)",
                    "encodingType": "application/geo+json",
                    "location": {"type": "Point", "coordinates": list(place.location)},
                }
            ],
        },
    )
    # The meters follow the run they were seeded from (the monitoring's default plan).
    client.request(
        "PATCH",
        f"Things({thing})",
        None,
        {
            "properties": {
                "energy_meters": quarter,
                "simulated": True,
                "plan_run": run_id,
                "scenario": scenario,
                "note": note,
                "import_key": key,
            }
        },
    )
    sensor = meter_sensor(catalogue)
    ids = {}
    for flow in METER_FLOWS.values():
        observed = catalogue.ensure_observed_property(
            {"name": flow.label, "definition": flow.definition, "description": flow.description}
        )
        ids[flow.name] = catalogue.ensure(
            "Datastreams",
            f"energy-meters:{quarter}:{flow.name}",
            {
                "name": f"{quarter} {flow.label.lower()} (simulated)",
                "description": f"{flow.description[:1].upper()}{flow.description[1:]}, kWh per 15 minutes. "
                "SIMULATED.",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {
                    "name": "kilowatt hour",
                    "symbol": "kWh",
                    "definition": "http://unitsofmeasure.org/ucum.html#kW.h",
                },
                "properties": {
                    "energy_flow": flow.name,
                    "role": "actual",
                    "simulated": True,
                    "resolution": "PT15M",
                },
                "Thing": {"@iot.id": thing},
                "Sensor": {"@iot.id": sensor},
                "ObservedProperty": {"@iot.id": observed},
            },
            parent=f"Things({thing})",
        )
    return ids


def meter_sensor(catalogue: Catalogue) -> int:
    """The Sensor of every simulated meter."""
    return catalogue.ensure(
        "Sensors",
        "energy-meters:simulated-meter",
        {
            "name": "Simulated quarter meter",
            "description": "A SIMULATED energy meter: a scenario's plan with documented noise and deviation "
            "(urbantwin.energy.meters).",
            "encodingType": "text/plain",
            "metadata": "urbantwin energy meters",
            "properties": {"simulated": True},
        },
    )


def plan_sensor(catalogue: Catalogue) -> int:
    """The Sensor of every plan Datastream: the energy model that computed it."""
    return catalogue.ensure(
        "Sensors",
        "energy-plan:model",
        {
            "name": "urbantwin energy model (plan)",
            "description": "Plans of the virtual energy quarter: a scenario simulated over a year at "
            "15-minute steps (urbantwin.energy). Its Observations are forecasts, SIMULATED.",
            "encodingType": "text/plain",
            "metadata": "urbantwin energy model",
            "properties": {"simulated": True, "role": "plan"},
        },
    )


def write_meters(
    client: SensorThingsClient,
    run_id: str,
    scenario: str,
    series: dict[str, np.ndarray],
    start: datetime,
    end: datetime,
    deviation: Deviation,
    place: MeterPlace,
    progress: Callable[[int], None] | None = None,
    plan: PlanRun | None = None,
    ahead: timedelta = timedelta(0),
) -> ImportReport:
    """Write the simulated meters' Observations of the quarter-hours in [start, end) (idempotent);
    with `plan`, also the run's plan as forecast Observations of [start, end + ahead) in Datastreams of
    their own on the meters' Thing (`plan_streams`)."""
    start, end = _floor_step(start), _floor_step(end)
    report = ImportReport()
    ids = ensure_meters(client, report, run_id, scenario, deviation, place)
    steps = max(int((end - start) / STEP), 0)
    writer = ObservationWriter(client, report, progress=progress)
    if steps:
        values = meter_values(series, start, steps, deviation)
        for flow, datastream in ids.items():
            readings = [
                Reading(start + k * STEP, start + (k + 1) * STEP, round(float(v), 6), k)
                for k, v in enumerate(values[flow])
            ]
            writer.add(datastream, readings)
    planned = steps + max(int(ahead / STEP), 0)
    if plan is not None and planned:
        catalogue = Catalogue(client, report)
        thing = catalogue.id_of("Things", f"energy-meters:{place.name}")
        if thing is None:  # made just now by ensure_meters
            raise RuntimeError(f"the meter Thing of {place.name} is missing")
        keys = {flow: f"energy-meters:{place.name}:{flow}" for flow in METER_FLOWS}
        refs = stream_refs(catalogue, plan_sensor(catalogue))
        made = len(catalogue.created["Datastreams"])
        streams = {
            flow: catalogue.ensure(
                "Datastreams",
                plan_key(plan.run_id, place.name, "quarter", "", flow),
                {**payload, **refs[flow], "Thing": {"@iot.id": thing}},
                parent=f"Things({thing})",
            )
            for flow, payload in plan_streams(plan, place.name, "quarter", "", keys, "PT15M").items()
        }
        fresh = set(catalogue.created["Datastreams"][made:])
        if fresh and plan.dataset:
            client.place_in_dataset(plan.dataset, plan.dataset_fields(), {"Datastreams": sorted(fresh)})
        planned_values = quarter_plan(series, start, planned)
        for flow, datastream in streams.items():
            readings = [
                Reading(start + k * STEP, start + (k + 1) * STEP, round(float(v), 6), k, plan.computed)
                for k, v in enumerate(planned_values[flow])
            ]
            writer.add(datastream, readings, fresh=datastream in fresh)
    writer.flush()
    return report


# --- plans as Datastreams ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRun:
    """The run whose plan is written as forecast Observations: its id, scenario, when it was computed
    (every plan Observation's resultTime) and the dataset whose rights its Datastreams follow."""

    run_id: str
    scenario: str
    computed: datetime
    dataset: str | None = None

    @classmethod
    def of(cls, row: Any, dataset: str | None = None) -> PlanRun:
        """From a run's row (`EnergyRuns.series`): finished is when its plan was computed."""
        return cls(row.id, row.scenario, (row.finished or datetime.now(UTC)).astimezone(UTC), dataset)

    def dataset_fields(self) -> dict[str, Any]:
        """How the dataset is made should it be missing (a run's is made when its results are stored):
        internal, so that nothing is more open than its run."""
        return {
            "title": f"Energy scenario {self.scenario} (simulated)",
            "description": f"SIMULATED results of the energy scenario {self.scenario}.",
            "access_level": "internal",
        }


def stream_refs(catalogue: Catalogue, sensor: int) -> dict[str, dict[str, Any]]:
    """The Sensor and ObservedProperty references of a Datastream of each flow."""
    return {
        flow.name: {
            "Sensor": {"@iot.id": sensor},
            "ObservedProperty": {
                "@iot.id": catalogue.ensure_observed_property(
                    {"name": flow.label, "definition": flow.definition, "description": flow.description}
                )
            },
        }
        for flow in METER_FLOWS.values()
    }


def plan_key(run_id: str, quarter: str, level: str, key: str, flow: str) -> str:
    """The import key of a plan Datastream: one a run, meter and flow."""
    where = f"{level}:{key}" if key else level
    return f"energy-plan:{run_id}:{quarter}:{where}:{flow}"


def plan_streams(
    plan: PlanRun,
    quarter: str,
    level: str,
    key: str,
    actual_keys: dict[str, str],
    resolution: str,
) -> dict[str, dict[str, Any]]:
    """The payloads of a meter's plan Datastreams by flow (without Thing, Sensor added by the writer).

    Each says what it is in its name ("… plan of run 1a2b3c4d (simulated)") and `properties`: `role`
    "plan", the run (`plan_run`, `scenario`, `computed`), and `actual`: the import key of the meter
    Datastream it is the plan of (on the same Thing, with the same `energy_flow`).
    """
    where = quarter if level == "quarter" else f"{quarter} {level} {key}"
    out = {}
    for flow in METER_FLOWS.values():
        out[flow.name] = {
            "name": f"{where} {flow.label.lower()} plan of run {plan.run_id[:8]} (simulated)",
            "description": f"The plan of {flow.description}, kWh per {_period_words(resolution)}: energy run "
            f"{plan.run_id} (scenario {plan.scenario}), computed {_iso(plan.computed)}; forecast "
            "Observations (resultTime = when the run was computed). SIMULATED.",
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
            "unitOfMeasurement": KWH,
            "properties": {
                "energy_flow": flow.name,
                "role": "plan",
                "simulated": True,
                "plan_run": plan.run_id,
                "scenario": plan.scenario,
                "computed": _iso(plan.computed),
                "meter_level": level,
                **({"meter_key": key} if key else {}),
                "actual": actual_keys[flow.name],
                "resolution": resolution,
            },
        }
    return out


KWH = {"name": "kilowatt hour", "symbol": "kWh", "definition": "http://unitsofmeasure.org/ucum.html#kW.h"}


def _period_words(resolution: str) -> str:
    return {"PT15M": "15 minutes", "PT1H": "hour"}.get(resolution, resolution)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def follow(
    client: SensorThingsClient,
    run_id: str,
    scenario: str,
    series: dict[str, np.ndarray],
    deviation: Deviation,
    stop: threading.Event,
    place: MeterPlace,
    since: datetime | None = None,
    on_write: Callable[[ImportReport], Any] | None = None,
) -> None:
    """Keep the meters live: write each quarter-hour as it ends, until `stop` is set."""
    written = _floor_step(since or datetime.now(UTC))
    while not stop.is_set():
        now = _floor_step(datetime.now(UTC))
        if now > written:
            report = write_meters(client, run_id, scenario, series, written, now, deviation, place)
            written = now
            if on_write is not None:
                on_write(report)
        wait = (written + STEP - datetime.now(UTC)).total_seconds()
        stop.wait(max(wait, 1.0))


def _floor_step(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def last_days(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The quarter-hours of the last `days` days up to now."""
    end = _floor_step(now or datetime.now(UTC))
    return end - timedelta(days=days), end


# --- meters per block and per building ---------------------------------------------------------------

#: The levels meters are written at: the quarter's connection, each block, chosen buildings.
LEVELS = ("quarter", "block", "building")
#: Blocks' and buildings' meters read hourly: the demo's 2,063 blocks × 5 flows at 15 minutes would
#: be 6.9 million Observations a week (13.9 with the plans), hourly 1.7 million (3.5).
GROUP_STEP = timedelta(hours=1)
GROUP_RESOLUTION = "PT1H"
#: At most this many buildings' meters a call (the buildings of a few blocks, not the city's).
MAX_BUILDINGS = 500


@dataclass(frozen=True)
class Selection:
    """Which meters below the quarter: `block` (the given blocks, else all of the run's) or
    `building` (the buildings of the given blocks and the given buildings)."""

    level: str
    blocks: tuple[str, ...] = ()
    buildings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.level not in ("block", "building"):
            raise ValueError(f"level: {self.level!r} is not one of block, building")
        if self.level == "block" and self.buildings:
            raise ValueError("buildings are chosen at the level 'building', not 'block'")
        if self.level == "building" and not (self.blocks or self.buildings):
            raise ValueError("the level 'building' needs the buildings: give blocks or buildings")

    def groups(self, buildings: Any) -> tuple[np.ndarray, list[str]]:
        """The group of each modelled building (-1: not chosen) and the groups' keys."""
        blocks = list(buildings.block)
        known_blocks = set(blocks)
        unknown = [b for b in self.blocks if b not in known_blocks]
        if unknown:
            raise ValueError(f"no block {', '.join(unknown[:5])} among the run's buildings")
        if self.level == "block":
            keys = sorted(set(self.blocks) if self.blocks else known_blocks)
            position = {key: k for k, key in enumerate(keys)}
            return np.array([position.get(b, -1) for b in blocks], dtype=np.int64), keys
        known = set(buildings.keys)
        unknown = [b for b in self.buildings if b not in known]
        if unknown:
            raise ValueError(f"no building {', '.join(unknown[:5])} among the run's buildings")
        wanted_blocks, wanted = set(self.blocks), set(self.buildings)
        keys = [
            key
            for key, block in zip(buildings.keys, blocks, strict=True)
            if block in wanted_blocks or key in wanted
        ]
        if len(keys) > MAX_BUILDINGS:
            raise ValueError(
                f"{len(keys)} buildings chosen; at most {MAX_BUILDINGS} buildings' meters a call"
            )
        position = {key: k for k, key in enumerate(keys)}
        return np.array([position.get(key, -1) for key in buildings.keys], dtype=np.int64), keys


@dataclass
class GroupPlan:
    """A run's plan of the meters of blocks or buildings, hour by hour from `start`."""

    level: str
    keys: list[str]
    #: The block of each group (a block's own key at the level block).
    blocks: list[str]
    #: Buildings per group.
    sizes: list[int]
    #: Where each group's Thing is placed: the mean of its buildings' centroids (lon, lat).
    locations: list[tuple[float, float]]
    start: datetime
    hours: int
    #: Meter flow → kWh per hour, (hours, groups).
    flows: dict[str, np.ndarray]


def group_plan(
    engine: Any,
    library: Library,
    row: Any,
    stored: dict[str, np.ndarray],
    selection: Selection,
    start: datetime,
    end: datetime,
    progress: Callable[[int], None] | None = None,
) -> GroupPlan:
    """The plan of the chosen blocks' or buildings' meters in the hours of [start, end), by simulating
    the run again on the store's buildings and keeping those groups' flows at the steps the period
    reads (`engine.Watch`; the run keeps only the quarter's series). The simulation is deterministic;
    should the buildings or the city have changed since the run, its quarter would differ from the
    stored one (`stored`), and that is refused rather than passed off as the run's plan."""
    from urbantwin.energy import model
    from urbantwin.energy.jobs import load_scenario
    from urbantwin.energy.run import simulate
    from urbantwin.energy.site import Site
    from urbantwin.energy.strategies import Watch
    from urbantwin.store.city import read_profile

    start, end = _floor_hour(start), _floor_hour(end)
    hours = max(int((end - start) / GROUP_STEP), 0)
    if hours == 0:
        raise ValueError("the period has no whole hour")
    times = np.datetime64(start.replace(tzinfo=None), "us") + np.arange(hours * 4) * np.timedelta64(15, "m")
    index = plan_steps(times, len(stored["pv"]))
    steps = np.unique(index)
    loaded = load_scenario(row.scenario, row.overrides or {}, row.id, library)
    city = read_profile(engine)
    records = model.read_buildings(engine, loaded, city)
    if not records:
        raise ValueError(f"no buildings in collection '{loaded.scenario.buildings_collection}'")
    chosen: dict[str, Any] = {}

    def watch(buildings: model.Buildings) -> Watch:
        groups, keys = selection.groups(buildings)
        chosen.update(groups=groups, keys=keys, buildings=buildings)
        return Watch(groups, len(keys), steps)

    simulated = simulate(records, loaded, progress=progress, site=Site.of(city, records), watch=watch)
    again, before = float(simulated.result.series["grid_import"].sum()), float(stored["grid_import"].sum())
    if abs(again - before) > 1e-6 * max(abs(before), 1.0):
        raise ValueError(
            f"the plan of run {row.id} cannot be made again: the store's buildings or city changed since it "
            f"ran (the quarter's grid import is {again:,.0f} kWh now, {before:,.0f} kWh in the run); run the "
            "scenario again"
        )
    watched = simulated.result.watched
    assert watched is not None
    rows = np.searchsorted(steps, index)
    groups, keys, buildings = chosen["groups"], chosen["keys"], chosen["buildings"]
    count = len(keys)

    def hourly(values: np.ndarray) -> np.ndarray:
        return values[rows].reshape(hours, 4, count).sum(axis=1)

    flows = {
        "pv": hourly(watched["pv"]),
        "consumption": hourly(watched["load"] + watched["ev"] + watched["hp_electricity"]),
        "grid_import": hourly(watched["import"]),
        "grid_export": hourly(watched["export"]),
        "gas": hourly(watched["gas"]),
    }
    import shapely

    centroids = shapely.centroid(np.asarray(buildings.geometries, dtype=object))
    xs, ys = shapely.get_x(centroids), shapely.get_y(centroids)
    sizes = np.bincount(groups[groups >= 0], minlength=count)
    locations = []
    block_of = []
    for k in range(count):
        members = np.flatnonzero(groups == k)
        locations.append((round(float(np.nanmean(xs[members])), 7), round(float(np.nanmean(ys[members])), 7)))
        block_of.append(buildings.block[members[0]])
    return GroupPlan(selection.level, keys, block_of, [int(v) for v in sizes], locations, start, hours, flows)


def write_group_meters(
    client: SensorThingsClient,
    plan: PlanRun,
    group: GroupPlan,
    deviation: Deviation,
    quarter: str,
    meters_end: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Write the simulated meters of blocks or buildings for the hours of `group` before `meters_end`,
    and the run's plan for all its hours (forecast Observations), idempotently.

    One Thing a block or building, "<quarter> block <key> meters (simulated)", with a meter Datastream
    a flow (`role` "actual", hourly) and the run's plan Datastreams beside them (`plan_streams`); the
    Things go into the dataset of the run (`plan.dataset`), so who may read a block's meters and plans
    is who may read the run. New Things are made in one request each (with their Location and
    Datastreams), so all blocks of a quarter are a few thousand requests, not tens of thousands.
    """
    report = ImportReport()
    catalogue = Catalogue(client, report)
    catalogue.preload("Things")
    catalogue.preload("Datastreams")
    refs = stream_refs(catalogue, meter_sensor(catalogue))
    plan_refs = stream_refs(catalogue, plan_sensor(catalogue))
    level = group.level
    note = (
        f"SIMULATED meters: the plan of energy run {plan.run_id} (scenario {plan.scenario}) with deviation: "
        f"{deviation.describe('hour')}. Not measurements."
    )
    things: list[int] = []
    fresh_keys: set[str] = set()
    for g, key in enumerate(group.keys):
        thing_key = f"energy-meters:{quarter}:{level}:{key}"
        actual_keys = {flow: f"{thing_key}:{flow}" for flow in METER_FLOWS}
        meters = {
            actual_keys[flow.name]: {
                "name": f"{quarter} {level} {key} {flow.label.lower()} (simulated)",
                "description": f"{flow.description[:1].upper()}{flow.description[1:]}, at the {level}'s "
                f"connections, kWh per hour. SIMULATED.",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": KWH,
                "properties": {
                    "energy_flow": flow.name,
                    "role": "actual",
                    "simulated": True,
                    "meter_level": level,
                    "meter_key": key,
                    "resolution": GROUP_RESOLUTION,
                },
                **refs[flow.name],
            }
            for flow in METER_FLOWS.values()
        }
        plans = {
            plan_key(plan.run_id, quarter, level, key, flow): {**payload, **plan_refs[flow]}
            for flow, payload in plan_streams(
                plan, quarter, level, key, actual_keys, GROUP_RESOLUTION
            ).items()
        }
        wanted = {**meters, **plans}
        properties = {
            "energy_meters": quarter,
            "meter_level": level,
            "meter_key": key,
            "block": group.blocks[g],
            "buildings": group.sizes[g],
            "simulated": True,
            "plan_run": plan.run_id,
            "scenario": plan.scenario,
            "note": note,
        }
        thing = catalogue.id_of("Things", thing_key)
        if thing is None:
            body = {
                "name": f"{quarter} {level} {key} meters (simulated)",
                "description": f"The energy meters of the {level} {key} of the quarter {quarter} "
                f"(the sums of its buildings' connections). {note}",
                "properties": properties,
                "Locations": [
                    {
                        "name": f"{level} {key}",
                        "description": f"the middle of the {level}'s buildings",
                        "encodingType": "application/geo+json",
                        "location": {"type": "Point", "coordinates": list(group.locations[g])},
                    }
                ],
                "Datastreams": [
                    {**payload, "properties": {**payload["properties"], "import_key": k}}
                    for k, payload in wanted.items()
                ],
            }
            thing = catalogue.ensure("Things", thing_key, body)
            fresh_keys.update(wanted)
        else:
            previous = (catalogue.entity("Things", thing).get("properties") or {}).get("plan_run")
            if previous != plan.run_id:  # the meters follow the run they are seeded from now
                client.request(
                    "PATCH", f"Things({thing})", None, {"properties": {**properties, "import_key": thing_key}}
                )
            for stream_key, payload in wanted.items():
                if catalogue.id_of("Datastreams", stream_key) is None:
                    catalogue.ensure("Datastreams", stream_key, {**payload, "Thing": {"@iot.id": thing}})
                    fresh_keys.add(stream_key)
        things.append(thing)
    if fresh_keys - catalogue.known("Datastreams"):
        catalogue.preload("Datastreams")  # the Datastreams made inside new Things
    if plan.dataset and things:
        client.place_in_dataset(plan.dataset, plan.dataset_fields(), {"Things": sorted(set(things))})
    meter_hours = max(min(int((_floor_hour(meters_end) - group.start) / GROUP_STEP), group.hours), 0)
    actual = deviate({flow: values[:meter_hours] for flow, values in group.flows.items()}, deviation)
    writer = ObservationWriter(client, report, progress=progress)
    for g, key in enumerate(group.keys):
        thing_key = f"energy-meters:{quarter}:{level}:{key}"
        for flow in METER_FLOWS:
            meter_key = f"{thing_key}:{flow}"
            meter = catalogue.id_of("Datastreams", meter_key)
            planned = catalogue.id_of("Datastreams", plan_key(plan.run_id, quarter, level, key, flow))
            if meter is None or planned is None:
                raise RuntimeError(f"the Datastreams of the {level} {key} were not made")
            if meter_hours:
                writer.add(
                    meter,
                    (
                        Reading(
                            group.start + h * GROUP_STEP,
                            group.start + (h + 1) * GROUP_STEP,
                            round(float(v), 6),
                            h,
                        )
                        for h, v in enumerate(actual[flow][:, g])
                    ),
                    fresh=meter_key in fresh_keys,
                )
            writer.add(
                planned,
                (
                    Reading(
                        group.start + h * GROUP_STEP,
                        group.start + (h + 1) * GROUP_STEP,
                        round(float(v), 6),
                        h,
                        plan.computed,
                    )
                    for h, v in enumerate(group.flows[flow][:, g])
                ),
                fresh=plan_key(plan.run_id, quarter, level, key, flow) in fresh_keys,
            )
    writer.flush()
    return report


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
