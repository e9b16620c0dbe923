"""The DCAT-AP.de catalogue's declaration in the module registry (see `urbantwin.module`)."""

from __future__ import annotations

from urbantwin.module import Context, Module, Mounted


def mount(context: Context) -> Mounted:
    from urbantwin.catalog.routes import build_router
    from urbantwin.catalog.service import CatalogService

    service = CatalogService(context.engine, context.settings, context.access)
    return Mounted(routers=[build_router()], state={"catalog": service})


MODULE = Module(
    name="catalog",
    summary="The DCAT-AP.de catalogue of every dataset at /catalog (Turtle, JSON-LD, RDF/XML, HTML)",
    mount=mount,
)
