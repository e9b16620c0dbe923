"""Participation's declaration in the module registry (see `urbantwin.module`): ideas,
procedures on the map, their moderation and results at /api/participation/, and a person's data
on request with `urbantwin participation`."""

from __future__ import annotations

import typer

from urbantwin.module import Context, Module, Mounted, unless_unmigrated


def mount(context: Context) -> Mounted:
    from urbantwin.participation.guard import SubmissionGuard
    from urbantwin.participation.ideas import IdeasService
    from urbantwin.participation.privacy import PersonalData
    from urbantwin.participation.procedures import ProceduresService
    from urbantwin.participation.routes import build_router

    submissions = SubmissionGuard(context.settings)

    def start() -> None:
        from urbantwin.participation.ideas import ensure_dataset
        from urbantwin.store.engine import for_writes

        with for_writes(context.engine).begin() as connection:
            ensure_dataset(connection)

    return Mounted(
        routers=[build_router()],
        start=unless_unmigrated(start, "the participation dataset"),
        state={
            "ideas": IdeasService(context.engine, context.access, submissions),
            "procedures": ProceduresService(context.engine, context.access, submissions),
            "personal_data": PersonalData(context.engine, context.access),
        },
    )


def commands(cli: typer.Typer) -> None:
    from urbantwin.participation.cli import participation_app

    cli.add_typer(participation_app, name="participation")


MODULE = Module(
    name="participation",
    summary="Participation at /api/participation/: citizens' ideas and their moderation, procedures "
    "with contributions on the map, comments and support votes, results as GeoJSON, CSV and "
    "statistics; a person's data exported or deleted with `urbantwin participation personal-data`",
    mount=mount,
    catalogue_datasets=("participation",),
    cli=commands,
    settings=(
        "participation_submissions_per_hour",
        "participation_submission_burst",
        "participation_vote_secret",
    ),
)
