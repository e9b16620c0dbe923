"""One run of the checker: find the APIs behind a URL, read what they claim, run the checks of the
classes they claim (and of the mandatory ones) and clean up what the run wrote.

A URL may be a SensorThings service root (`…/v1.1`), an OGC API landing page, or a platform's root
under which they sit (`…/v1.1`, `…/ogcapi`, as ours has them). A class the server does not claim is
reported, its checks skipped with that reason: the verdict is about what the server says it does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from urbantwin.conformance import features, mqtt, sta
from urbantwin.conformance.core import Check, Options, Result, Session, Text

#: Where SensorThings and OGC API sit below a platform's root, when the URL given is that root.
SUBPATHS = {
    "sensorthings": ("v1.1", "FROST-Server/v1.1", "sta/v1.1"),
    "features": ("ogcapi", "features", "ogc"),
}

#: Every check the checker has, in the order they run.
CHECKS: list[Check] = [*sta.REGISTRY.checks, *mqtt.REGISTRY.checks, *features.REGISTRY.checks]

#: The titles of the conformance classes the checker covers, for the report.
CLASS_TITLES: dict[str, Text] = {
    sta.DATAMODEL: Text("SensorThings: data model", "SensorThings: Datenmodell"),
    sta.RESOURCE_PATH: Text("SensorThings: resource paths", "SensorThings: Ressourcenpfade"),
    sta.REQUEST_DATA: Text("SensorThings: requesting data", "SensorThings: Daten abfragen"),
    sta.CUD: Text("SensorThings: create, update, delete", "SensorThings: Anlegen, Ändern, Löschen"),
    sta.BATCH: Text("SensorThings: batch requests", "SensorThings: Batch-Anfragen"),
    sta.DATA_ARRAY: Text("SensorThings: dataArray", "SensorThings: dataArray"),
    sta.MQTT_RECEIVE: Text("SensorThings MQTT: receiving updates", "SensorThings MQTT: Änderungen empfangen"),
    sta.MQTT_CREATE: Text(
        "SensorThings MQTT: creating Observations", "SensorThings MQTT: Beobachtungen anlegen"
    ),
    features.CORE: Text("Features part 1: core", "Features Teil 1: Kern"),
    features.GEOJSON: Text("Features part 1: GeoJSON", "Features Teil 1: GeoJSON"),
    features.HTML: Text("Features part 1: HTML", "Features Teil 1: HTML"),
    features.OAS30: Text("Features part 1: OpenAPI 3.0", "Features Teil 1: OpenAPI 3.0"),
    features.CRS: Text("Features part 2: CRS by reference", "Features Teil 2: KBS per Referenz"),
    features.QUERYABLES: Text("Features part 3: queryables", "Features Teil 3: abfragbare Eigenschaften"),
    features.QUERYABLES_PARAMETERS: Text(
        "Features part 3: queryables as query parameters",
        "Features Teil 3: abfragbare Eigenschaften als Parameter",
    ),
    features.FILTER: Text("Features part 3: filter", "Features Teil 3: Filter"),
    features.FEATURES_FILTER: Text(
        "Features part 3: filtering features", "Features Teil 3: Features filtern"
    ),
    features.BASIC_CQL2: Text("CQL2: basic", "CQL2: grundlegend"),
    features.ADVANCED: Text("CQL2: advanced comparison", "CQL2: erweiterte Vergleiche"),
    features.CASEI: Text("CQL2: case-insensitive comparison", "CQL2: Vergleich ohne Groß-/Kleinschreibung"),
    features.BASIC_SPATIAL: Text("CQL2: basic spatial functions", "CQL2: grundlegende räumliche Funktionen"),
    features.SPATIAL: Text("CQL2: spatial functions", "CQL2: räumliche Funktionen"),
    features.ARITHMETIC: Text("CQL2: arithmetic", "CQL2: Rechnen"),
    features.CQL2_JSON: Text("CQL2: JSON encoding", "CQL2: JSON-Kodierung"),
    features.CREATE_REPLACE_DELETE: Text(
        "Features part 4: create, replace, delete", "Features Teil 4: Anlegen, Ersetzen, Löschen"
    ),
    features.UPDATE: Text("Features part 4: update", "Features Teil 4: Ändern"),
}


#: What the checks cover besides their classes: the requirements a server names beside its classes
#: (ours names the optional ones of create-update-delete), CQL2 text (the language of every CQL2
#: check but the JSON one) and part 4's class of features as the resources written.
COVERED: set[str] = (
    {check.cls for check in CHECKS}
    | {check.uri for check in CHECKS}
    | {features.CQL2_TEXT, f"{features.F4}/conf/features"}
)


@dataclass
class Report:
    """What a run found: the endpoints, what they claim, the results and what could not be cleaned up."""

    url: str
    started: str
    sensorthings: str | None = None
    features: str | None = None
    claimed: dict[str, list[str]] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    write: bool = False
    left_behind: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self, results: Iterable[Result] | None = None) -> dict[str, int]:
        counted = {"pass": 0, "fail": 0, "skip": 0}
        for result in self.results if results is None else results:
            counted[result.verdict] += 1
        return counted

    @property
    def ok(self) -> bool:
        return not self.problems and not self.left_behind and all(r.verdict != "fail" for r in self.results)

    def classes(self) -> list[dict[str, Any]]:
        """Per conformance class checked or claimed: whether claimed, its counts and verdict."""
        order: list[str] = []
        for result in self.results:
            if result.check.cls not in order:
                order.append(result.check.cls)
        claimed = {uri for uris in self.claimed.values() for uri in uris}
        out = []
        for cls in order:
            results = [r for r in self.results if r.check.cls == cls]
            counts = self.counts(results)
            verdict = "fail" if counts["fail"] else "pass" if counts["pass"] else "skip"
            out.append({"class": cls, "claimed": cls in claimed, "verdict": verdict, **counts})
        return out

    def unchecked(self) -> list[str]:
        """The classes the server claims that the checker has no checks for."""
        return [uri for uris in self.claimed.values() for uri in uris if uri not in COVERED]


def _json(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> Any:
    try:
        answer = client.get(url, headers={"Accept": "application/json", **(headers or {})})
        return answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _is_sta(document: Any) -> bool:
    return isinstance(document, dict) and any(
        isinstance(item, dict) and item.get("name") == "Things" for item in document.get("value") or []
    )


def _is_features(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("links"), list) and "value" not in document


def discover(
    client: httpx.Client, url: str, headers: dict[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The SensorThings service root and the OGC API landing page at or below `url` (asked with
    `headers`: the token, which belongs to that origin)."""
    base = url.rstrip("/")
    document = _json(client, base, headers)
    if _is_sta(document):
        return base, None
    if _is_features(document) and not any(
        _is_sta(_json(client, f"{base}/{sub}", headers)) for sub in SUBPATHS["sensorthings"][:1]
    ):
        return None, base
    found: dict[str, str | None] = {"sensorthings": None, "features": None}
    for kind, test in (("sensorthings", _is_sta), ("features", _is_features)):
        for sub in SUBPATHS[kind]:
            if test(_json(client, f"{base}/{sub}", headers)):
                found[kind] = f"{base}/{sub}"
                break
    return found["sensorthings"], found["features"]


def _claims_sta(session: Session) -> list[str]:
    assert session.sta_root is not None
    root = _json(session.client, session.sta_root, session.credentials(session.sta_root)) or {}
    session.state["sta_root_document"] = root
    listed = (root.get("serverSettings") or {}).get("conformance")
    return [item for item in listed if isinstance(item, str)] if isinstance(listed, list) else []


def _claims_features(session: Session) -> list[str]:
    assert session.features_root is not None
    address = f"{session.features_root}/conformance"
    listed = (_json(session.client, address, session.credentials(address)) or {}).get("conformsTo")
    return [item for item in listed if isinstance(item, str)] if isinstance(listed, list) else []


def _skip(check: Check, reason: str) -> Result:
    return Result(check, "skip", reason, [], 0.0)


def run(
    url: str,
    options: Options,
    *,
    apis: tuple[str, ...] = ("sensorthings", "features"),
    only: Callable[[Check], bool] | None = None,
    progress: Callable[[Result], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Report:
    """Check the endpoints at `url`. `only` chooses checks (by default all); `progress` hears of each
    result as it comes; `transport` lets a test talk to an app in process."""
    headers = {"User-Agent": "urbantwin-check"}
    # The token goes with each request to the endpoints' own origin only (`Session.credentials`),
    # also while they are found: the URL given is that origin.
    started = time.monotonic()
    report = Report(url, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), write=options.write)
    with httpx.Client(
        headers=headers, timeout=options.timeout, follow_redirects=True, transport=transport
    ) as client:
        session = Session(client, options)
        token = {"Authorization": f"Bearer {options.token}"} if options.token else {}
        sta_root, features_root = discover(client, url, token)
        session.sta_root = sta_root if "sensorthings" in apis else None
        session.features_root = features_root if "features" in apis else None
        report.sensorthings, report.features = session.sta_root, session.features_root
        if not session.sta_root and not session.features_root:
            report.problems.append(
                f"{url} is neither a SensorThings service root nor an OGC API landing page"
            )
            return report
        if session.sta_root:
            report.claimed["sensorthings"] = _claims_sta(session)
        if session.features_root:
            report.claimed["features"] = _claims_features(session)
        try:
            for check in CHECKS:
                if only is not None and not only(check):
                    continue
                if (session.sta_root if check.api == "sensorthings" else session.features_root) is None:
                    continue  # an API the URL does not have
                result = _one(session, report, check)
                report.results.append(result)
                if progress is not None:
                    progress(result)
        finally:
            report.left_behind = session.clean_up(session.kept)
            if session.state.get("world_problem"):
                report.problems.append(session.state["world_problem"])
    report.seconds = time.monotonic() - started
    return report


def _one(session: Session, report: Report, check: Check) -> Result:
    mandatory = sta.MANDATORY if check.api == "sensorthings" else features.MANDATORY
    claimed = report.claimed.get(check.api, [])
    if check.cls not in mandatory and check.cls not in claimed:
        return _skip(check, f"the server does not claim {check.cls}")
    return session.run(check)
