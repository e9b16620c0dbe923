"""The limit values and rules of the air quality standards, read from the TOML files beside this one.

Each standard (Directive 2008/50/EC, Directive (EU) 2024/2881, the WHO 2021 guidelines) is one file
in `standards/`: its data capture rules and its values, each with the article or annex that sets it.
The numbers live in the data, not in code, so that a reader checks them against the source in one
place (docs/air.md cites them all).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

FOLDER = Path(__file__).parent / "standards"
#: The standards in the order the assessment lists them.
STANDARD_FILES = ("eu_2008_50.toml", "eu_2024_2881.toml", "who_2021.toml")
#: The pollutants the platform assesses, by the codes of the station importers (`ingest/vocabulary.py`).
POLLUTANTS = ("pm10", "pm25", "no2", "o3", "so2")

Statistic = Literal["hour", "day", "year", "max8h"]
STATISTICS: tuple[Statistic, ...] = ("hour", "day", "year", "max8h")


@dataclass(frozen=True)
class Capture:
    """The data capture and aggregation rules of a standard (the fractions are of 1)."""

    hour_fraction: float
    day_hours: int
    eight_hour_hours: int
    max8h_windows: int
    year_fraction: float
    ozone_month_days: int
    ozone_summer_months: int
    source: str


@dataclass(frozen=True)
class LimitValue:
    """One value of a standard: `level` of `statistic`, exceeded at most `permitted` times a year."""

    pollutant: str
    statistic: Statistic
    level: float
    kind: str
    source: str
    permitted: int | None = None
    #: Years the exceedances are averaged over (the ozone target value: three).
    averaged_years: int = 1


@dataclass(frozen=True)
class Standard:
    id: str
    name: str
    title: dict[str, str]
    capture: Capture
    values: tuple[LimitValue, ...]

    def of(self, pollutant: str) -> tuple[LimitValue, ...]:
        return tuple(value for value in self.values if value.pollutant == pollutant)


@dataclass(frozen=True)
class Band:
    key: str
    label: dict[str, str]
    colour: str


@dataclass(frozen=True)
class IndexBands:
    """The European Air Quality Index: its bands and each pollutant's upper bounds of all but the last."""

    bands: tuple[Band, ...]
    upper: dict[str, tuple[float, ...]]
    pm_running_hours: int
    pm_running_min_hours: int
    source: str


def _standard(document: dict[str, Any]) -> Standard:
    head = document["standard"]
    values = []
    for raw in document["values"]:
        if raw["pollutant"] not in POLLUTANTS or raw["statistic"] not in STATISTICS:
            raise ValueError(f"{head['id']}: unknown pollutant or statistic in {raw}")
        values.append(
            LimitValue(
                pollutant=raw["pollutant"],
                statistic=raw["statistic"],
                level=float(raw["level"]),
                kind=raw["kind"],
                source=raw["source"],
                permitted=raw.get("permitted"),
                averaged_years=int(raw.get("averaged_years", 1)),
            )
        )
    return Standard(
        id=head["id"],
        name=head["name"],
        title={"en": head["title_en"], "de": head["title_de"]},
        capture=Capture(**document["capture"]),
        values=tuple(values),
    )


@cache
def standards() -> tuple[Standard, ...]:
    """Every standard, in the order of `STANDARD_FILES`."""
    return tuple(
        _standard(tomllib.loads((FOLDER / name).read_text(encoding="utf-8"))) for name in STANDARD_FILES
    )


def standard(standard_id: str) -> Standard:
    for candidate in standards():
        if candidate.id == standard_id:
            return candidate
    raise KeyError(standard_id)


@cache
def index_bands() -> IndexBands:
    document = tomllib.loads((FOLDER / "eaqi.toml").read_text(encoding="utf-8"))
    bands = tuple(Band(b["key"], {"en": b["en"], "de": b["de"]}, b["colour"]) for b in document["bands"])
    upper = {pollutant: tuple(float(v) for v in bounds) for pollutant, bounds in document["upper"].items()}
    for pollutant, bounds in upper.items():
        if len(bounds) != len(bands) - 1 or list(bounds) != sorted(bounds):
            raise ValueError(f"eaqi.toml: {pollutant} needs {len(bands) - 1} increasing upper bounds")
    return IndexBands(
        bands,
        upper,
        int(document["pm_running_hours"]),
        int(document["pm_running_min_hours"]),
        document["source"],
    )
