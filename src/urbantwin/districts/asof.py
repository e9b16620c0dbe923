"""District figures "as of" a year (docs/districts.md, "As of a year"): what each input was then.

A year stands for the state at its end (the instant 1 January of the next year, 00:00 UTC), as
population statistics count residents on 31 December:

- **residents**: that year's figure of the population series (`population_of`: else the nearest
  earlier year's, else the earliest later year's; the answer names the year used);
- **features** (buildings, trees, charging points, WLAN sites, stops of a stops collection): those
  valid at that instant by the store's `valid_from`/`valid_to` (begun before it, not ended by it). A
  layer none of whose features has a validity has no history: all of it counts, and the answer says
  "today's data (no history in the data)" for it;
- **timetables** (GTFS feeds, `inputs.timetables`): the feeds whose service period
  (`first_day`–`last_day`) meets the year. When none does, every feed counts and the answer says
  "today's network (no history in the data)"; a feed whose period lies wholly before or after the
  year is left out when another feed meets it.

Which of its inputs are historic each answer says in `as_of` (`inputs` per kind, `labels` in German
and English). The year must lie within the years of the population series of the districts read
(a `BadRequest` naming it otherwise); without any population series, between `MIN_YEAR` and this
year.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from urbantwin.districts import texts
from urbantwin.districts.layers import DistrictSet, Feed, Layer
from urbantwin.errors import BadRequest

#: The earliest year asked of districts without a population series.
MIN_YEAR = 1900


def instant(year: int) -> float:
    """The end of `year` (POSIX seconds): 1 January of the next year, 00:00 UTC."""
    return datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()


def series_years(sets: Iterable[DistrictSet]) -> list[int]:
    """Every year the population series of the district collections give."""
    found: set[int] = set()
    for set_ in sets:
        for properties in set_.properties:
            for key in properties:
                year = set_.spec.population_year(key)
                if year is not None:
                    found.add(year)
    return sorted(found)


def parse_year(raw: str | None, years: Sequence[int]) -> int | None:
    """The `year` parameter: None when not given; a `BadRequest` naming it for anything but a whole
    year within the population series' years (`years`; none: `MIN_YEAR` to this year)."""
    if raw is None or raw == "":
        return None
    first, last = (years[0], years[-1]) if years else (MIN_YEAR, datetime.now(UTC).year)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not value.is_integer():
        raise BadRequest(f"year: expected a year from {first} to {last}, got {raw!r}")
    if not first <= value <= last:
        source = "the years of the population data" if years else "no population data: this year"
        raise BadRequest(f"year: {raw} is outside the data's range, {first} to {last} ({source})")
    return int(value)


@dataclass
class AsOf:
    """What the inputs of an answer as of `year` are: per kind, historic or today's, with labels."""

    year: int | None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: list[dict[str, str]] = field(default_factory=list)

    @property
    def at(self) -> float | None:
        return None if self.year is None else instant(self.year)

    def residents(self, chosen: Sequence[int | None]) -> None:
        """The years of the population series the residents are from (one per district)."""
        if self.year is None:
            return
        used = sorted({y for y in chosen if y is not None})
        self.inputs["population"] = {"historic": bool(used), "years": used}
        if not used:
            self.labels.append(texts.as_of_input("population", "none"))
        elif used == [self.year]:
            self.labels.append(texts.as_of_input("population", "residents", year=self.year))
        else:
            shown = ", ".join(str(y) for y in used)
            label = texts.as_of_input("population", "residents_nearest", chosen=shown, year=self.year)
            self.labels.append(label)

    def layer(self, layer: Layer) -> Layer:
        """The layer as of the year (all of it without a year or without history), noted."""
        if self.year is None:
            return layer
        kind = layer.kind
        if not layer.collections or kind in self.inputs:
            return layer.at(self.at)
        historic = layer.historic
        self.inputs[kind] = {"historic": historic}
        state = "historic" if historic else ("network" if kind == "stops" else "today")
        self._label(texts.as_of_input(kind, state, year=self.year))
        return layer.at(self.at)

    def feeds(self, feeds: Sequence[Feed]) -> list[Feed]:
        """The feeds in service in the year; all of them (today's network) when none is."""
        if self.year is None or not feeds:
            return list(feeds)
        year = self.year
        meeting = [
            f
            for f in feeds
            if f.first_day is not None
            and f.last_day is not None
            and f.first_day.year <= year <= f.last_day.year
        ]
        chosen = meeting or list(feeds)
        if "timetables" not in self.inputs:
            self.inputs["timetables"] = {"historic": bool(meeting), "feeds": [f.id for f in chosen]}
            self._label(texts.as_of_input("stops", "timetables" if meeting else "network", year=year))
        return chosen

    def _label(self, label: dict[str, str]) -> None:
        """A label, once (the stops of a layer and of the feeds may say the same)."""
        if label not in self.labels:
            self.labels.append(label)

    def document(self) -> dict[str, Any] | None:
        if self.year is None:
            return None
        return {
            "year": self.year,
            "instant": datetime.fromtimestamp(instant(self.year), UTC).isoformat().replace("+00:00", "Z"),
            "inputs": self.inputs,
            "labels": self.labels,
        }
