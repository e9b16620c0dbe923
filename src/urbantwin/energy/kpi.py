"""KPIs of a simulated year per building, block and district, and the table against the SPARCS targets.

Definitions (annual sums; "consumption" is the electricity the loads use: household/commercial load,
heat pumps and EV charging):

- self-consumption = (PV − export) / PV; self-sufficiency = (consumption − import) / consumption
  (the usual definitions, e.g. HTW Berlin's "Eigenverbrauchs-" and "Autarkiegrad");
- final energy = consumption + battery losses + gas (what the buildings use, whatever its source);
- primary energy = non-renewable primary energy: 1.8 × grid import + 1.1 × gas (GEG 2020 Anlage 4;
  on-site PV counts 0, export is not credited);
- renewable energy = PV used on site + the grid's renewable share of imports + ambient heat of the
  heat pumps (heat − electricity; renewable under EU RED II); renewable share = renewable energy /
  (final energy + ambient heat);
- CO2 = grid import × grid factor (per step) + gas × gas factor; cost = import × price − export ×
  feed-in + gas × gas price;
- annual energy balance = PV generation − final energy; positive-energy when ≥ 0 (SPARCS' positive
  energy district, on final energy).

The district is the quarter behind its grid connection: buildings exchange energy with each other and
with the quarter battery, so its import and export are less than the sums over buildings.

The SPARCS targets (CO2 −64 %, renewables +65 %, energy −53 %, www.sparcs.info) are read as changes
against the baseline scenario: of CO2, of renewable energy used, and of final energy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from urbantwin.energy.engine import Result
from urbantwin.energy.scenario import Scenario

#: SPARCS targets as relative changes against the baseline.
TARGETS = {"co2": -0.64, "renewable": 0.65, "final_energy": -0.53}
TARGET_LABELS = {
    "co2": "CO2 emissions",
    "renewable": "renewable energy used",
    "final_energy": "final energy",
}
KPI_FIELDS = (
    "pv_kwh",
    "consumption_kwh",
    "import_kwh",
    "export_kwh",
    "self_consumption",
    "self_sufficiency",
    "gas_kwh",
    "heat_kwh",
    "ambient_heat_kwh",
    "final_energy_kwh",
    "primary_energy_kwh",
    "renewable_kwh",
    "renewable_share",
    "co2_kg",
    "cost_eur",
    "energy_balance_kwh",
    "positive_energy",
)


def _ratio(numerator: Any, denominator: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _kpis(
    pv: Any,
    consumption: Any,
    imports: Any,
    exports: Any,
    battery_loss: Any,
    gas: Any,
    heat: Any,
    ambient: Any,
    co2_import_kg: Any,
    scenario: Scenario,
) -> dict[str, Any]:
    g = scenario.grid
    pv, consumption, imports, exports = (
        np.asarray(x, dtype=float) for x in (pv, consumption, imports, exports)
    )
    gas, ambient = np.asarray(gas, dtype=float), np.asarray(ambient, dtype=float)
    final = consumption + np.asarray(battery_loss, dtype=float) + gas
    renewable = (pv - exports) + imports * g.renewable_share + ambient
    balance = pv - final
    return {
        "pv_kwh": pv,
        "consumption_kwh": consumption,
        "import_kwh": imports,
        "export_kwh": exports,
        "self_consumption": _ratio(pv - exports, pv),
        "self_sufficiency": np.clip(_ratio(consumption - imports, consumption), 0.0, 1.0),
        "gas_kwh": gas,
        "heat_kwh": np.asarray(heat, dtype=float),
        "ambient_heat_kwh": ambient,
        "final_energy_kwh": final,
        "primary_energy_kwh": g.primary_factor_grid * imports + g.primary_factor_gas * gas,
        "renewable_kwh": renewable,
        "renewable_share": _ratio(renewable, final + ambient),
        "co2_kg": np.asarray(co2_import_kg, dtype=float) + gas * g.gas_co2_g_per_kwh / 1000.0,
        "cost_eur": imports * g.import_eur_per_kwh - exports * g.export_eur_per_kwh + gas * g.gas_eur_per_kwh,
        "energy_balance_kwh": balance,
        "positive_energy": balance >= 0,
    }


def buildings(result: Result, scenario: Scenario) -> dict[str, np.ndarray]:
    """KPIs of every building (arrays over the buildings), at the building's own meter."""
    a = result.annual
    consumption = a["load"] + a["ev"] + a["hp_electricity"]
    return _kpis(
        a["pv"],
        consumption,
        a["import"],
        a["export"],
        a["battery_loss"],
        a["gas"],
        a["heat_demand"],
        a["hp_heat"] - a["hp_electricity"],
        a["co2_kg"],
        scenario,
    )


def groups(result: Result, scenario: Scenario, labels: Sequence[str | None]) -> dict[str, dict[str, float]]:
    """KPIs of groups of buildings (blocks, districts): sums of their buildings' meters."""
    members: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[str(label)].append(index)
    a = result.annual
    out = {}
    for label, member_indices in sorted(members.items()):
        i = np.array(member_indices)
        values = _kpis(
            a["pv"][i].sum(),
            (a["load"][i] + a["ev"][i] + a["hp_electricity"][i]).sum(),
            a["import"][i].sum(),
            a["export"][i].sum(),
            a["battery_loss"][i].sum(),
            a["gas"][i].sum(),
            a["heat_demand"][i].sum(),
            (a["hp_heat"][i] - a["hp_electricity"][i]).sum(),
            a["co2_kg"][i].sum(),
            scenario,
        )
        out[label] = {k: _scalar(v) for k, v in values.items()} | {"buildings": len(member_indices)}
    return out


def district(result: Result, scenario: Scenario) -> dict[str, float]:
    """KPIs of the whole quarter at its grid connection (after sharing and the quarter battery)."""
    s = result.series
    consumption = s["load"].sum() + s["ev"].sum() + s["hp_electricity"].sum()
    values = _kpis(
        s["pv"].sum(),
        consumption,
        s["grid_import"].sum(),
        s["grid_export"].sum(),
        s["battery_loss"].sum() + s["quarter_loss"].sum(),
        s["gas"].sum(),
        s["heat_demand"].sum(),
        s["hp_heat"].sum() - s["hp_electricity"].sum(),
        s["grid_co2_kg"].sum(),
        scenario,
    )
    out = {k: _scalar(v) for k, v in values.items()}
    p = result.plant
    out.update(
        {
            "buildings": p.n,
            "pv_kwp": float(p.pv_kwp.sum()),
            "pv_buildings": int((p.pv_kwp > 0).sum()),
            "battery_kwh": float(p.battery_kwh.sum()),
            "quarter_battery_kwh": float(p.quarter_kwh),
            "heat_pumps": int(p.heat_pump.sum()),
            "ev_points": len(p.ev_owner),
            "ev_unmet_kwh": result.ev_unmet_kwh,
            "pv_specific_yield_kwh_per_kwp": _scalar(
                _ratio(np.float64(s["pv"].sum()), np.float64(p.pv_kwp.sum()))
            ),
            "strategy": result.strategy,
        }
    )
    return out


def _scalar(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


@dataclass
class TargetRow:
    """One scenario against the SPARCS targets (changes against the baseline, as fractions)."""

    scenario: str
    co2: float
    renewable: float
    final_energy: float

    def met(self, key: str) -> bool:
        """Whether the change reaches the target (−64 % or less, +65 % or more, −53 % or less)."""
        value, target = getattr(self, key), TARGETS[key]
        return value <= target if target < 0 else value >= target


def against_baseline(name: str, kpis: dict[str, float], baseline: dict[str, float]) -> TargetRow:
    """The changes of a scenario's district KPIs against the baseline's."""

    def change(key: str) -> float:
        before = baseline[key] or 0.0
        return (kpis[key] - before) / before if before else float("nan")

    return TargetRow(name, change("co2_kg"), change("renewable_kwh"), change("final_energy_kwh"))


def targets_table(rows: Sequence[TargetRow]) -> str:
    """A Markdown table of scenarios against the SPARCS targets."""
    head = (
        "| scenario | " + " | ".join(f"{TARGET_LABELS[k]} (target {TARGETS[k]:+.0%})" for k in TARGETS) + " |"
    )
    lines = [head, "|---|" + "---|" * len(TARGETS)]
    for row in rows:
        cells = []
        for key in TARGETS:
            value = getattr(row, key)
            cells.append(f"{value:+.1%} {'✔' if row.met(key) else '✘'}")
        lines.append(f"| {row.scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
