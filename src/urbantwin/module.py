"""What a domain module is: the one declaration through which it plugs into the platform.

A module (SensorThings, live updates, OGC API Features, the catalogue, …) says here, in one place,
what it adds: its HTTP routes and the lifespan work behind them (`mount`), its conformance classes
and which listing carries them, the catalogue datasets it publishes, its CLI commands, the names of
its settings and the viewer's panels it contributes. `urbantwin.modules.MODULES` lists the modules
of the platform in order; `app.py` and `cli.py` are composed from that list. See
docs/architecture.md for the recipe of a new module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:  # only for the annotations: declaring a module imports none of the machinery
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Engine
    from starlette.routing import BaseRoute

    from urbantwin.access.authenticate import Authenticator
    from urbantwin.access.gate import Access
    from urbantwin.city_profile import CityProfile
    from urbantwin.sensorthings.service import SensorThingsService
    from urbantwin.settings import Settings

#: Where a conformance class is listed: the SensorThings service root's
#: `serverSettings.conformance` (`/v1.1/`), or the OGC API's `/ogcapi/conformance`.
Listing = Literal["sensorthings", "ogcapi"]


def always(_settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class Conformance:
    """A conformance class a module implements, the listing that names it, and when it applies
    (an extension that is off with the settings at hand is not claimed)."""

    uri: str
    listing: Listing
    applies: Callable[[Settings], bool] = always


@dataclass(frozen=True)
class Context:
    """What the app builds once and every module's routes share: settings, the store, the access
    point (policy and audit), who a request's token proves, the SensorThings service (which other
    modules read and write through) and the conformance classes of the registered modules that
    apply, by listing."""

    settings: Settings
    engine: Engine
    #: The one access point every module's services ask (`access/gate.py`).
    access: Access
    authenticator: Authenticator
    sensorthings: SensorThingsService
    conformance: dict[Listing, list[str]]
    #: The city the platform is for (`urbantwin city init`; `city_profile.NO_CITY` before that).
    city: CityProfile


def unless_unmigrated(start: Callable[[], None], what: str) -> Callable[[], None]:
    """A module's `start` that leaves a store without the platform's tables alone (the app that only
    serves its OpenAPI document, a store `urbantwin db upgrade` has not made yet): the server still
    starts, and the log says what was not prepared."""

    def run() -> None:
        try:
            start()
        except DBAPIError as exc:
            logging.getLogger("urbantwin").warning(
                "%s not prepared: is the store migrated? (%s)", what, exc.orig
            )

    return run


@dataclass
class Mounted:
    """What a module adds to one app: its routers, the work to start and stop with the server, and
    the objects it makes known under `app.state` (named here, so that nothing sets them as a side
    effect)."""

    routers: list[APIRouter] = field(default_factory=list)
    #: Plain Starlette routes of hot paths, matched before any router's: FastAPI walks every route
    #: of every included router (twice) and solves a route's parameters before it answers, which
    #: costs a request of a network server's webhook more than its own work. Each is documented
    #: by a route of `routers` with the same path, which it answers in place of.
    routes: list[BaseRoute] = field(default_factory=list)
    start: Callable[[], None] | None = None
    stop: Callable[[], None] | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Module:
    """One domain module of the platform, as `MODULES` registers it."""

    #: Short name, unique among the modules (`energy`).
    name: str
    #: What the module is, in a line (for readers of the registry and docs/architecture.md).
    summary: str
    #: Its routes and lifespan work on one app; None: a module without HTTP (an importer).
    mount: Callable[[Context], Mounted] | None = None
    #: The conformance classes it implements (listed where each says, when it applies).
    conformance: tuple[Conformance, ...] = ()
    #: The catalogue datasets it publishes (their ids, `<…>` for a part that varies).
    catalogue_datasets: tuple[str, ...] = ()
    #: Adds its commands to the `urbantwin` command; None: no commands.
    cli: Callable[[typer.Typer], None] | None = None
    #: The names of its fields of `Settings` (the settings reference groups them by module).
    settings: tuple[str, ...] = ()
    #: The web viewer's panels it contributes (the viewer offers a panel only when it is named in
    #: `/api/viewer/config`).
    viewer_panels: tuple[str, ...] = ()
