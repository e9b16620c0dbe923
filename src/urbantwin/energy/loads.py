"""What the buildings need: electricity from the BDEW standard load profiles, heat from TABULA.

Electricity (BDEW, 2025 revision of the standard load profiles, as shipped by demandlib 0.2.2):
H25 households, G25 trade and commerce, L25 agriculture. Each file holds, per month and day type
(WT workday, SA Saturday, FT Sunday or public holiday), the energy of each quarter-hour of a day.
H25 is a *dynamic* profile: its values are multiplied by BDEW's dynamisation polynomial of the day of
the year, F(d) = -3.92e-10 d⁴ + 3.2e-7 d³ - 7.02e-5 d² + 2.1e-3 d + 1.24 (BDEW, "Standardlastprofile
Strom", 2025; the same function as for H0). G25 and L25 are static. The profiles are in legal time
(the city profile's time zone; CET/CEST for German cities); the simulation clock is UTC+1 all
year (the TRY's), so summer steps read the profile one hour later. Public holidays are those of the
city profile's region (ISO 3166-2, e.g. `DE-SN`, from the `holidays` package's calendars); 24 and
31 December count as Saturdays, as BDEW's rules say. Each profile is scaled to sum to 1 over the
simulated year, so annual kWh × profile = kWh per step.

Heat (TABULA/EPISCOPE typology of German residential buildings, IWU; Loga et al. 2016, Energy and
Buildings 132, 4–12): for each building variant the energy need for space heating q_h_nd [kWh/m²a
per reference area A_C_Ref] is computed by TABULA's own seasonal method (EN ISO 13790 style), from
the envelope areas and U-values of the data set, with the heating days and their mean outdoor
temperature taken from the TRY (days with a daily mean below TABULA's base temperature of 12 °C).
Hot water need q_w_nd comes from the data set. The year's space heating is spread over the hours by
degree-hours: max(0, θ_i − θ_e(t)) in hours of heating days, zero otherwise — a simple, documented
shape that follows the TRY's cold spells; internal and solar gains are in the annual figure, not in
the hourly shape. Hot water is spread evenly (no daily profile; an assumption).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import numpy as np

from urbantwin.city_profile import DEFAULT_REGION, DEFAULT_TIME_ZONE
from urbantwin.energy.weather import Weather

DATA = Path(__file__).parent / "data"
SLP_FILES = {"H25": "bdew_slp_h25.csv", "G25": "bdew_slp_g25.csv", "L25": "bdew_slp_l25.csv"}
TABULA_FILE = DATA / "tabula_germany_building_typology.csv"
#: Profiles whose quarter-hour values are multiplied by the dynamisation polynomial (BDEW 2025).
DYNAMIC_PROFILES = {"H25"}
MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]
DAY_TYPES = ("WT", "SA", "FT")
#: The simulation clock: UTC+1 all year, the clock of the DWD TRY (MEZ).
SIM_ZONE = ZoneInfo("Etc/GMT-1")
STEPS_PER_DAY = 96
#: TABULA's base temperature for heating days [°C] (column `Theta_e_Base` of the data set).
HEATING_BASE_C = 12.0
#: Air heat capacity per volume [Wh/(m³K)], TABULA/EN ISO 13790.
C_AIR = 0.34


# --- calendar -----------------------------------------------------------------------------------


def public_holidays(year: int, region: str = DEFAULT_REGION) -> set[date]:
    """The public holidays of `year` in `region`: an ISO 3166-2 subdivision (`DE-SN`) or a country
    (`DE`, its national holidays only), as the city profile names it."""
    country, _, subdivision = region.partition("-")
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError:
        raise ValueError(f"region: no public holidays are known for {region!r}") from None
    return set(calendar)


@dataclass(frozen=True)
class Calendar:
    """The simulated year on the 15-minute grid of the simulation clock (UTC+1, 365 days)."""

    year: int
    #: Start of step 0 (00:00 UTC+1 on 1 January).
    start: datetime
    steps: int
    #: Per step, in legal time: month 1..12, day type index into DAY_TYPES, quarter-hour of day 0..95.
    month: np.ndarray
    day_type: np.ndarray
    quarter: np.ndarray
    #: Per step: day of the year 1..365 in legal time (for H25's dynamisation).
    day_of_year: np.ndarray
    #: The region of the public holidays and the time zone of the legal time.
    region: str = DEFAULT_REGION
    time_zone: str = DEFAULT_TIME_ZONE

    def timestamps(self) -> list[str]:
        """ISO 8601 start time of every step, with its offset (+01:00)."""
        step = timedelta(minutes=15)
        return [(self.start + k * step).isoformat() for k in range(self.steps)]


@lru_cache(maxsize=4)
def calendar(year: int = 2025, region: str = DEFAULT_REGION, time_zone: str = DEFAULT_TIME_ZONE) -> Calendar:
    """The year's 35,040 quarter-hours (a TRY year has 365 days; 29 February is never simulated),
    with the days of the legal time in `time_zone` and the public holidays of `region`."""
    start = datetime(year, 1, 1, tzinfo=SIM_ZONE)
    steps = 365 * STEPS_PER_DAY
    legal_zone = ZoneInfo(time_zone)
    days_off = public_holidays(year, region) | public_holidays(year + 1, region)
    month = np.empty(steps, dtype=np.int8)
    day_type = np.empty(steps, dtype=np.int8)
    quarter = np.empty(steps, dtype=np.int16)
    doy = np.empty(steps, dtype=np.int16)
    # Legal time changes only at whole hours, so one conversion per hour is enough.
    for hour in range(steps // 4):
        legal = (start + timedelta(hours=hour)).astimezone(legal_zone)
        day = legal.date()
        if day in days_off or legal.weekday() == 6:
            kind = 2
        elif legal.weekday() == 5 or (day.month == 12 and day.day in (24, 31)):
            kind = 1
        else:
            kind = 0
        base = hour * 4
        month[base : base + 4] = legal.month
        day_type[base : base + 4] = kind
        quarter[base : base + 4] = legal.hour * 4 + np.arange(4)
        doy[base : base + 4] = min(legal.timetuple().tm_yday, 365)
    return Calendar(year, start, steps, month, day_type, quarter, doy, region, time_zone)


# --- electricity ----------------------------------------------------------------------------------


def read_slp(name: str) -> np.ndarray:
    """A BDEW 2025 profile as an array [month 0..11, day type (WT, SA, FT), quarter-hour 0..95]."""
    path = DATA / SLP_FILES[name]
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    months, kinds, body = rows[0][1:], rows[1][1:], rows[2:]
    if len(body) != STEPS_PER_DAY:
        raise ValueError(f"{path}: expected 96 quarter-hour rows, found {len(body)}")
    table = np.zeros((12, 3, STEPS_PER_DAY))
    for column, (month, kind) in enumerate(zip(months, kinds, strict=True)):
        values = [float(row[column + 1]) for row in body]
        table[MONTHS.index(month), DAY_TYPES.index(kind)] = values
    return table


def dynamisation(day_of_year: np.ndarray) -> np.ndarray:
    """BDEW's dynamisation factor of the household profile for each day of the year (1..365)."""
    d = day_of_year.astype(float)
    return -3.92e-10 * d**4 + 3.2e-7 * d**3 - 7.02e-5 * d**2 + 2.1e-3 * d + 1.24


@lru_cache(maxsize=8)
def slp_profile(
    name: str, year: int = 2025, region: str = DEFAULT_REGION, time_zone: str = DEFAULT_TIME_ZONE
) -> np.ndarray:
    """The profile `name` over the year's steps, summing to 1 (kWh per step per kWh of the year), on
    the calendar of `region` and `time_zone`."""
    cal = calendar(year, region, time_zone)
    table = read_slp(name)
    values = table[cal.month - 1, cal.day_type, cal.quarter]
    if name in DYNAMIC_PROFILES:
        values = values * dynamisation(cal.day_of_year)
    values = values / values.sum()
    values.setflags(write=False)
    return values


# --- heat (TABULA) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Climate:
    """The heating season of a year, as TABULA's seasonal method needs it."""

    heating_days: int
    #: Mean outdoor temperature of the heating days [°C].
    mean_temperature: float


def heating_season(weather: Weather, base: float = HEATING_BASE_C) -> Climate:
    """Heating days (daily mean below `base`) and their mean temperature, from the TRY."""
    daily = weather.daily_mean_temperature()
    cold = daily < base
    return Climate(int(cold.sum()), float(daily[cold].mean()))


@dataclass(frozen=True)
class Typology:
    """One TABULA building variant reduced to what the model uses (per m² of reference area)."""

    code: str
    size_class: str
    age_class: str
    year_from: int
    year_to: int
    #: 1 existing state, 2 usual refurbishment, 3 advanced refurbishment (TABULA's variant number).
    variant: int
    #: Space heating need [kWh/(m²a)] on the TRY's heating season.
    q_heating: float
    #: Hot water need [kWh/(m²a)] (TABULA `q_w_nd`).
    q_hot_water: float
    #: Heat transfer coefficient (transmission + ventilation) per m² [W/(m²K)].
    h_total: float
    #: Internal heat capacity per m² [Wh/(m²K)] (TABULA `c_m`).
    c_m: float


def _f(row: dict[str, str], name: str) -> float:
    value = row.get(name, "")
    try:
        return float(value)
    except ValueError:
        return 0.0


def _effective_u(row: dict[str, str], element: str, refurbished: bool) -> float:
    """U-value of an envelope element after TABULA's measure (Add: in series; Replace: the new one)."""
    u = _f(row, f"U_{element}")
    extra = _f(row, f"R_Add_UnheatedSpace_{element}")
    measure = _f(row, f"R_PredefinedMeasure_{element}") if refurbished else 0.0
    kind = row.get(f"Code_MeasureType_{element}", "0")
    if measure > 0 and kind == "Replace":
        resistance = measure
    elif u > 0:
        resistance = 1.0 / u + (measure if measure > 0 else 0.0)
    else:
        return 0.0
    return 1.0 / (resistance + extra)


ELEMENTS = ("Roof_1", "Roof_2", "Wall_1", "Wall_2", "Wall_3", "Floor_1", "Floor_2", "Window_1", "Window_2")


def tabula_heat_need(row: dict[str, str], climate: Climate) -> tuple[float, float]:
    """(q_h_nd [kWh/(m²a)], h_total [W/(m²K)]) of one TABULA variant, by TABULA's seasonal method.

    Transmission H_tr = Σ b·A·U (U after the variant's measures) + ΔU_tb·ΣA; ventilation
    H_ve = 0.34·(n_use + n_inf)·A_ref·h_room; losses Q_ht = 0.024·(H_tr+H_ve)·F_red·(θ_i − θ_e)·d_HD;
    gains: solar through windows (TABULA's seasonal irradiation per orientation) and internal
    0.024·φ_int·d_HD·A_ref, used with the utilisation factor η of EN ISO 13790 (a = 0.8 + τ/30).
    The temperature reduction factor F_red (night set-back, unheated rooms) is interpolated between
    TABULA's `F_red_htr1` (h_tr ≤ 1 W/(m²K)) and `F_red_htr4` (h_tr ≥ 4), as the TABULA method does.
    """
    area = _f(row, "A_C_Ref_Input") or _f(row, "A_C_National")
    refurbished = int(row["Number_BuildingVariant"]) > 1
    h_tr = 0.0
    envelope = 0.0
    for element in ELEMENTS:
        a = _f(row, f"A_{element}") * (_f(row, f"f_Measure_{element}") or 1.0)
        if a <= 0:
            continue
        b = 1.0 if element.startswith("Window") else _f(row, f"b_Transmission_{element}")
        h_tr += b * a * _effective_u(row, element, refurbished)
        envelope += a
    door = _f(row, "A_Door_1")
    h_tr += door * _effective_u(row, "Door_1", refurbished)
    envelope += door
    delta_tb = _f(
        row, "delta_U_ThermalBridging_Refurbished" if refurbished else "delta_U_ThermalBridging_Original"
    )
    h_tr += delta_tb * envelope
    h_ve = C_AIR * (_f(row, "n_air_use") + _f(row, "n_air_infiltration")) * area * _f(row, "h_room")
    h_tr_specific = h_tr / area
    f1, f4 = _f(row, "F_red_htr1"), _f(row, "F_red_htr4")
    f_red = f1 + (f4 - f1) * min(max((h_tr_specific - 1.0) / 3.0, 0.0), 1.0)
    days, theta_e = climate.heating_days, climate.mean_temperature
    q_ht = 0.024 * (h_tr + h_ve) * f_red * (_f(row, "theta_i") - theta_e) * days
    g_window = _f(row, "g_gl_n_PredefinedMeasure_Window_1") if refurbished else 0.0
    g_window = g_window or _f(row, "g_gl_n_Window_1")
    shading = _f(row, "F_sh_vert") * (1 - _f(row, "F_f")) * _f(row, "F_w")
    q_sol = 0.0
    for side in ("East", "South", "West", "North"):
        q_sol += shading * g_window * _f(row, f"A_Window_{side}") * _f(row, f"I_Sol_{side}")
    q_sol += (
        _f(row, "F_sh_hor")
        * (1 - _f(row, "F_f"))
        * _f(row, "F_w")
        * g_window
        * _f(row, "A_Window_Horizontal")
        * _f(row, "I_Sol_Hor")
    )
    # TABULA's irradiation is for its own 216-day season; scale it to the TRY's season length.
    q_sol *= days / max(_f(row, "HeatingDays"), 1.0)
    q_int = 0.024 * _f(row, "phi_int") * days * area
    gains = q_sol + q_int
    tau = _f(row, "c_m") * area / (h_tr + h_ve)
    a_h = 0.8 + tau / 30.0
    gamma = gains / q_ht if q_ht > 0 else np.inf
    eta = a_h / (a_h + 1) if abs(gamma - 1) < 1e-9 else (1 - gamma**a_h) / (1 - gamma ** (a_h + 1))
    q_h_nd = max(q_ht - eta * gains, 0.0) / area
    return q_h_nd, (h_tr + h_ve) / area


@lru_cache(maxsize=4)
def typologies(climate: Climate, east_german: bool = True) -> dict[tuple[str, str, int], Typology]:
    """The German national variants (`DE.N`) by (size class, age class, variant number).

    Generic types (`.Gen`) are preferred; with `east_german` the GDR types of TABULA (`DE.East.…`),
    where they exist, replace the generic ones of the same size and age class (the stock of East
    German cities of 1949–1990 is largely of those types).
    """
    with TABULA_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    chosen: dict[tuple[str, str, int], tuple[int, Typology]] = {}
    for row in rows:
        code = row["Code_BuildingVariant"]
        parts = code.split(".")
        region, kind = parts[1], parts[4]
        if row["Code_ClimateRegion"] != "DE.N" or region not in ("N", "East"):
            continue
        variant = int(row["Number_BuildingVariant"])
        if variant > 3 or not (_f(row, "A_C_Ref_Input") or _f(row, "A_C_National")):
            continue
        # Preference: East German type (if asked), then generic type, then the first example building.
        region_rank = 2 if east_german and region == "East" else 1 if region == "N" else 0
        rank = region_rank * 4 + (kind == "Gen") * 2 + (parts[6] == "001")
        q_h, h_total = tabula_heat_need(row, climate)
        typology = Typology(
            code=code,
            size_class=row["Code_BuildingSizeClass"],
            age_class=row["Code_ConstructionYearClass"],
            year_from=int(row["Year1_Building"]),
            year_to=int(row["Year2_Building"]),
            variant=variant,
            q_heating=q_h,
            q_hot_water=_f(row, "q_w_nd"),
            h_total=h_total,
            c_m=_f(row, "c_m"),
        )
        key = (typology.size_class, typology.age_class, variant)
        if key not in chosen or rank > chosen[key][0]:
            chosen[key] = (rank, typology)
    return {key: value for key, (_, value) in chosen.items()}


#: TABULA's German construction-year classes and their first and last years.
AGE_CLASSES = {
    "DE.01": (0, 1859),
    "DE.02": (1860, 1918),
    "DE.03": (1919, 1948),
    "DE.04": (1949, 1957),
    "DE.05": (1958, 1968),
    "DE.06": (1969, 1978),
    "DE.07": (1979, 1983),
    "DE.08": (1984, 1994),
    "DE.09": (1995, 2001),
    "DE.10": (2002, 2009),
    "DE.11": (2010, 2015),
    "DE.12": (2016, 9999),
}
#: Where a size class has no variant of an age class, the next size class that has one.
SIZE_FALLBACK = {"AB": "MFH", "TH": "SFH", "MFH": "AB", "SFH": "TH"}


def age_class_of(year: int) -> str:
    """TABULA's construction-year class of a year of construction."""
    for code, (first, last) in AGE_CLASSES.items():
        if first <= year <= last:
            return code
    return "DE.12"


def lookup(
    table: dict[tuple[str, str, int], Typology], size_class: str, age_class: str, variant: int
) -> Typology:
    """The variant for size and age class, falling back to the neighbouring size class (documented)."""
    for size in (size_class, SIZE_FALLBACK[size_class], "MFH"):
        found = table.get((size, age_class, variant))
        if found is not None:
            return found
    raise KeyError(f"no TABULA variant for {size_class} {age_class} variant {variant}")


def heating_shape(weather: Weather, indoor: float = 20.0, base: float = HEATING_BASE_C) -> np.ndarray:
    """Hourly weights (sum 1) of space heating: degree-hours on heating days (see the module doc)."""
    daily = weather.daily_mean_temperature()
    heating_day = np.repeat(daily < base, 24)
    weights = np.where(heating_day, np.clip(indoor - weather.temperature, 0.0, None), 0.0)
    return weights / weights.sum()
