"""Results of a run, as data on the platform: a per-building KPI collection and files in a folder.

- The per-building KPIs become a feature collection `energy-<scenario>` through the importers'
  pipeline (`store_rows`), so it is served by OGC API Features/Tiles and published as an open
  dataset of the catalogue at once; importing the same run twice changes nothing.
- The folder gets `<scenario>/buildings.geojson` (the same features), `blocks.csv` and
  `districts.csv` (KPIs per block and per district of the area, sums of their buildings' meters),
  `district.json` (the quarter's KPIs, parameters with their sources and whether they are assumed,
  the site it was simulated at),
  `timeseries.csv` (the quarter's 15-minute series; also `timeseries.parquet` when pyarrow is
  installed), and the run's `targets.md` table.

Everything is labelled: each feature has `simulated: true` and the labels of what was assumed about
it (`*_source` values starting with `assumed:`); the series file says SIMULATED in its header.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine

from urbantwin.energy.engine import BUILDING_FLOWS, QUARTER_FLOWS
from urbantwin.energy.kpi import KPI_FIELDS, groups
from urbantwin.energy.run import Run
from urbantwin.ingest.pipeline import CollectionInfo, ImportReport, Row, store_rows

NOTE = (
    "SIMULATED: results of the urbantwin energy model for a scenario, not measurements. Inputs: OSM "
    "buildings, BDEW SLP 2025, TABULA DE, DWD TRY 2010 region 4; EV sessions are synthetic; values whose "
    "source starts with 'assumed:' are assumptions."
)


def collection_id(run: Run) -> str:
    """The id of the run's KPI collection."""
    return f"energy-{run.scenario.scenario.name}"


def building_properties(run: Run) -> list[dict[str, Any]]:
    """The properties of each building's KPI feature (attributes with their sources, KPIs, flags)."""
    b, d, plant = run.buildings, run.demand, run.plant
    k = run.building_kpis
    info = run.scenario.scenario
    out = []
    for i, key in enumerate(b.keys):
        sources = {
            "use_source": b.use_source[i],
            "levels_source": b.levels_source[i],
            "age_source": b.age_source[i],
            "roof_source": b.roof_source[i],
            "dwellings_source": b.dwellings_source[i] if b.dwellings_source else "",
        }
        assumed = [
            name.removesuffix("_source") for name, value in sources.items() if value.startswith("assumed")
        ]
        assumed += ["heated_area_m2", "dwellings", "electricity_demand", "heat_demand"]
        if d.typology[i].startswith("assumed"):
            assumed.append("typology")
        properties: dict[str, Any] = {
            "building_key": key,
            "scenario": info.name,
            "strategy": run.result.strategy,
            "simulated": True,
            "note": NOTE,
            "use": b.use[i],
            "levels": _clean(b.levels[i]),
            "year": b.year[i],
            "age_class": b.age_class[i],
            "size_class": b.size_class[i],
            "typology": d.typology[i],
            "refurbishment_variant": int(d.variant[i]),
            "footprint_m2": _clean(b.footprint_m2[i]),
            "heated_area_m2": _clean(b.heated_area_m2[i]),
            "dwellings": _clean(b.dwellings[i]),
            "roof_type": b.roof_type[i],
            "roof_area_m2": _clean(b.roof_area_m2[i]),
            "pv_azimuth_deg": _clean(b.pv_azimuth[i]),
            "block": b.block[i],
            "district": b.district[i],
            "pv_kwp": _clean(plant.pv_kwp[i]),
            "battery_kwh": _clean(plant.battery_kwh[i]),
            "heat_pump": bool(plant.heat_pump[i]),
            "ev_points": int((plant.ev_owner == i).sum()),
            **sources,
            "assumed": assumed,
        }
        for name in KPI_FIELDS:
            properties[name] = _clean(k[name][i])
        if run.building_extra:
            properties.update(run.building_extra[i])
        out.append(properties)
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def store_kpis(engine: Engine, run: Run, progress: bool = False) -> ImportReport:
    """Upsert the per-building KPIs as the collection `energy-<scenario>` (a catalogue dataset)."""
    info = run.scenario.scenario
    rows = []
    for key, geometry, properties in zip(
        run.buildings.keys, run.buildings.geometries, building_properties(run), strict=True
    ):
        wkb = shapely.to_wkb(geometry, output_dimension=2) if geometry is not None else None
        bounds = tuple(float(v) for v in shapely.bounds(geometry)) if geometry is not None else None
        rows.append(Row(key, properties, wkb, bounds, None, None, None))  # type: ignore[arg-type]
    district = run.district_kpis
    description = (
        f"{info.title}: {info.description} Per-building KPIs of a simulated year (15-minute steps) with the "
        f"'{run.result.strategy}' strategy: self-consumption, self-sufficiency, renewable share, final and "
        f"primary energy, CO2, cost and the annual energy balance. District: "
        f"{district['buildings']} buildings, {district['pv_kwp']:.0f} kWp PV, "
        f"{district['heat_pumps']} heat pumps, {district['ev_points']} EV points. {NOTE}"
    )
    collection = CollectionInfo(
        collection_id(run),
        f"Energy scenario: {info.title} (simulated)",
        description,
        "ODbL-1.0 (derived from OpenStreetMap buildings)",
        "© OpenStreetMap contributors; BDEW; IWU TABULA; DWD; urbantwin energy model",
        ["energy", "SPARCS", "scenario", "simulated", info.name],
    )
    return store_rows(engine, rows, collection, "OGC:CRS84", progress=progress, delete_missing=True)


def write_files(run: Run, folder: Path) -> list[Path]:
    """The run's files in `folder/<scenario>/` (see the module doc); the paths written."""
    info = run.scenario.scenario
    out = folder / info.name
    out.mkdir(parents=True, exist_ok=True)
    written = []
    features = []
    for geometry, properties in zip(run.buildings.geometries, building_properties(run), strict=True):
        features.append(
            {
                "type": "Feature",
                "id": properties["building_key"],
                "geometry": shapely.geometry.mapping(geometry) if geometry is not None else None,
                "properties": properties,
            }
        )
    path = out / "buildings.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    written.append(path)
    levels = {"blocks.csv": ("block", run.block_kpis)}
    if any(run.buildings.district):
        levels["districts.csv"] = ("district", groups(run.result, run.scenario, run.buildings.district))
    for name, (label, table) in levels.items():
        path = out / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([label, "buildings", *KPI_FIELDS])
            for key, values in table.items():
                writer.writerow([key, values["buildings"], *(_clean(values[k]) for k in KPI_FIELDS)])
        written.append(path)
    path = out / "district.json"
    document = {
        "scenario": info.name,
        "title": info.title,
        "description": info.description,
        "strategy": run.result.strategy,
        "optimiser_mode": run.result.mode or None,
        "note": NOTE,
        "kpis": {k: _clean(v) for k, v in run.district_kpis.items()},
        "parameters": [{**p, "value": p["value"]} for p in run.scenario.parameters()],
        "site": dataclasses.asdict(run.site) if run.site else None,
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str))
    written.append(path)
    written += write_series(run, out)
    return written


def write_series(run: Run, out: Path) -> list[Path]:
    """The quarter's 15-minute series [kWh per step; CO2 in kg] as CSV (and Parquet with pyarrow)."""
    series = {name: run.result.series[name] for name in SERIES_FLOWS}
    year, name = run.scenario.scenario.year, run.scenario.scenario.name
    path = out / "timeseries.csv"
    path.write_text(series_csv(series, year, name), encoding="utf-8")
    written = [path]
    data = series_parquet(series, year)
    if data is None:
        return written
    parquet = out / "timeseries.parquet"
    parquet.write_bytes(data)
    return [*written, parquet]


# --- the quarter's series as stored data: packed, as CSV/Parquet, as profiles ----------------------

#: The district series a run keeps (kWh per 15-minute step; the co2 columns in kg).
SERIES_FLOWS = (*BUILDING_FLOWS, *QUARTER_FLOWS)
#: Flows of the profiles: what the quarter's grid connection and its loads see.
PROFILE_FLOWS = (
    "pv",
    "consumption",
    "grid_import",
    "grid_export",
    "load",
    "ev",
    "hp_electricity",
    "battery_charge",
    "battery_discharge",
)
PROFILE_LABELS = {
    "pv": "PV generation",
    "consumption": "electricity consumption (load + EV + heat pumps)",
    "grid_import": "grid import of the quarter",
    "grid_export": "grid export of the quarter",
    "load": "household and commercial load",
    "ev": "EV charging",
    "hp_electricity": "heat pump electricity",
    "battery_charge": "home batteries charging",
    "battery_discharge": "home batteries discharging",
}
#: Meteorological seasons by month.
SEASONS = {
    "winter": (12, 1, 2),
    "spring": (3, 4, 5),
    "summer": (6, 7, 8),
    "autumn": (9, 10, 11),
}
STEPS_PER_DAY = 96


def pack_series(series: dict[str, np.ndarray]) -> bytes:
    """The series as one compressed `.npz` blob (float64, lossless)."""
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {name: np.asarray(values, dtype=np.float64) for name, values in series.items()}
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def unpack_series(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def with_consumption(series: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The series plus `consumption`: the electricity the loads use (load + EV + heat pumps)."""
    return {**series, "consumption": series["load"] + series["ev"] + series["hp_electricity"]}


def step_months(year: int, steps: int) -> np.ndarray:
    """The month (1..12) of every step on the simulation clock (UTC+1, days from 1 January)."""
    days = np.arange(steps) // STEPS_PER_DAY
    dates = np.datetime64(f"{year:04d}-01-01") + days.astype("timedelta64[D]")
    return dates.astype("datetime64[M]").astype(int) % 12 + 1


def profiles(series: dict[str, np.ndarray], year: int) -> dict[str, Any]:
    """Daily profiles per season (mean kW per quarter-hour of the day) and monthly sums (MWh).

    The hours are those of the simulation clock (MEZ, UTC+1); a season is the mean over its days.
    """
    flows = with_consumption(series)
    steps = len(flows["pv"])
    months = step_months(year, steps)
    days = steps // STEPS_PER_DAY
    daily: dict[str, dict[str, list[float]]] = {}
    for season, members in SEASONS.items():
        day_months = months[::STEPS_PER_DAY][:days]
        chosen = np.isin(day_months, members)
        daily[season] = {}
        for name in PROFILE_FLOWS:
            by_day = flows[name][: days * STEPS_PER_DAY].reshape(days, STEPS_PER_DAY)
            mean_kwh = by_day[chosen].mean(axis=0) if chosen.any() else np.zeros(STEPS_PER_DAY)
            daily[season][name] = [round(float(v) * 4.0, 6) for v in mean_kwh]  # kWh per 15 min → kW
    monthly = {
        name: [float(flows[name][months == month].sum()) / 1000.0 for month in range(1, 13)]
        for name in PROFILE_FLOWS
    }
    return {
        "simulated": True,
        "note": NOTE,
        "flows": list(PROFILE_FLOWS),
        "labels": dict(PROFILE_LABELS),
        "daily": {"unit": "kW", "hours": [k / 4 for k in range(STEPS_PER_DAY)], "seasons": daily},
        "monthly": {"unit": "MWh", "months": list(range(1, 13)), "values": monthly},
    }


def series_csv(series: dict[str, np.ndarray], year: int, scenario: str) -> str:
    """The series as CSV: a SIMULATED header line, then `time` (ISO 8601, UTC+1) and one column a flow."""
    from urbantwin.energy.loads import calendar

    names = [name for name in SERIES_FLOWS if name in series]
    steps = len(series[names[0]])
    stamps = calendar(year).timestamps()[:steps]
    handle = io.StringIO()
    handle.write(f"# {NOTE} Units: kWh per 15-minute step (co2 columns: kg). Scenario {scenario}.\n")
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(["time", *names])
    columns = np.column_stack([series[n] for n in names])
    for stamp, row in zip(stamps, columns, strict=True):
        writer.writerow([stamp, *(f"{v:.6g}" for v in row)])
    return handle.getvalue()


def series_parquet(series: dict[str, np.ndarray], year: int) -> bytes | None:
    """The series as Parquet (the note in the file's metadata), or None without pyarrow."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    from urbantwin.energy.loads import calendar

    names = [name for name in SERIES_FLOWS if name in series]
    stamps = calendar(year).timestamps()[: len(series[names[0]])]
    table = pa.table({"time": stamps, **{n: series[n] for n in names}})
    table = table.replace_schema_metadata({"note": NOTE})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()
