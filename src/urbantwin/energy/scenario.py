"""Scenarios: every assumption of the energy model as a named, documented, overridable parameter.

A scenario is a TOML file (see `scenarios/`) whose tables and keys are the sections and fields
below; whatever a file does not set keeps the default written here, with its source. Any value can be
overridden on the command line as `--set section.key=value` (TOML syntax for the value), e.g.
`--set pv.adoption=0.8 --set grid.co2_g_per_kwh=300`.

Each parameter says where its value comes from (`source`) and whether it is *assumed* (a modelling
choice or an estimate for the quarter, not a measured fact); `Scenario.parameters()` lists them, and
the outputs of a run carry that list, so what is assumed is labelled wherever results go.

Scenario files are kept in folders (`Library`): the package bundles generic ones (`scenarios/`:
every building of the city, no area); a city or the demo brings its own folder, whose
`quarter.toml` may name the quarter its meters are known by and where they are.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

SCENARIOS = Path(__file__).parent / "scenarios"
STRATEGIES = ("baseline", "rule_based", "optimised")
#: The file of a scenario folder that describes its quarter (not a scenario).
QUARTER_FILE = "quarter.toml"


def param(default: Any, doc: str, source: str, assumed: bool = True, whole_table: bool = False) -> Any:
    """A scenario parameter with its documentation, its source and whether it is assumed.

    A table (dict) given for it sets some of the default's keys, or with `whole_table` replaces it.
    """
    meta: dict[str, Any] = {"doc": doc, "source": source, "assumed": assumed}
    if whole_table:
        meta["whole_table"] = True
    if isinstance(default, dict | list):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ScenarioInfo:
    """What the scenario is and how it is run."""

    name: str = param("scenario", "short name, used for output files and the collection id", "-", False)
    title: str = param("Energy scenario", "human title", "-", False)
    description: str = param("", "what the scenario stands for", "-", False)
    strategy: str = param("baseline", "control strategy: baseline, rule_based or optimised", "-", False)
    area: list[str] = param(
        [],
        "districts (names in the districts collection) whose buildings are simulated; empty: every building",
        "-",
        False,
    )
    buildings_collection: str = param(
        "buildings", "the store's collection of building footprints", "-", False
    )
    districts_collection: str = param(
        "",
        "the store's collection of districts `area` names; empty: the city profile's first [[districts]]",
        "-",
        False,
    )
    year: int = param(
        2025, "calendar year laid on the TRY (weekdays, holidays, BDEW 2025 profiles)", "BDEW SLP 2025", False
    )
    seed: int = param(
        7, "seed of every random choice (which buildings adopt a measure, EV sessions)", "-", False
    )


@dataclass(frozen=True)
class BuildingParams:
    """How OSM footprints become buildings with floor areas, uses, ages and roofs."""

    storey_height_m: float = param(
        3.0,
        "gross storey height when levels come from a height, and for the heated volume",
        "the demo's height rule (urbantwin.demo.features.STOREY_M)",
    )
    roof_storey_share: float = param(
        0.5, "part of a roof storey (`roof:levels`) counted as floor area", "assumed: half is usable"
    )
    levels_apartments: float = param(
        4.0,
        "levels of an apartment building without levels or height",
        "median of tagged apartments in the area",
    )
    levels_house: float = param(2.0, "levels of a house without levels or height", "assumed")
    levels_other: float = param(2.0, "levels of another building without levels or height", "assumed")
    levels_industrial: float = param(1.0, "levels of an industrial hall without levels or height", "assumed")
    heated_volume_factor: float = param(
        0.32,
        "heated reference area A_N per m³ of heated gross volume V_e [1/m]",
        "GEG 2020 / EnEV: A_N = 0.32 m⁻¹ · V_e",
        False,
    )
    living_area_share: float = param(
        0.8, "living area per m² of A_N", "TABULA DE: A_C_Living / A_C_National ≈ 0.77-0.82"
    )
    dwelling_m2: float = param(
        65.0, "living area per dwelling [m²]", "assumed; about the mean flat size of a large German city"
    )
    calibrate_to_residents: bool = param(
        True,
        "scale the flats of multi-family buildings to the district's residents (where the districts say)",
        "the city's population per district (the city profile's population property)",
        False,
    )
    persons_per_household: float = param(
        1.8, "persons per household, for the calibration", "assumed; German cities' statistics (≈1.8)"
    )
    roof_pitch_deg: float = param(
        35.0,
        "pitch of a pitched roof, and the tilt of the modules laid on it [°]",
        "assumed; Gründerzeit roofs are mostly 30-45°",
    )
    ancillary_max_m2: float = param(
        50.0, "an untyped (`building=yes`) footprint below this is an unheated ancillary building", "assumed"
    )
    age_residential: str = param(
        "DE.02",
        "TABULA age class of a multi-family building without a date",
        "assumed: Gründerzeit 1860-1918",
    )
    age_house: str = param("DE.03", "TABULA age class of a house without a date", "assumed: 1919-1948")
    age_nonresidential: str = param(
        "DE.02", "age class of a non-residential building without a date", "assumed: historic industry"
    )
    refurbished_share: float = param(
        0.5,
        "share of residential buildings in TABULA's 'usual refurbishment' state (variant 2)",
        "assumed: most Gründerzeit stock was renovated after 1990, mostly without facade insulation",
    )
    advanced_refurbished_share: float = param(
        0.0, "share in TABULA's 'advanced refurbishment' state (variant 3)", "assumed"
    )
    east_german_types: bool = param(
        True, "use TABULA's GDR building types (DE.East) for 1949-1994 where they exist", "TABULA DE", False
    )
    nonresidential_heat_kwh_m2: dict[str, float] = param(
        {"commercial": 90.0, "public": 100.0, "industrial": 80.0, "agricultural": 60.0},
        "space heating of non-residential buildings per m² A_N [kWh/a] (TABULA is residential only)",
        "assumed; order of the BMWi/BMUB 2015 Vergleichswerte for non-residential buildings",
    )
    nonresidential_hot_water_kwh_m2: float = param(
        5.0, "hot water of non-residential buildings [kWh/(m²a)]", "assumed"
    )
    electricity_kwh_per_dwelling: float = param(
        2000.0,
        "household electricity per dwelling [kWh/a]",
        "assumed; Stromspiegel 2023: 2-person flat ~2,000",
    )
    nonresidential_electricity_kwh_m2: dict[str, float] = param(
        {"commercial": 50.0, "public": 25.0, "industrial": 60.0, "agricultural": 20.0},
        "electricity of non-residential buildings per m² A_N [kWh/a]",
        "assumed; order of the BMWi/BMUB 2015 Vergleichswerte",
    )
    boiler_efficiency: float = param(
        0.9, "annual efficiency of the existing gas boilers", "assumed; TABULA DE expenditure factors ≈1.1"
    )


@dataclass(frozen=True)
class PVParams:
    """Rooftop PV (pvlib on the TRY)."""

    adoption: float = param(0.0, "share of suitable roofs that carry PV", "scenario choice")
    kwp_per_m2: float = param(0.2, "peak power per m² of module [kWp/m²]", "assumed: ~20 % efficient modules")
    usable_share_flat: float = param(
        0.5, "module area per m² of a flat roof (row spacing, set-backs)", "assumed"
    )
    usable_share_pitched: float = param(
        0.6, "module area per m² of the sunnier roof plane (dormers, chimneys, windows)", "assumed"
    )
    min_kwp: float = param(2.0, "smallest system installed [kWp]", "assumed")
    flat_tilt_deg: float = param(15.0, "tilt of modules racked on flat roofs, facing south [°]", "assumed")
    losses_percent: float = param(
        9.59,
        "DC losses [%]: PVWatts defaults (soiling 2, mismatch 2, wiring 2, connections 0.5, LID 1.5, "
        "nameplate 1) with availability 1 and shading 0 (not modelled)",
        "Dobos 2014, PVWatts v5 manual, NREL/TP-6A20-62641; pvlib.pvsystem.pvwatts_losses",
    )
    gamma_pdc: float = param(
        -0.0037, "power temperature coefficient [1/K]", "typical crystalline silicon datasheet value"
    )
    inverter_efficiency: float = param(0.96, "nominal inverter efficiency", "pvlib pvwatts inverter default")
    albedo: float = param(0.2, "ground albedo", "pvlib default")


@dataclass(frozen=True)
class BatteryParams:
    """Home batteries (one per PV building that adopts one) and the shared quarter battery."""

    adoption: float = param(0.0, "share of PV buildings with a home battery", "scenario choice")
    kwh_per_kwp: float = param(1.0, "battery capacity per kWp of PV", "HTW Berlin rule of thumb ~1 kWh/kWp")
    max_kwh: float = param(100.0, "largest home battery [kWh]", "assumed")
    c_rate: float = param(0.5, "power per kWh of capacity [1/h]", "assumed; typical home storage")
    round_trip_efficiency: float = param(
        0.9,
        "AC round-trip efficiency (split evenly on charge and discharge)",
        "HTW Berlin Stromspeicher-Inspektion",
    )
    soc_min: float = param(0.05, "lowest state of charge", "assumed")
    soc_max: float = param(0.95, "highest state of charge", "assumed")
    quarter_kwh: float = param(0.0, "capacity of the shared quarter battery [kWh]", "scenario choice")
    quarter_c_rate: float = param(0.5, "power per kWh of the quarter battery [1/h]", "assumed")
    quarter_round_trip_efficiency: float = param(
        0.88, "round-trip efficiency of the quarter battery", "assumed"
    )
    wear_cost_eur_per_kwh: float = param(
        0.001, "cost per kWh through a battery in the optimiser (breaks ties, avoids cycling)", "assumed"
    )


@dataclass(frozen=True)
class HeatPumpParams:
    """Air-source heat pumps replacing gas boilers, with thermal storage as flexibility."""

    adoption: float = param(
        0.0, "share of heated buildings whose boiler a heat pump replaces", "scenario choice"
    )
    sizing_factor: float = param(1.1, "heat pump capacity per kW of the year's peak heat demand", "assumed")
    cop_correction: float = param(
        0.85,
        "factor on the COP regression for real-world operation",
        "Ruhnau, Hirth, Praktiknjo 2019, Sci. Data 6:189 (when2heat)",
        False,
    )
    hot_water_sink_c: float = param(50.0, "sink temperature for hot water [°C]", "Ruhnau et al. 2019")
    buffer_litres_per_kw: float = param(50.0, "water buffer per kW of heat pump [l/kW]", "assumed")
    buffer_delta_k: float = param(10.0, "usable temperature swing of the buffer [K]", "assumed")
    comfort_band_k: float = param(
        1.0, "indoor temperature band the building's thermal mass may use as storage [K]", "assumed"
    )
    storage_loss_per_hour: float = param(
        0.01, "share of stored heat lost per hour (buffer and over-heated mass)", "assumed"
    )
    floor_heating_from_age: str = param(
        "DE.10", "age classes from this one on have floor heating (lower flow temperature)", "assumed"
    )


@dataclass(frozen=True)
class EVParams:
    """Home and workplace charging points with synthetic sessions (labelled synthetic)."""

    points_per_dwelling: float = param(0.0, "charging points per dwelling", "scenario choice")
    points_per_1000m2_nonresidential: float = param(
        0.0, "workplace charging points per 1,000 m² of non-residential floor area", "scenario choice"
    )
    power_kw: float = param(11.0, "charging power of a point [kW]", "typical German wallbox (11 kW)")
    km_per_year: float = param(
        12700.0, "mileage of a car [km/a]", "KBA, Verkehr in Kilometern 2023 (≈12,700 km per car)"
    )
    kwh_per_km: float = param(
        0.2, "energy at the plug per km incl. charging losses", "assumed; ADAC Ecotest order"
    )
    home_sessions_per_week: float = param(3.0, "home charging sessions per car and week", "assumed")
    home_arrival_h: float = param(18.0, "mean arrival hour at home", "assumed; MiD 2017 evening peak")
    home_departure_h: float = param(7.5, "mean departure hour from home (next day)", "assumed")
    work_arrival_h: float = param(8.0, "mean arrival hour at work (workdays)", "assumed")
    work_departure_h: float = param(16.5, "mean departure hour from work", "assumed")
    spread_h: float = param(1.0, "standard deviation of arrival and departure times [h]", "assumed")
    work_kwh_per_session: float = param(8.0, "energy charged per workplace session [kWh]", "assumed")


@dataclass(frozen=True)
class GridParams:
    """The grid: prices, CO2 and primary energy factors."""

    co2_g_per_kwh: float = param(
        380.0,
        "CO2 of grid electricity [g/kWh]",
        "UBA, CO2 emission factor of the German power mix 2023",
        False,
    )
    co2_signal_csv: str = param(
        "",
        "optional CSV with an hourly column `co2_g_per_kwh` (8,760 rows) replacing the constant",
        "-",
        False,
    )
    renewable_share: float = param(
        0.518, "renewable share of grid electricity", "AGEE-Stat/UBA 2023: 51.8 % of gross consumption", False
    )
    gas_co2_g_per_kwh: float = param(
        201.0,
        "CO2 of natural gas per kWh (lower heating value)",
        "BAFA Informationsblatt CO2-Faktoren",
        False,
    )
    primary_factor_grid: float = param(
        1.8, "non-renewable primary energy factor of grid electricity", "GEG 2020 Anlage 4", False
    )
    primary_factor_gas: float = param(
        1.1, "non-renewable primary energy factor of natural gas", "GEG 2020 Anlage 4", False
    )
    import_eur_per_kwh: float = param(
        0.40, "electricity price [€/kWh]", "BDEW Strompreisanalyse 2024 (≈40 ct)"
    )
    export_eur_per_kwh: float = param(
        0.08, "feed-in tariff [€/kWh]", "EEG 2023, ≤10 kWp partial feed-in ≈8 ct"
    )
    gas_eur_per_kwh: float = param(0.12, "gas price [€/kWh]", "BDEW 2024 household gas price (≈12 ct)")


@dataclass(frozen=True)
class OptimiserParams:
    """The day-ahead linear programme (HiGHS)."""

    co2_weight_eur_per_kg: float = param(
        0.0, "weight of CO2 against cost in the objective [€/kg]; 0 = cost only", "scenario choice", False
    )
    horizon_hours: int = param(36, "look-ahead of each day's LP (the first 24 h are applied)", "assumed")
    mode: str = param(
        "auto",
        "exact (one LP per day with every building), aggregate (the quarter as one site, shared out), "
        "or auto (exact up to `exact_max_buildings` flexible buildings)",
        "-",
        False,
    )
    exact_max_buildings: int = param(
        200, "largest quarter the auto mode optimises exactly", "bench/README.md"
    )
    warm_start: bool = param(
        True,
        "start each day's LP from the previous day's optimal basis (same shape)",
        "bench/README.md",
        False,
    )
    scope: str = param(
        "district",
        "district: one LP for the quarter behind one meter (energy community); building: each building "
        "behind its own meter (one optimiser per site, batched)",
        "-",
        False,
    )


SECTIONS: dict[str, type] = {
    "scenario": ScenarioInfo,
    "buildings": BuildingParams,
    "pv": PVParams,
    "battery": BatteryParams,
    "heat_pump": HeatPumpParams,
    "ev": EVParams,
    "grid": GridParams,
    "optimiser": OptimiserParams,
}


@dataclass(frozen=True)
class Scenario:
    """One scenario: all parameters, by section."""

    scenario: ScenarioInfo = field(default_factory=ScenarioInfo)
    buildings: BuildingParams = field(default_factory=BuildingParams)
    pv: PVParams = field(default_factory=PVParams)
    battery: BatteryParams = field(default_factory=BatteryParams)
    heat_pump: HeatPumpParams = field(default_factory=HeatPumpParams)
    ev: EVParams = field(default_factory=EVParams)
    grid: GridParams = field(default_factory=GridParams)
    optimiser: OptimiserParams = field(default_factory=OptimiserParams)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "scenario") -> Scenario:
        """A scenario from nested tables; unknown sections or keys and wrong types are errors."""
        sections = {}
        for name, values in data.items():
            if name not in SECTIONS:
                raise ValueError(f"{where}: unknown section [{name}] (known: {', '.join(SECTIONS)})")
            if not isinstance(values, dict):
                raise ValueError(f"{where}: [{name}] must be a table")
            sections[name] = parameters_from(SECTIONS[name], values, f"{where}: [{name}]")
        scenario = cls(**sections)
        scenario.check()
        return scenario

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with `section.key` values replaced (each checked as a file's value would be)."""
        nested: dict[str, dict[str, Any]] = {}
        for dotted, value in overrides.items():
            section, _, key = dotted.partition(".")
            if not key:
                raise ValueError(f"override {dotted!r}: expected section.key")
            nested.setdefault(section, {})[key] = value
        changed = {}
        for section, values in nested.items():
            if section not in SECTIONS:
                raise ValueError(f"override: unknown section {section!r} (known: {', '.join(SECTIONS)})")
            current = getattr(self, section)
            updated = parameters_from(SECTIONS[section], values, f"override {section}")
            given = {k: getattr(updated, k) for k in values}
            changed[section] = replace(current, **given)
        scenario = replace(self, **changed)
        scenario.check()
        return scenario

    def check(self) -> None:
        """Reject values outside their meaning (shares outside 0..1, an unknown strategy …)."""
        if self.scenario.strategy not in STRATEGIES:
            raise ValueError(
                f"scenario.strategy: {self.scenario.strategy!r} is not one of {', '.join(STRATEGIES)}"
            )
        if self.optimiser.mode not in ("auto", "exact", "aggregate"):
            raise ValueError(f"optimiser.mode: {self.optimiser.mode!r} is not auto, exact or aggregate")
        if self.optimiser.scope not in ("district", "building"):
            raise ValueError(f"optimiser.scope: {self.optimiser.scope!r} is not district or building")
        for section, name in (
            ("pv", "adoption"),
            ("battery", "adoption"),
            ("heat_pump", "adoption"),
            ("buildings", "refurbished_share"),
            ("buildings", "advanced_refurbished_share"),
            ("battery", "soc_min"),
            ("battery", "soc_max"),
            ("battery", "round_trip_efficiency"),
            ("grid", "renewable_share"),
        ):
            value = getattr(getattr(self, section), name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{section}.{name}: {value} is not between 0 and 1")
        b = self.buildings
        if b.refurbished_share + b.advanced_refurbished_share > 1.0:
            raise ValueError("buildings: refurbished_share + advanced_refurbished_share exceed 1")
        if self.battery.soc_min >= self.battery.soc_max:
            raise ValueError("battery: soc_min must be below soc_max")
        if self.optimiser.horizon_hours < 24:
            raise ValueError("optimiser.horizon_hours: at least 24 (a day is applied at a time)")

    def parameters(self) -> list[dict[str, Any]]:
        """Every parameter with its value, documentation, source and whether it is assumed."""
        return [row for section in SECTIONS for row in parameters_of(getattr(self, section), f"{section}.")]

    def assumed(self) -> list[str]:
        """The names of the parameters that are assumptions, not facts."""
        return [p["parameter"] for p in self.parameters() if p["assumed"]]


def parameters_of(values: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Every parameter (`param`) of the dataclass instance `values` with its value, documentation,
    source and whether it is assumed; `prefix` goes before each name ("pv.")."""
    return [
        {
            "parameter": f"{prefix}{item.name}",
            "value": getattr(values, item.name),
            "doc": item.metadata.get("doc", ""),
            "source": item.metadata.get("source", ""),
            "assumed": item.metadata.get("assumed", False),
        }
        for item in fields(values)
    ]


def parameters_from(kind: type, values: Mapping[str, Any], where: str, joined: str = ".") -> Any:
    """An instance of the parameter dataclass `kind` from `values`, each checked against the type of
    its default; unknown keys and wrong types are refused, naming them (`where`, `joined`, the key)."""
    known = {f.name: f for f in fields(kind)}
    checked = {}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
        default = known[key].default
        if default is MISSING:
            default = known[key].default_factory()  # type: ignore[operator]
        table = "replace" if known[key].metadata.get("whole_table") else "merge"
        checked[key] = _coerce(value, default, f"{where}{joined}{key}", table)
    return kind(**checked)


def _coerce(value: Any, default: Any, where: str, table: str = "merge") -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, int):
        # A whole number written as JSON's 2030.0 is that integer.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where}: expected a list of strings, got {value!r}")
        return list(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a table, got {value!r}")
        # A table given replaces the default's (`whole_table`) or sets some of its keys.
        merged = {} if table == "replace" else dict(default)
        for key, item in value.items():
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ValueError(f"{where}.{key}: expected a number, got {item!r}")
            merged[key] = float(item)
        return merged
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """`section.key=value` with a TOML value (a bare word is taken as a string)."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--set {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return name.strip(), value


@dataclass(frozen=True)
class Quarter:
    """The quarter a scenario folder simulates, as its meters are known (`monitoring.py`)."""

    #: Its name (the meter Thing's `properties/energy_meters`); empty: the city's name.
    name: str = ""
    #: Where its meter Thing is placed (longitude, latitude); None: the city's site.
    location: tuple[float, float] | None = None


@dataclass(frozen=True)
class Library:
    """A folder of scenario files, offered by name (`baseline` is `<folder>/baseline.toml`), and the
    optional `quarter.toml` that names their quarter:

        [quarter]
        name = "Riverside"            # what the meters are known by
        location = [13.40, 52.52]     # where the meter Thing is placed (longitude, latitude)
    """

    folder: Path = SCENARIOS

    @classmethod
    def at(cls, folder: str | Path | None) -> Library:
        """The library of `folder` (None or empty: the bundled generic scenarios); a folder without
        scenario files is refused."""
        if not folder:
            return cls()
        path = Path(folder)
        if not path.is_dir():
            raise ValueError(f"energy scenarios: {str(path)!r} is not a folder")
        library = cls(path)
        if not library.files():
            raise ValueError(f"energy scenarios: {str(path)!r} holds no scenario files (*.toml)")
        return library

    def files(self) -> list[Path]:
        """The scenario files of the folder, by name."""
        return sorted(p for p in self.folder.glob("*.toml") if p.name != QUARTER_FILE)

    def names(self) -> list[str]:
        return [p.stem for p in self.files()]

    def resolve(self, path: Path | str) -> Path:
        """A scenario file by path, or by the name of one of the folder's scenarios (`baseline`, …)."""
        candidate = Path(path)
        if candidate.exists() and candidate.is_file():
            return candidate
        named = self.folder / f"{path}.toml"
        if named.exists() and named.name != QUARTER_FILE:
            return named
        raise ValueError(f"no scenario file {str(path)!r} (bundled scenarios: {', '.join(self.names())})")

    def load(self, path: Path | str, overrides: dict[str, Any] | None = None) -> Scenario:
        """A scenario from a TOML file (or the name of one of the folder's), with overrides applied."""
        path = self.resolve(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
        scenario = Scenario.from_dict(data, str(path))
        return scenario.with_overrides(overrides) if overrides else scenario

    def quarter(self) -> Quarter:
        """The quarter `quarter.toml` describes (an empty `Quarter` without one)."""
        path = self.folder / QUARTER_FILE
        if not path.exists():
            return Quarter()
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
        table = document.get("quarter")
        if set(document) != {"quarter"} or not isinstance(table, dict):
            raise ValueError(f"{path}: expected one table [quarter] (name, location)")
        unknown = sorted(set(table) - {"name", "location"})
        if unknown:
            raise ValueError(f"{path}: [quarter] {', '.join(unknown)}: unknown; known are location, name")
        name = table.get("name", "")
        if not isinstance(name, str):
            raise ValueError(f"{path}: [quarter] name: expected text")
        location = table.get("location")
        if location is not None:
            if (
                not isinstance(location, list)
                or len(location) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in location)
                or not (-180 <= location[0] <= 180 and -90 <= location[1] <= 90)
            ):
                raise ValueError(f"{path}: [quarter] location: expected [longitude, latitude] (WGS 84)")
            location = (float(location[0]), float(location[1]))
        return Quarter(name.strip(), location)


#: The generic scenarios bundled with the package.
BUNDLED = Library()


def load(path: Path | str, overrides: dict[str, Any] | None = None) -> Scenario:
    """A scenario from a TOML file (or the name of a bundled one), with overrides applied."""
    return BUNDLED.load(path, overrides)


def resolve(path: Path | str) -> Path:
    """A scenario file by path, or by the name of a bundled scenario (`baseline`, …)."""
    return BUNDLED.resolve(path)


def bundled() -> list[Path]:
    """The scenario files shipped with the package."""
    return BUNDLED.files()
