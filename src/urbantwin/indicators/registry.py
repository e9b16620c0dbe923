"""The indicator registry as a city writes it: a TOML file of `[[indicator]]` tables, checked strictly.

An indicator has a name and definition in German and English, a unit, a source, an ISO 37120 or
37122 code where one fits, and is either `computed` from the platform's data (`compute.kind` names
one of the computations of `compute.py`, with its parameters) or `entered` by hand. Each target
says the value, the year by which it is to be reached, the direction (`at_most`, `at_least`) and
the document that set it. Which indicators a city has and which targets it keeps is data, never
code: the demo's are in `demo/indicators.toml`.

Parsing is strict, as for the city profile: an unknown key, a missing language, an unknown
computation or direction raise `RegistryError` naming the indicator and the key, since a registry
that is silently half-read would be a goals page that silently leaves goals out.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from urbantwin.errors import BadRequest
from urbantwin.texts import LANGUAGES

DIRECTIONS = ("at_most", "at_least")
METHODS = ("computed", "entered")
#: The computations `compute.py` offers, with the parameters each takes (and which it needs).
KINDS: dict[str, tuple[set[str], set[str]]] = {
    "air_annual_mean": ({"pollutant", "statistic"}, {"pollutant"}),
    "district_ratio": ({"figure", "collection"}, {"figure"}),
    "population": ({"measure", "collection", "since"}, set()),
    "transit_access": ({"radius", "min_departures", "collection"}, set()),
    "energy_target": ({"kpi", "scenario"}, {"kpi"}),
}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: Most indicators a registry may hold (a goals page, not a statistical yearbook).
MAX_INDICATORS = 200


class RegistryError(BadRequest):
    """A registry that cannot be used as it is; the message names the indicator and the key."""


@dataclass(frozen=True)
class Target:
    value: float
    year: int
    direction: str
    document: str
    #: The year the target counts progress from (None: the first year with a value).
    baseline_year: int | None = None


@dataclass(frozen=True)
class Indicator:
    id: str
    name: dict[str, str]
    definition: dict[str, str]
    unit: str
    method: str
    source: str
    iso: str | None = None
    compute: dict[str, Any] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    #: The catalogue dataset whose access rules decide who reads it and who enters its values.
    dataset: str = "indicators"

    def document(self) -> dict[str, Any]:
        out = asdict(self)
        out["targets"] = [asdict(t) for t in self.targets]
        return out

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Indicator:
        fields = dict(document)
        fields["targets"] = tuple(Target(**t) for t in document.get("targets", ()))
        return cls(**fields)


def load_registry(path: Path) -> list[Indicator]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RegistryError(f"{path}: {exc}") from exc
    return parse_registry(document, str(path))


def parse_registry(document: dict[str, Any], source: str = "registry") -> list[Indicator]:
    _no_unknown(document, {"indicator"}, source)
    tables = document.get("indicator", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise RegistryError(f"{source}: indicator must be an array of tables ([[indicator]])")
    if len(tables) > MAX_INDICATORS:
        raise RegistryError(f"{source}: at most {MAX_INDICATORS} indicators, got {len(tables)}")
    out: list[Indicator] = []
    seen: set[str] = set()
    for n, table in enumerate(tables):
        indicator = _indicator(table, f"{source}: indicator {table.get('id', n + 1)!s}")
        if indicator.id in seen:
            raise RegistryError(f"{source}: indicator {indicator.id!r} appears twice")
        seen.add(indicator.id)
        out.append(indicator)
    return out


def _indicator(table: dict[str, Any], where: str) -> Indicator:
    known = {"id", "name", "definition", "unit", "method", "source", "iso", "compute", "target", "dataset"}
    _no_unknown(table, known, where)
    ident = table.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        raise RegistryError(f"{where}: id must be 1-63 lower-case letters, digits, '_' or '-'")
    method = table.get("method")
    if method not in METHODS:
        raise RegistryError(f"{where}: method must be one of {', '.join(METHODS)}, got {method!r}")
    compute = table.get("compute", {})
    if not isinstance(compute, dict):
        raise RegistryError(f"{where}: compute must be a table")
    if method == "computed":
        kind = compute.get("kind")
        if kind not in KINDS:
            raise RegistryError(f"{where}: compute.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        allowed, required = KINDS[kind]
        _no_unknown(compute, allowed | {"kind"}, f"{where}: compute")
        missing = sorted(required - set(compute))
        if missing:
            raise RegistryError(f"{where}: compute.{missing[0]} is required for {kind}")
    elif compute:
        raise RegistryError(f"{where}: an entered indicator has no compute table")
    targets = table.get("target", [])
    if not isinstance(targets, list):
        raise RegistryError(f"{where}: target must be an array of tables ([[indicator.target]])")
    dataset = table.get("dataset", "indicators")
    if not isinstance(dataset, str) or not dataset:
        raise RegistryError(f"{where}: dataset must be a dataset id")
    iso = table.get("iso")
    if iso is not None and not isinstance(iso, str):
        raise RegistryError(f"{where}: iso must be text (e.g. 'ISO 37120:2014 8.4')")
    return Indicator(
        id=ident,
        name=_texts(table, "name", where),
        definition=_texts(table, "definition", where),
        unit=_text(table, "unit", where),
        method=method,
        source=_text(table, "source", where),
        iso=iso,
        compute=dict(compute),
        targets=tuple(_target(t, f"{where}: target {k + 1}") for k, t in enumerate(targets)),
        dataset=dataset,
    )


def _target(table: Any, where: str) -> Target:
    if not isinstance(table, dict):
        raise RegistryError(f"{where}: must be a table")
    _no_unknown(table, {"value", "year", "direction", "document", "baseline_year"}, where)
    value = table.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RegistryError(f"{where}: value must be a number")
    year = table.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        raise RegistryError(f"{where}: year must be a year (1900-2200)")
    direction = table.get("direction")
    if direction not in DIRECTIONS:
        raise RegistryError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    baseline = table.get("baseline_year")
    if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, int)):
        raise RegistryError(f"{where}: baseline_year must be a year")
    return Target(float(value), year, direction, _text(table, "document", where), baseline)


def _texts(table: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = table.get(key)
    if not isinstance(value, dict) or any(not isinstance(value.get(lang), str) for lang in LANGUAGES):
        raise RegistryError(f"{where}: {key} must give a text for each of {', '.join(LANGUAGES)}")
    _no_unknown(value, set(LANGUAGES), f"{where}: {key}")
    return {lang: value[lang] for lang in LANGUAGES}


def _text(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(f"{where}: {key} is required (text)")
    return value


def _no_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise RegistryError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
