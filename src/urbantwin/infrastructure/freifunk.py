"""Freifunk community feeds: the nodes of a meshviewer map as WLAN sites, their client counts as
Observations.

Freifunk communities publish their nodes in the formats of their map software: meshviewer's
`meshviewer.json` (`{"timestamp", "nodes": [{"node_id", "location": {"latitude", "longitude"},
"clients", "is_online", "model", "firmware": {"base", "release"}, …}]}`) and the older `nodes.json`
of ffmap/hopglass (version 2: `nodes` a list of `{"nodeinfo": {"node_id", "location", "hardware",
"software"}, "statistics": {"clients"}, "flags": {"online", "gateway"}}`; version 1: the same as an
object keyed by node id). `parse_nodes` reads all three.

A load (`load_nodes`) writes, idempotently:

* each node with a position as a site of the registry's collection (technology `wlan`, the
  community as operator), keyed by its node id: a second load of the same feed changes nothing,
  a newer one updates the nodes that changed;
* each node as a Thing with its Location and a Datastream of its client count (keys
  `freifunk:node:<node_id>`, `…:clients`, the keys the demo uses too), through the SensorThings
  service like every other station importer;
* the client count of each online node as an Observation at the feed's timestamp; an
  Observation at that time already stored is not stored again.

Contact data (`owner`), host names and addresses are never read: a node is named by its id.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import shapely
from sqlalchemy import Engine

from urbantwin.errors import PlatformError
from urbantwin.http import check_json_input
from urbantwin.infrastructure.sites import register
from urbantwin.ingest.pipeline import CRS84, CollectionInfo, ImportReport, Row, crs_name, store_rows_in
from urbantwin.ingest.sta_client import JSON, SensorThingsClient
from urbantwin.ingest.sta_loader import Catalogue, ObservationWriter, Reading
from urbantwin.ingest.sta_loader import ImportReport as SensorReport
from urbantwin.ingest.vocabulary import GEOJSON, OM_COUNT_OBSERVATION
from urbantwin.store.engine import for_writes
from urbantwin.times import parse_instant

__all__ = ["FreifunkLoad", "Node", "clients_key", "load_nodes", "node_key", "parse_nodes", "read_feed"]

#: What the client count observes (no standard vocabulary term exists; the meshviewer's field).
CLIENTS_PROPERTY: JSON = {
    "name": "Wi-Fi clients",
    "definition": "https://github.com/ffrgb/meshviewer#clients",
    "description": "Number of clients connected to a Freifunk node (the `clients` field of the node feed).",
}
CLIENTS_UNIT: JSON = {
    "name": "clients",
    "symbol": "{clients}",
    "definition": "http://unitsofmeasure.org/ucum.html",
}
SENSOR: JSON = {
    "name": "Freifunk node statistics",
    "description": "Statistics a Freifunk router reports about itself, as a community's node map "
    "publishes them.",
    "encodingType": "text/html",
    "metadata": "https://github.com/ffrgb/meshviewer",
}
SENSOR_KEY = "freifunk:sensor"


def node_key(node_id: str) -> str:
    """The key of a Freifunk node's Thing (shared with the demo, which loads a snapshot)."""
    return f"freifunk:node:{node_id}"


def clients_key(node_id: str) -> str:
    """The key of a Freifunk node's client-count Datastream."""
    return f"freifunk:node:{node_id}:clients"


@dataclass(frozen=True)
class Node:
    """One node of a community feed, as far as the registry keeps it."""

    node_id: str
    lon: float | None
    lat: float | None
    clients: int | None
    online: bool | None
    gateway: bool | None
    model: str | None
    firmware: str | None
    firstseen: str | None
    lastseen: str | None


@dataclass
class FreifunkLoad:
    """What one load did."""

    snapshot: datetime
    nodes: int = 0
    sites: ImportReport | None = None
    sensors: SensorReport | None = None
    observations: int = 0
    without_position: int = 0

    def summary(self) -> str:
        sites = self.sites.summary() if self.sites else "none"
        return (
            f"{self.nodes} nodes at {self.snapshot.isoformat()} ({self.without_position} without position); "
            f"sites: {sites}; {self.observations} new client counts"
        )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def _node(raw: Any, where: str) -> Node:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a node must be an object")
    info = raw.get("nodeinfo") if isinstance(raw.get("nodeinfo"), dict) else None
    if info is not None:  # nodes.json (ffmap, hopglass)
        stats = raw.get("statistics") or {}
        flags = raw.get("flags") or {}
        location = info.get("location") or {}
        firmware = ((info.get("software") or {}).get("firmware")) or {}
        node_id, clients = info.get("node_id"), stats.get("clients")
        online, gateway = flags.get("online"), flags.get("gateway")
        model = (info.get("hardware") or {}).get("model")
    else:  # meshviewer.json
        location = raw.get("location") or {}
        firmware = raw.get("firmware") or {}
        node_id, clients = raw.get("node_id"), raw.get("clients")
        online, gateway = raw.get("is_online"), raw.get("is_gateway")
        model = raw.get("model")
    if not isinstance(node_id, str) or not node_id.strip():
        raise ValueError(f"{where}: no node_id")
    lon, lat = _float(location.get("longitude")), _float(location.get("latitude"))
    if lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"{where} ({node_id}): location {lat}, {lon} is not latitude, longitude in degrees")
    release = _text(firmware.get("release")) if isinstance(firmware, dict) else None
    base = _text(firmware.get("base")) if isinstance(firmware, dict) else None
    return Node(
        node_id=node_id.strip(),
        lon=lon,
        lat=lat,
        clients=_int(clients),
        online=online if isinstance(online, bool) else None,
        gateway=gateway if isinstance(gateway, bool) else None,
        model=_text(model),
        firmware=" ".join(part for part in (base, release) if part) or None,
        firstseen=_text(raw.get("firstseen")),
        lastseen=_text(raw.get("lastseen")),
    )


def parse_nodes(document: Any, name: str = "feed") -> tuple[datetime, list[Node]]:
    """The snapshot time and the nodes of a meshviewer.json or nodes.json (v1, v2) document."""
    if not isinstance(document, dict) or "nodes" not in document:
        raise ValueError(f"{name}: not a Freifunk node feed (no 'nodes'; meshviewer.json or nodes.json)")
    stamp = document.get("timestamp")
    if stamp is None:
        raise ValueError(f"{name}: no 'timestamp': the time of the client counts is unknown")
    snapshot = parse_instant(stamp, f"{name}: timestamp")
    raw = document["nodes"]
    items = list(raw.values()) if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ValueError(f"{name}: 'nodes' must be a list or an object")
    nodes = [_node(item, f"{name}: node {number}") for number, item in enumerate(items, start=1)]
    return snapshot, nodes


def read_feed(source: str, depth: int = 64, timeout: float = 30.0) -> tuple[datetime, list[Node]]:
    """Parse the feed at `source`, a file or an http(s) URL (JSON nested at most `depth` deep)."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=timeout) as answer:  # noqa: S310 - http(s) only
            raw = answer.read()
    else:
        raw = Path(source).read_bytes()
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{source}: not JSON: {exc}") from None
    try:
        check_json_input(document, depth)
    except PlatformError as exc:
        raise ValueError(f"{source}: {exc.message}") from None
    return parse_nodes(document, Path(source).name if not source.startswith("http") else source)


def _site(node: Node, operator: str) -> Row:
    point = shapely.Point(node.lon, node.lat)
    properties = {
        "site_id": node.node_id,
        "name": node.node_id,
        "operator": operator,
        "technology": "wlan",
        "online": node.online,
        "is_gateway": node.gateway,
        "model": node.model,
        "firmware": node.firmware,
        "firstseen": node.firstseen,
        "lastseen": node.lastseen,
    }
    return Row(node.node_id, properties, shapely.to_wkb(point), point.bounds, None, None, None)


def load_nodes(
    engine: Engine,
    client: SensorThingsClient,
    snapshot: datetime,
    nodes: list[Node],
    *,
    collection: str,
    operator: str,
    title: str | None = None,
    source: str | None = None,
    licence: str | None = None,
) -> FreifunkLoad:
    """Write the nodes as sites, Things and client counts (see the module docstring)."""
    load = FreifunkLoad(snapshot, nodes=len(nodes))
    located = [node for node in nodes if node.lon is not None and node.lat is not None]
    load.without_position = len(nodes) - len(located)
    info = CollectionInfo(
        collection,
        title or f"{operator}: WLAN nodes",
        f"The nodes of the {operator} community network with a position, from its node feed.",
        licence,
        operator,
        ["digital infrastructure", "WLAN", "Freifunk"],
        source=source,
    )
    with for_writes(engine).begin() as connection:
        load.sites = store_rows_in(
            connection, [_site(node, operator) for node in located], info, crs_name(CRS84), progress=False
        )
        register(connection, collection, operator, "freifunk", {"technology": "wlan", "keep": ["online"]})
    load.sensors = report = SensorReport(files=1)
    catalogue = Catalogue(client, report)
    catalogue.preload("Things")
    catalogue.preload("Datastreams")
    sensor = catalogue.ensure("Sensors", SENSOR_KEY, SENSOR)
    observed = catalogue.ensure_observed_property(CLIENTS_PROPERTY)
    writer = ObservationWriter(client, report)
    extra = {"source": source} if source else {}
    for node in located:
        thing = catalogue.ensure(
            "Things",
            node_key(node.node_id),
            {
                "name": f"Freifunk node {node.node_id}",
                "description": f"{operator} community Wi-Fi router"
                + (f" ({node.model})" if node.model else ""),
                "properties": {"model": node.model, "firmware": node.firmware, **extra},
                "Locations": [
                    {
                        "name": f"Freifunk node {node.node_id}",
                        "description": "Router position as published on the community's node map",
                        "encodingType": GEOJSON,
                        "location": {"type": "Point", "coordinates": [node.lon, node.lat]},
                    }
                ],
            },
        )
        stream = catalogue.ensure(
            "Datastreams",
            clients_key(node.node_id),
            {
                "name": f"Wi-Fi clients at Freifunk node {node.node_id}",
                "description": "Clients connected to the node, as its community's node feed reports them",
                "observationType": OM_COUNT_OBSERVATION,
                "unitOfMeasurement": CLIENTS_UNIT,
                "properties": dict(extra),
                "Thing": {"@iot.id": thing},
                "Sensor": {"@iot.id": sensor},
                "ObservedProperty": {"@iot.id": observed},
            },
        )
        # An offline node's count is the last one it sent, not one at the snapshot's time.
        if node.clients is not None and node.online is not False:
            load.observations += writer.add(stream, [Reading(snapshot, None, float(node.clients), 0)])
    writer.flush()
    return load


def poll(
    source: str,
    every: float | None,
    run: Callable[[datetime, list[Node]], FreifunkLoad],
    report: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
    depth: int = 64,
) -> None:
    """Read the feed and load it; with `every`, again every `every` seconds (a failed round is
    reported and the next one tried: a community's map server is sometimes away)."""
    done = 0
    while True:
        started = time.monotonic()
        try:
            snapshot, nodes = read_feed(source, depth)
            report(run(snapshot, nodes).summary())
        except (OSError, ValueError) as exc:
            if every is None:
                raise
            report(f"Error: {exc}")
        done += 1
        if every is None or (rounds is not None and done >= rounds):
            return
        sleep(max(0.0, every - (time.monotonic() - started)))
