"""The platform's modules, in order: one registration line each.

`app.py` mounts their routes and runs their lifespan hooks in this order (and stops them in the
reverse order), the conformance listings name their classes in this order, and `cli.py` adds their
commands. What a module declares is described in `urbantwin.module`; docs/architecture.md has the
recipe of a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import typer

from urbantwin.access.module import MODULE as ACCESS
from urbantwin.airquality.module import MODULE as AIRQUALITY
from urbantwin.campus.module import MODULE as CAMPUS
from urbantwin.catalog.module import MODULE as CATALOG
from urbantwin.city.module import MODULE as CITY
from urbantwin.conformance.module import MODULE as CONFORMANCE
from urbantwin.districts.module import MODULE as DISTRICTS
from urbantwin.energy.module import MODULE as ENERGY
from urbantwin.federation.module import MODULE as FEDERATION
from urbantwin.indicators.module import MODULE as INDICATORS
from urbantwin.infrastructure.module import MODULE as INFRASTRUCTURE
from urbantwin.ingest.module import MODULE as INGEST
from urbantwin.live.module import MODULE as LIVE
from urbantwin.module import Listing, Module
from urbantwin.ogcapi.module import MODULE as OGCAPI
from urbantwin.operations.module import MODULE as OPERATIONS
from urbantwin.participation.module import MODULE as PARTICIPATION
from urbantwin.portfolio.module import MODULE as PORTFOLIO
from urbantwin.sensorthings.module import MODULE as SENSORTHINGS
from urbantwin.settings import Settings
from urbantwin.timeseries.module import MODULE as TIMESERIES
from urbantwin.transit.module import MODULE as TRANSIT

MODULES: tuple[Module, ...] = (
    SENSORTHINGS,
    LIVE,
    OGCAPI,
    CATALOG,
    TIMESERIES,
    ACCESS,
    CITY,
    ENERGY,
    INGEST,
    TRANSIT,
    AIRQUALITY,
    INFRASTRUCTURE,
    DISTRICTS,
    INDICATORS,
    FEDERATION,
    PORTFOLIO,
    PARTICIPATION,
    CAMPUS,
    OPERATIONS,
    CONFORMANCE,
)


def conformance(listing: Listing, settings: Settings, modules: Iterable[Module] = MODULES) -> list[str]:
    """The conformance classes `listing` names: the modules' that apply with `settings`, in order."""
    return [
        declared.uri
        for module in modules
        for declared in module.conformance
        if declared.listing == listing and declared.applies(settings)
    ]


def viewer_panels(modules: Iterable[Module] = MODULES) -> list[str]:
    """The web viewer's panels the modules contribute, in order."""
    return [panel for module in modules for panel in module.viewer_panels]


def add_commands(cli: typer.Typer, modules: Iterable[Module] = MODULES) -> None:
    """Add each module's commands to the `urbantwin` command."""
    for module in modules:
        if module.cli is not None:
            module.cli(cli)


def checked(modules: Sequence[Module]) -> Sequence[Module]:
    """`modules`, after making sure that no two share a name or claim the same setting."""
    names = [module.name for module in modules]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"modules registered twice: {', '.join(twice)}")
    owners: dict[str, str] = {}
    for module in modules:
        for setting in module.settings:
            if setting not in Settings.__dataclass_fields__:
                raise ValueError(f"the module {module.name} declares {setting!r}, which is not a setting")
            if setting in owners:
                raise ValueError(f"the setting {setting} is declared by {owners[setting]} and {module.name}")
            owners[setting] = module.name
    return modules
