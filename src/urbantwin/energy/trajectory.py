"""The grid's CO2 factor and renewable share as a path per year, and the year a scenario meets its targets.

A scenario's KPIs are simulated with one grid (`grid.co2_g_per_kwh`, `grid.renewable_share`, by
default the 2023 mix). The same plant emits less as the grid decarbonises, so the question "in which
year does it meet the targets" is answered by re-evaluating the district's annual flows with the
grid of each year, against the baseline as simulated (today's quarter with today's grid):

    CO2(y)       = grid import × factor(y) + the scenario's CO2 from gas (and district heating)
    renewable(y) = PV used in the quarter + grid import × renewable share(y) + ambient heat
    final energy   does not depend on the grid.

The path (`GERMAN_GRID`) is anchored on three years and linear in between:

- 2023: 51.8 % renewable (AGEE-Stat / UBA, share of gross electricity consumption), 380 g/kWh (UBA,
  CO2 emission factor of the German power mix 2023) — what the scenarios assume today;
- 2030: 80 % renewable, the target of the EEG 2023 (§ 1 (2));
- 2045: 100 % renewable — the Klimaschutzgesetz (KSG § 3 (2)) sets net greenhouse-gas neutrality
  for 2045; that the power supply is then entirely renewable is an assumption.

The CO2 factor of a year is taken proportional to the non-renewable share, with the 2023 ratio
(380 g/kWh ÷ 48.2 % = 788 g per kWh of non-renewable electricity): an assumption that overstates
the factor where coal leaves before gas does. Any other path (e.g. a grid operator's scenario) can
be given as a CSV with the columns `year`, `co2_g_per_kwh`, `renewable_share`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urbantwin.energy.kpi import TARGETS

#: (year, renewable share of grid electricity, source) of the anchors of the default path.
ANCHORS = (
    (2023, 0.518, "AGEE-Stat/UBA 2023: 51.8 % of gross electricity consumption"),
    (2030, 0.80, "EEG 2023 § 1 (2): 80 % of gross electricity consumption"),
    (2045, 1.00, "assumed from KSG § 3 (2): net greenhouse-gas neutrality in 2045"),
)
#: CO2 of the 2023 German mix [g/kWh] (UBA), the factor the scenarios assume.
CO2_2023 = 380.0
FIRST_YEAR, LAST_YEAR = 2023, 2045


@dataclass(frozen=True)
class GridYear:
    """The grid of one year: CO2 factor [g/kWh], renewable share, and where the figures come from."""

    year: int
    co2_g_per_kwh: float
    renewable_share: float
    source: str


def german_grid() -> dict[int, GridYear]:
    """The default path 2023–2045 (see the module doc): linear between the anchors."""
    out = {}
    per_non_renewable = CO2_2023 / (1.0 - ANCHORS[0][1])
    for (y0, r0, s0), (y1, r1, s1) in zip(ANCHORS, ANCHORS[1:], strict=False):
        for year in range(y0, y1 + 1):
            share = r0 + (r1 - r0) * (year - y0) / (y1 - y0)
            source = s0 if year == y0 else s1 if year == y1 else f"linear between {y0} and {y1}"
            if year != FIRST_YEAR:
                source += "; CO2 factor assumed proportional to the non-renewable share (2023 ratio)"
            out[year] = GridYear(year, round(per_non_renewable * (1.0 - share), 1), round(share, 4), source)
    out[FIRST_YEAR] = GridYear(FIRST_YEAR, CO2_2023, ANCHORS[0][1], ANCHORS[0][2] + "; UBA: 380 g/kWh")
    return out


GERMAN_GRID = german_grid()


def read_path(path: Path) -> dict[int, GridYear]:
    """A path from a CSV with the columns year, co2_g_per_kwh, renewable_share (one row per year)."""
    out = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    year = int(row["year"])
                    co2 = float(row["co2_g_per_kwh"])
                    share = float(row["renewable_share"])
                except (KeyError, TypeError, ValueError):
                    raise ValueError(
                        f"{path}, line {line}: expected the columns year, co2_g_per_kwh, renewable_share"
                    ) from None
                if co2 < 0 or not 0.0 <= share <= 1.0:
                    raise ValueError(f"{path}, line {line}: co2 must be ≥ 0 and the share within 0..1")
                out[year] = GridYear(year, co2, share, f"from {path.name}")
    except OSError as exc:
        raise ValueError(f"cannot read the grid path {path}: {exc}") from None
    if not out:
        raise ValueError(f"{path}: no years")
    return out


def grid_of(year: int, path: Mapping[int, GridYear] = GERMAN_GRID) -> GridYear:
    """The grid of `year` (a year outside the path is refused, naming the path's range)."""
    if year not in path:
        raise ValueError(f"year {year} is outside the grid path ({min(path)}–{max(path)})")
    return path[year]


def kpis_in(
    district: Mapping[str, Any], grid: GridYear, scenario_grid_co2_g_per_kwh: float
) -> dict[str, float]:
    """A district's CO2, renewable energy and final energy with the grid of another year.

    `district` holds the annual KPIs of `kpi.district` (import, export, PV, ambient heat, CO2, final
    energy); the CO2 not from grid imports (gas, district heating) is kept as simulated.
    """
    imports = float(district["import_kwh"])
    grid_co2 = imports * scenario_grid_co2_g_per_kwh / 1000.0
    other_co2 = float(district["co2_kg"]) - grid_co2
    renewable = (
        float(district["pv_kwh"])
        - float(district["export_kwh"])
        + imports * grid.renewable_share
        + float(district["ambient_heat_kwh"])
        + float(district.get("district_heating_renewable_kwh", 0.0) or 0.0)
    )
    return {
        "co2_kg": imports * grid.co2_g_per_kwh / 1000.0 + other_co2,
        "renewable_kwh": renewable,
        "final_energy_kwh": float(district["final_energy_kwh"]),
    }


def changes(kpis: Mapping[str, float], baseline: Mapping[str, Any]) -> dict[str, float]:
    """Changes of CO2, renewable energy and final energy against the baseline (fractions)."""
    names = {"co2": "co2_kg", "renewable": "renewable_kwh", "final_energy": "final_energy_kwh"}
    out = {}
    for key, field in names.items():
        before = float(baseline[field] or 0.0)
        out[key] = (float(kpis[field]) - before) / before if before else float("nan")
    return out


def met(change: Mapping[str, float], targets: Mapping[str, float] = TARGETS) -> dict[str, bool]:
    """Whether each change reaches its target (a reduction target is met at or below it)."""
    return {
        key: (change[key] <= target if target < 0 else change[key] >= target)
        for key, target in targets.items()
    }


def path_of(
    district: Mapping[str, Any],
    baseline: Mapping[str, Any],
    scenario_grid_co2_g_per_kwh: float,
    targets: Mapping[str, float] = TARGETS,
    path: Mapping[int, GridYear] = GERMAN_GRID,
) -> dict[str, Any]:
    """A scenario's changes against the baseline in every year of the path, and the first year in
    which each target, and all of them, are met (None: not within the path)."""
    years = []
    first: dict[str, int | None] = {key: None for key in targets}
    first_all: int | None = None
    for year in sorted(path):
        grid = path[year]
        change = changes(kpis_in(district, grid, scenario_grid_co2_g_per_kwh), baseline)
        reached = met(change, targets)
        for key, ok in reached.items():
            if ok and first[key] is None:
                first[key] = year
        if all(reached.values()) and first_all is None:
            first_all = year
        years.append(
            {
                "year": year,
                "grid_co2_g_per_kwh": grid.co2_g_per_kwh,
                "grid_renewable_share": grid.renewable_share,
                "changes": change,
                "met": reached,
            }
        )
    return {"targets": dict(targets), "first_year": first, "first_year_all": first_all, "years": years}


def table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """A Markdown table: per scenario, the first year each target and all of them are met."""
    head = "| scenario | " + " | ".join(f"{k} ({TARGETS[k]:+.0%})" for k in TARGETS) + " | all three |"
    lines = [head, "|---|" + "---|" * (len(TARGETS) + 1)]
    for name, row in rows.items():
        cells = [str(row["first_year"][k] or f"not by {LAST_YEAR}") for k in TARGETS]
        cells.append(str(row["first_year_all"] or f"not by {LAST_YEAR}"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
