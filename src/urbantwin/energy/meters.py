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

    def describe(self) -> str:
        return (
            f"plan × (1 + bias + Normal(0, {self.noise:g})) per 15-minute step, biases: consumption "
            f"{self.consumption_bias:+g}, PV {self.pv_bias:+g}, gas {self.gas_bias:+g}; seed {self.seed}"
        )


def meter_values(
    series: dict[str, np.ndarray], start: datetime, steps: int, deviation: Deviation
) -> dict[str, np.ndarray]:
    """The simulated meter readings [kWh per step] of `steps` quarter-hours from `start` (UTC)."""
    times = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us") + np.arange(
        steps
    ) * np.timedelta64(15, "m")
    index = plan_steps(times, len(series["pv"]))
    pv = series["pv"][index]
    consumption = (series["load"] + series["ev"] + series["hp_electricity"])[index]
    imports, exports = series["grid_import"][index], series["grid_export"][index]
    gas = series["gas"][index]
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
        return np.clip(values * (1.0 + bias + rng.normal(0.0, deviation.noise, len(values))), 0.0, None)

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
    sensor = catalogue.ensure(
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
                "properties": {"energy_flow": flow.name, "simulated": True, "resolution": "PT15M"},
                "Thing": {"@iot.id": thing},
                "Sensor": {"@iot.id": sensor},
                "ObservedProperty": {"@iot.id": observed},
            },
            parent=f"Things({thing})",
        )
    return ids


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
) -> ImportReport:
    """Write the simulated meters' Observations of the quarter-hours in [start, end) (idempotent)."""
    start, end = _floor_step(start), _floor_step(end)
    report = ImportReport()
    ids = ensure_meters(client, report, run_id, scenario, deviation, place)
    steps = max(int((end - start) / STEP), 0)
    if steps == 0:
        return report
    values = meter_values(series, start, steps, deviation)
    writer = ObservationWriter(client, report, progress=progress)
    for flow, datastream in ids.items():
        readings = [
            Reading(start + k * STEP, start + (k + 1) * STEP, round(float(v), 6), k)
            for k, v in enumerate(values[flow])
        ]
        writer.add(datastream, readings)
    writer.flush()
    return report


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
