"""What every command of `urbantwin` shares: the `--config` and `--database-url` options, settings
read from them, the store opened (and migrated) with them, and a platform error printed as one line.

Each module's commands (`import`, `transit`, `energy`, `city`, the access commands) open the store
the same way through `open_store`. The module sits below the access layer (the access commands use
it too), so a command that needs the access defaults makes them itself (`ensure_defaults`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from urbantwin.errors import PlatformError
from urbantwin.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

Config = Annotated[Path | None, typer.Option("--config", help="TOML settings file")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="sqlite:///file.sqlite or postgresql+psycopg://user@host/db"),
]


def settings_from(config: Path | None, database_url: str | None = None, **overrides: Any) -> Settings:
    """The settings of `--config` (and the environment) with `--database-url` and `overrides` on
    top; a bad file or value is the command line's error (exit code 2, naming it)."""
    try:
        return load_settings(config).with_overrides(database_url=database_url, **overrides)
    except (ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None


@contextmanager
def open_store(
    config: Path | None, database_url: str | None, *, migrate: bool = True
) -> Iterator[tuple[Settings, Engine]]:
    """The settings and an engine on their store, migrated to the newest schema (`migrate`);
    disposed at the end."""
    from urbantwin.store.engine import make_engine, upgrade

    settings = settings_from(config, database_url)
    engine = make_engine(settings)
    try:
        if migrate:
            with reported():
                upgrade(engine)
        yield settings, engine
    finally:
        engine.dispose()


@contextmanager
def reported(exit_code: int = 1) -> Iterator[None]:
    """A `PlatformError` inside becomes `Error: <message>` on stderr and exit `exit_code`."""
    try:
        yield
    except PlatformError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(exit_code) from None
