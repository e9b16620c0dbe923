"""The project portfolio's declaration in the module registry (see `urbantwin.module`): the city's
projects and their funding at /api/portfolio/ and `urbantwin portfolio`."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted, unless_unmigrated


def mount(context: Context) -> Mounted:
    from urbantwin.portfolio.routes import build_router
    from urbantwin.portfolio.service import PortfolioService

    def start() -> None:
        from urbantwin.portfolio.service import ensure_dataset
        from urbantwin.store.engine import for_writes

        with for_writes(context.engine).begin() as connection:
            ensure_dataset(connection)

    service = PortfolioService(context.engine, context.access)
    return Mounted(
        routers=[build_router()],
        start=unless_unmigrated(start, "the portfolio dataset"),
        state={"portfolio": service},
    )


def commands(cli: typer.Typer) -> None:
    from urbantwin.portfolio.cli import portfolio_app

    cli.add_typer(portfolio_app, name="portfolio")


MODULE = Module(
    name="portfolio",
    summary="The project portfolio at /api/portfolio/: projects with programme, funder, partners, "
    "funding, area and status, and a funding overview; `urbantwin portfolio import`",
    mount=mount,
    catalogue_datasets=("portfolio",),
    cli=commands,
)
