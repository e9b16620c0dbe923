"""The virtual energy quarter's declaration in the module registry (see `urbantwin.module`): the API
at /api/energy/, the runs recovered at start, `urbantwin energy …` and the viewer's energy panel."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted, unless_unmigrated


def mount(context: Context) -> Mounted:
    from urbantwin.energy.jobs import EnergyRuns
    from urbantwin.energy.routes import Energy, build_router
    from urbantwin.energy.scenario import Library
    from urbantwin.energy.sweeps import EnergySweeps

    settings = context.settings
    runs = EnergyRuns(
        context.engine,
        context.access,
        Library.at(settings.energy_scenarios),
        in_process=settings.scenario_worker == "server",
    )
    sweeps = EnergySweeps(runs, settings.dask_scheduler, settings.dask_workers)

    def recover() -> None:
        """Runs a stopped server left behind fail; the queued ones resume in this process."""
        runs.recover()
        sweeps.recover()

    def stop() -> None:
        sweeps.shutdown()
        runs.shutdown()

    return Mounted(
        routers=[build_router()],
        start=unless_unmigrated(recover, "energy runs"),
        stop=stop,
        state={"energy": Energy.of(context, runs, sweeps)},
    )


def commands(cli: typer.Typer) -> None:
    from urbantwin.energy.cli import energy_app

    cli.add_typer(energy_app, name="energy")


MODULE = Module(
    name="energy",
    summary="The virtual energy quarter (SPARCS) at /api/energy/: scenarios, runs, KPIs, monitoring",
    mount=mount,
    catalogue_datasets=("energy-<scenario>",),
    cli=commands,
    settings=("energy_scenarios", "scenario_worker"),
    viewer_panels=("energy",),
)
