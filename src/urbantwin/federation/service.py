"""What the admin API and the CLI ask of connected twins: one service over the registry, the
mirror, the harvester and the proxy, which asks the access point for every action.

Registering, removing, mirroring and harvesting change the store: administrators only
(`authorize_admin`). Reading a partner (its registry entry, its proxied layer) needs read access to
its local dataset, as reading what was mirrored from it does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest
from urbantwin.federation.follow import Followers
from urbantwin.federation.harvest import HarvestReport, harvest
from urbantwin.federation.mirror import DEFAULT_PAGE, MirrorReport, mirror_remote
from urbantwin.federation.proxy import FeatureProxy, Proxied
from urbantwin.federation.registry import Remote, RemoteRegistry
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings

#: How long a mirror run of the admin API goes on reading pages (a request is bounded in time; the
#: answer's `more` says to ask again). The CLI has no such bound.
API_BUDGET_SECONDS = 20.0


def _fields(body: Any, allowed: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """The fields of a JSON object body, each of its type; BadRequest naming the one at fault."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")
    for name, value in body.items():
        kind = allowed[name]
        if value is not None and (
            not isinstance(value, kind) or isinstance(value, bool) and kind is not bool
        ):
            raise BadRequest(f"{name}: wrong type ({type(value).__name__})")
    return body


class FederationService:
    """Partner endpoints of one store."""

    def __init__(
        self, engine: Engine, settings: Settings, access: Access, sensorthings: SensorThingsService
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.access = access
        self.sensorthings = sensorthings
        self.registry = RemoteRegistry(engine, access)
        #: What the partners answer through the proxy is their health too (written on a change).
        self.proxy = FeatureProxy(on_outcome=self.registry.note)
        #: The partners this process follows live (started with the server, `federation_follow`).
        self.followers = Followers(engine, settings, sensorthings, self.registry)

    def start(self) -> None:
        if self.settings.federation_follow:
            self.followers.start()

    def stop(self) -> None:
        self.followers.stop()
        self.proxy.close()

    def add(self, caller: Caller, body: Any) -> Remote:
        """Register a partner from a JSON body (`name`, `url`, `kind`, `attribution`, `licence`, …)."""
        given = _fields(
            body,
            {
                "name": str,
                "url": str,
                "kind": str,
                "title": str,
                "attribution": str,
                "licence": str,
                "access_level": str,
                "requests_per_second": (int, float),
            },
        )
        for required in ("name", "url", "kind", "attribution", "licence"):
            if not given.get(required):
                raise BadRequest(f"{required} is required")
        return self.registry.add(
            caller,
            given["name"],
            given["url"],
            given["kind"],
            title=given.get("title"),
            attribution=given["attribution"],
            licence=given["licence"],
            access_level=given.get("access_level") or "open",
            requests_per_second=float(given.get("requests_per_second") or 10.0),
        )

    def mirror(
        self,
        caller: Caller,
        name: str,
        *,
        ids: list[str] | None = None,
        where: str | None = None,
        cursor_field: str = "phenomenonTime",
        page: int = DEFAULT_PAGE,
        progress: Callable[[int], None] | None = None,
        budget: float | None = None,
        follow: bool | None = None,
        mqtt_url: str | None = None,
    ) -> MirrorReport:
        """Add Datastreams to mirror (if given) and bring all of the partner's up to date; `follow`
        (when given) sets whether they are followed live after, at `mqtt_url` (when given)."""
        self.access.authorize_admin(caller)
        remote = self.registry.get(caller, name)
        if follow is not None or mqtt_url is not None:
            remote = self.registry.set_follow(
                caller, name, remote.follow if follow is None else follow, mqtt_url
            )
        report = mirror_remote(
            self.engine,
            self.settings,
            self.sensorthings,
            remote,
            ids=ids,
            where=where,
            cursor_field=cursor_field,
            page=page,
            progress=progress,
            budget=budget,
        )
        self.registry.record(name, "; ".join(report.errors) if report.errors else None)
        return report

    def mirror_request(self, caller: Caller, name: str, body: Any) -> MirrorReport:
        """`mirror` from a JSON body: `datastreams` (remote ids), `filter`, `cursor_field`, `follow`
        (follow live over MQTT after), `mqtt_url` (the partner's broker, when not the one it names)."""
        given = _fields(
            body or {},
            {
                "datastreams": list,
                "filter": str,
                "cursor_field": str,
                "follow": bool,
                "mqtt_url": str,
            },
        )
        ids = given.get("datastreams") or []
        if not all(isinstance(i, str | int) and not isinstance(i, bool) for i in ids):
            raise BadRequest("datastreams: a list of the remote's Datastream ids")
        return self.mirror(
            caller,
            name,
            ids=[str(i) for i in ids],
            where=given.get("filter"),
            cursor_field=given.get("cursor_field") or "phenomenonTime",
            budget=API_BUDGET_SECONDS,
            follow=given.get("follow"),
            mqtt_url=given.get("mqtt_url"),
        )

    def harvest(self, caller: Caller, name: str) -> HarvestReport:
        """Harvest a DCAT partner's catalogue (administrators)."""
        self.access.authorize_admin(caller)
        remote = self.registry.get(caller, name)
        if remote.kind != "dcat":
            raise BadRequest(f"remote {name!r} is a {remote.kind} endpoint, not a DCAT catalogue")
        report = harvest(self.engine, remote)
        self.registry.record(name, "; ".join(report.errors) if report.errors else None)
        return report

    def layer(self, caller: Caller, name: str, collection: str, params: list[tuple[str, str]]) -> Proxied:
        """A page of a partner's feature collection, read through (those who may read the partner)."""
        remote = self.registry.get(caller, name)
        return self.proxy.items(remote, collection, params)

    def layers(self, caller: Caller, name: str) -> Proxied:
        """A partner's feature collections, read through (those who may read the partner): what the
        viewer offers as the partner's layers."""
        remote = self.registry.get(caller, name)
        return self.proxy.collections(remote)
