"""The digital infrastructure service: sites, LoRaWAN uplinks and device fields, and which sensors
reach which gateways. Knows no HTTP: it takes the caller and the parts of a request, asks the
access point what the caller may see or change, and raises the typed errors of `urbantwin.errors`.

Visibility: a site is visible when its registry's dataset is (the collection's dataset rules); a
LoRaWAN device, its fields and its receptions when the dataset of one of its Datastreams is.
"""

from __future__ import annotations

import hmac
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select

from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest, Forbidden, NotFound, Unauthorized
from urbantwin.infrastructure.lorawan import Uplink, normal_eui, parse_chirpstack, parse_tts
from urbantwin.infrastructure.sites import matches, registry_query, site_of
from urbantwin.infrastructure.uplinks import UplinkPosts
from urbantwin.infrastructure.vocabulary import CARRIERS, TECHNOLOGIES
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings
from urbantwin.store.engine import for_writes
from urbantwin.store.features_schema import collections, features
from urbantwin.store.infrastructure_schema import (
    infrastructure_registries,
    lorawan_receptions,
    lorawan_streams,
    lorawan_uplinks,
)
from urbantwin.store.schema import datastreams
from urbantwin.times import format_instant, parse_instant

API = "infrastructure"
#: Sites per page at most.
MAX_LIMIT = 10_000
#: The answer to a network server's message that is no uplink.
IGNORED: dict[str, Any] = {"stored": False, "ignored": "not an uplink"}
#: A field name of a decoded payload: what the mapping names.
MAX_FIELD = 200


class InfrastructureService:
    def __init__(
        self, engine: Engine, settings: Settings, access: Access, sensorthings: SensorThingsService
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.access = access
        self.sensorthings = sensorthings
        #: The uplinks of this server process, committed in groups.
        self.uplinks = UplinkPosts(engine, sensorthings)

    # --- sites ------------------------------------------------------------------------------------

    def registries(self, caller: Caller) -> list[dict[str, Any]]:
        """The site registries the caller may read, with their operator and number of sites."""
        with self.engine.connect() as connection:
            scope = self.access.scope(caller, connection)
            query = (
                select(
                    infrastructure_registries.c.collection_id,
                    infrastructure_registries.c.operator,
                    infrastructure_registries.c.source_kind,
                    infrastructure_registries.c.updated,
                    collections.c.title,
                    collections.c.dataset_id,
                    select(func.count())
                    .where(features.c.collection_id == infrastructure_registries.c.collection_id)
                    .scalar_subquery()
                    .label("sites"),
                )
                .join(collections, collections.c.id == infrastructure_registries.c.collection_id)
                .order_by(infrastructure_registries.c.collection_id)
            )
            condition = scope.allows_column(collections.c.dataset_id)
            if condition is not None:
                query = query.where(condition)
            rows = connection.execute(query).all()
        self.access.record_read(caller, API, [row.dataset_id for row in rows])
        return [
            {
                "id": row.collection_id,
                "title": row.title,
                "operator": row.operator,
                "source": row.source_kind,
                "dataset": row.dataset_id,
                "sites": row.sites,
                "updated": format_instant(row.updated),
            }
            for row in rows
        ]

    def sites(
        self,
        caller: Caller,
        *,
        operator: list[str] | None = None,
        technology: list[str] | None = None,
        carrier: list[str] | None = None,
        registry: list[str] | None = None,
        free_slot: bool = False,
        bbox: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> dict[str, Any]:
        """The sites the caller may read, filtered, as a GeoJSON FeatureCollection (one page)."""
        for name, given, known in (("technology", technology, TECHNOLOGIES), ("carrier", carrier, CARRIERS)):
            unknown = sorted(set(given or ()) - set(known))
            if unknown:
                raise BadRequest(f"{name} {unknown[0]!r} is not known; known: {', '.join(known)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        if offset < 0:
            raise BadRequest(f"offset must not be negative, not {offset}")
        filters = {
            "operator": operator,
            "technology": technology,
            "carrier": carrier,
            "free_slot": free_slot,
            "bbox": parse_bbox(bbox) if bbox else None,
        }
        with self.engine.connect() as connection:
            scope = self.access.scope(caller, connection)
            query = registry_query(scope.allows_column(collections.c.dataset_id))
            if registry:
                query = query.where(infrastructure_registries.c.collection_id.in_(registry))
            rows = connection.execute(query).all()
        shown: set[str | None] = set()
        found = []
        for row in rows:
            site = site_of(row)
            if matches(site, filters):
                found.append(site)
                shown.add(row.dataset_id)
        self.access.record_read(caller, API, sorted(shown, key=str))
        return {
            "type": "FeatureCollection",
            "numberMatched": len(found),
            "numberReturned": len(found[offset : offset + limit]),
            "features": found[offset : offset + limit],
        }

    def site(self, caller: Caller, registry: str, site_id: str) -> dict[str, Any]:
        """One site; 404 naming it when there is none the caller may read."""
        with self.engine.connect() as connection:
            scope = self.access.scope(caller, connection)
            query = registry_query(scope.allows_column(collections.c.dataset_id)).where(
                infrastructure_registries.c.collection_id == registry
            )
            rows = connection.execute(query).all()
        for row in rows:
            site = site_of(row)
            if site["properties"]["site_id"] == site_id:
                self.access.record_read(caller, API, [row.dataset_id])
                return site
        raise NotFound(f"no site {site_id!r} in registry {registry!r}")

    # --- LoRaWAN uplinks --------------------------------------------------------------------------

    def check_token(self, given: str | None) -> None:
        """401 unless `given` is the shared secret of the network servers' endpoint; 403 while the
        secret is not set (the endpoint is off)."""
        secret = self.settings.lorawan_webhook_token
        if not secret:
            raise Forbidden("the LoRaWAN uplink endpoint is off: set lorawan_webhook_token in the settings")
        if not given or not hmac.compare_digest(given.encode(), secret.encode()):
            raise Unauthorized("the LoRaWAN uplink endpoint needs the shared token (Authorization: Bearer …)")

    def read_uplink(self, network: str, document: Any, event: str | None = None) -> Uplink | None:
        """The uplink of a network server's message (`tts`, `chirpstack`); None for other messages
        (joins, status …). A malformed uplink is refused with 400, an unknown network with 404."""
        if network == "tts":
            return parse_tts(document)
        if network == "chirpstack":
            return parse_chirpstack(document, event)
        raise NotFound(f"no network server {network!r}; known: tts, chirpstack")

    def uplink(self, network: str, document: Any, event: str | None = None) -> dict[str, Any]:
        """Store an uplink of a network server (`tts`, `chirpstack`): an Observation of each decoded
        field mapped to a Datastream, with the gateways' RSSI and SNR in its `parameters`, and the
        gateways that heard it. A retry changes nothing; other messages are answered as ignored.

        It goes in with the uplinks that arrive at the same time (`uplinks.UplinkPosts`), and the
        answer comes once they are committed."""
        uplink = self.read_uplink(network, document, event)
        if uplink is None:
            return IGNORED
        return self.uplinks.submit(uplink).result()

    # --- LoRaWAN devices: which Datastream each field feeds ----------------------------------------

    def devices(self, caller: Caller) -> list[dict[str, Any]]:
        """The mapped devices whose Datastreams the caller may read, with their fields."""
        with self.engine.connect() as connection:
            scope = self.access.scope(caller, connection)
            query = (
                select(
                    lorawan_streams.c.dev_eui,
                    lorawan_streams.c.field,
                    lorawan_streams.c.datastream_id,
                    datastreams.c.dataset_id,
                )
                .join(datastreams, datastreams.c.id == lorawan_streams.c.datastream_id)
                .order_by(lorawan_streams.c.dev_eui, lorawan_streams.c.field)
            )
            condition = scope.allows_column(datastreams.c.dataset_id)
            if condition is not None:
                query = query.where(condition)
            rows = connection.execute(query).all()
        self.access.record_read(caller, API, {row.dataset_id for row in rows})
        devices: dict[str, dict[str, int]] = defaultdict(dict)
        for row in rows:
            devices[row.dev_eui][row.field] = row.datastream_id
        return [{"dev_eui": eui, "fields": fields} for eui, fields in devices.items()]

    def map_device(self, caller: Caller, dev_eui: str, fields: Any) -> dict[str, Any]:
        """Set which Datastream each decoded field of the device feeds (replacing what was set);
        the caller must be allowed to write each Datastream's dataset."""
        self.access.require_writer(caller, "mapping LoRaWAN devices")
        eui = normal_eui(dev_eui)
        if not isinstance(fields, dict) or not fields:
            raise BadRequest('fields must be an object {"<decoded field>": <Datastream id>, …}')
        for name, ident in fields.items():
            if not name or len(name) > MAX_FIELD:
                raise BadRequest(f"field name {name!r} must have 1 to {MAX_FIELD} characters")
            if isinstance(ident, bool) or not isinstance(ident, int):
                raise BadRequest(f"fields.{name} must be a Datastream id (an integer), not {ident!r}")
        with for_writes(self.engine).begin() as connection:
            found = dict(
                connection.execute(
                    select(datastreams.c.id, datastreams.c.dataset_id).where(
                        datastreams.c.id.in_(set(fields.values()))
                    )
                ).all()
            )
            for name, ident in fields.items():
                if ident not in found:
                    raise BadRequest(f"fields.{name}: no Datastream {ident}")
                self.access.authorize_write(caller, connection, found[ident])
            connection.execute(delete(lorawan_streams).where(lorawan_streams.c.dev_eui == eui))
            now = datetime.now(UTC)
            connection.execute(
                lorawan_streams.insert(),
                [
                    {"dev_eui": eui, "field": name, "datastream_id": ident, "created": now}
                    for name, ident in fields.items()
                ],
            )
        return {"dev_eui": eui, "fields": dict(fields)}

    def unmap_device(self, caller: Caller, dev_eui: str) -> None:
        """Forget the device's fields (its uplinks are refused from then on; stored data stay)."""
        self.access.require_writer(caller, "mapping LoRaWAN devices")
        eui = normal_eui(dev_eui)
        with for_writes(self.engine).begin() as connection:
            rows = connection.execute(
                select(datastreams.c.dataset_id)
                .join(lorawan_streams, lorawan_streams.c.datastream_id == datastreams.c.id)
                .where(lorawan_streams.c.dev_eui == eui)
            ).all()
            if not rows:
                raise NotFound(f"no device {eui}")
            for row in rows:
                self.access.authorize_write(caller, connection, row.dataset_id)
            connection.execute(delete(lorawan_streams).where(lorawan_streams.c.dev_eui == eui))

    # --- which sensors reach which gateways --------------------------------------------------------

    def coverage(self, caller: Caller, since: str | None = None) -> dict[str, Any]:
        """Per device the caller may read: the gateways that heard its uplinks (count, median RSSI
        and SNR), and whether only one gateway is in reach (no redundancy)."""
        start = parse_instant(since, "since", dates=True) if since else None
        with self.engine.connect() as connection:
            scope = self.access.scope(caller, connection)
            visible = select(lorawan_streams.c.dev_eui).join(
                datastreams, datastreams.c.id == lorawan_streams.c.datastream_id
            )
            condition = scope.allows_column(datastreams.c.dataset_id)
            if condition is not None:
                visible = visible.where(condition)
            query = select(
                lorawan_receptions.c.dev_eui,
                lorawan_receptions.c.gateway_id,
                lorawan_receptions.c.rssi,
                lorawan_receptions.c.snr,
            ).where(lorawan_receptions.c.dev_eui.in_(visible.distinct().scalar_subquery()))
            uplinks = select(lorawan_uplinks.c.dev_eui, func.count().label("uplinks")).where(
                lorawan_uplinks.c.dev_eui.in_(visible.distinct().scalar_subquery())
            )
            if start is not None:
                query = query.where(lorawan_receptions.c.received >= start)
                uplinks = uplinks.where(lorawan_uplinks.c.received >= start)
            rows = connection.execute(query).all()
            counts: dict[str, int] = dict(
                connection.execute(uplinks.group_by(lorawan_uplinks.c.dev_eui)).all()
            )
            gateway_rows = connection.execute(
                registry_query(scope.allows_column(collections.c.dataset_id))
            ).all()
        self.access.record_read(caller, API, [None])
        # A gateway is placed by the site of the registry that is a LoRaWAN gateway with its EUI as id.
        places: dict[str, dict[str, Any]] = {}
        for row in gateway_rows:
            site = site_of(row)
            if site["properties"]["technology"] == "lorawan_gateway":
                places.setdefault(str(site["properties"]["site_id"]).upper(), site)
        heard: dict[str, dict[str, list[tuple[float | None, float | None]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for row in rows:
            heard[row.dev_eui][row.gateway_id].append((row.rssi, row.snr))
        devices = []
        for eui in sorted(set(counts) | set(heard)):
            gateways: list[dict[str, Any]] = [
                {
                    "gateway_id": gateway,
                    "uplinks": len(signals),
                    "median_rssi": _median([s[0] for s in signals]),
                    "median_snr": _median([s[1] for s in signals]),
                    "site": places[gateway.upper()]["id"] if gateway.upper() in places else None,
                    "geometry": places[gateway.upper()]["geometry"] if gateway.upper() in places else None,
                }
                for gateway, signals in sorted(heard[eui].items())
            ]
            gateways.sort(key=lambda g: (-int(g["uplinks"]), str(g["gateway_id"])))
            devices.append(
                {
                    "dev_eui": eui,
                    "uplinks": counts.get(eui, 0),
                    "gateways": gateways,
                    "redundant": len(gateways) > 1,
                    "single_gateway": len(gateways) == 1,
                }
            )
        return {
            "since": format_instant(start) if start else None,
            "devices": devices,
            "single_gateway": [d["dev_eui"] for d in devices if d["single_gateway"]],
        }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """`minlon,minlat,maxlon,maxlat` in degrees; 400 naming what is wrong."""
    parts = text.split(",")
    try:
        box = tuple(float(part) for part in parts)
    except ValueError:
        raise BadRequest(f"bbox {text!r} must be four numbers minlon,minlat,maxlon,maxlat") from None
    if len(box) != 4:
        raise BadRequest(f"bbox {text!r} must be four numbers minlon,minlat,maxlon,maxlat")
    west, south, east, north = box
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise BadRequest(
            f"bbox {text!r}: expected minlon <= maxlon in -180..180 and minlat <= maxlat in -90..90"
        )
    return west, south, east, north
