"""Connected twins' declaration in the module registry (see `urbantwin.module`): partner endpoints
at /api/remotes (registry, mirror, harvest, proxy) and `urbantwin remote`."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted, unless_unmigrated


def mount(context: Context) -> Mounted:
    from urbantwin.federation.routes import build_router
    from urbantwin.federation.service import FederationService

    service = FederationService(context.engine, context.settings, context.access, context.sensorthings)
    return Mounted(
        routers=[build_router()],
        start=unless_unmigrated(service.start, "following partners live"),
        stop=service.stop,
        state={"federation": service},
    )


def commands(cli: typer.Typer) -> None:
    from urbantwin.federation.cli import remote_app

    cli.add_typer(remote_app, name="remote")


MODULE = Module(
    name="federation",
    summary="Connected twins at /api/remotes: other cities' SensorThings, OGC API and DCAT endpoints "
    "registered with attribution and licence, mirrored, read through and harvested; `urbantwin remote`",
    mount=mount,
    catalogue_datasets=("remote-<name>",),
    # The viewer lists the OGC API partners' collections as layer groups of their own (web/src/partners.js).
    viewer_panels=("partners",),
    settings=("federation_follow",),
    cli=commands,
)
