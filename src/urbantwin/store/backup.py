"""Backups of a running store, and restoring one into an empty store.

Each backend's own tool makes a consistent copy while the server keeps serving:

- SQLite: the backup API of SQLite (Python's `sqlite3.Connection.backup`), page by page into a new
  database file, consistent as of one moment; a restore copies the pages back the same way.
- PostgreSQL: `pg_dump --format=custom` (one snapshot of the database, PostGIS's extension with it)
  and `pg_restore` in one transaction, the client tools of PostgreSQL (the newest installed,
  since `pg_dump` refuses a server newer than itself).

A restore refuses a store that holds tables unless told to replace them (`force`): a backup is
never mixed into data by accident. The copy is written beside its target and renamed into place,
so a failed backup leaves no half file.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from urbantwin.store.engine import head_revision

#: The tables of an extension (PostGIS's `spatial_ref_sys`) are not the store's data.
_PG_OWN_TABLES = text(
    """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
    ORDER BY c.relname
    """
)


class BackupError(Exception):
    """A backup or restore that cannot be made, with what to do about it."""


@dataclass(frozen=True)
class Restored:
    """What a restore brought back: the schema revision of the backup."""

    revision: str | None

    @property
    def current(self) -> bool:
        return self.revision == head_revision()


def store_tables(engine: Engine) -> list[str]:
    """The tables of the store's own (those of an extension such as PostGIS aside)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return list(connection.execute(_PG_OWN_TABLES).scalars())
    return sorted(name for name in inspect(engine).get_table_names() if not name.startswith("sqlite_"))


def backup(engine: Engine, target: Path) -> None:
    """Write a backup of the store of `engine` to `target` (replaced if it exists)."""
    target = Path(target)
    if not target.parent.is_dir():
        raise BackupError(f"cannot write {target}: the folder {target.parent} does not exist")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if engine.dialect.name == "sqlite":
            _sqlite_backup(engine, partial)
        elif engine.dialect.name == "postgresql":
            _pg_run("pg_dump", engine, ["--format=custom", "--no-password", f"--file={partial}"])
        else:
            raise BackupError(f"no backup for a {engine.dialect.name} store")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def restore(engine: Engine, source: Path, force: bool = False) -> Restored:
    """Restore the backup `source` into the store of `engine`, which must hold no tables unless
    `force` (then its tables are replaced by the backup's)."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    tables = store_tables(engine)
    if tables and not force:
        raise BackupError(
            f"the store is not empty ({len(tables)} tables): restore into an empty store, "
            "or replace what it holds with --force"
        )
    if engine.dialect.name == "sqlite":
        _sqlite_restore(engine, source)
    elif engine.dialect.name == "postgresql":
        _pg_check_archive(source)
        options = [
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
        ]
        if force:
            options += ["--clean", "--if-exists"]
        _pg_run("pg_restore", engine, [*options, str(source)])
    else:
        raise BackupError(f"no restore for a {engine.dialect.name} store")
    engine.dispose()  # no pooled connection keeps what it knew of the replaced store
    with engine.connect() as connection:
        has_version = inspect(connection).has_table("alembic_version")
        revision = (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if has_version
            else None
        )
    return Restored(revision)


# --- SQLite ---------------------------------------------------------------------------------------


def _sqlite_backup(engine: Engine, target: Path) -> None:
    copy = sqlite3.connect(target)
    try:
        pooled = engine.raw_connection()
        try:
            source = pooled.driver_connection
            assert isinstance(source, sqlite3.Connection)
            source.backup(copy)  # online: a consistent copy as of one moment, writers wait at most a step
        finally:
            pooled.close()
    finally:
        copy.close()


def _sqlite_restore(engine: Engine, source: Path) -> None:
    try:
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            backup_db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            known = backup_db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            backup_db.close()
            raise BackupError(f"{source} is no SQLite backup ({exc})") from None
        if known is None:
            backup_db.close()
            raise BackupError(f"{source} is no backup of an urbantwin store (it has no schema revision)")
        engine.dispose()
        pooled = engine.raw_connection()
        try:
            target = pooled.driver_connection
            assert isinstance(target, sqlite3.Connection)
            backup_db.backup(target)
        finally:
            pooled.close()
            backup_db.close()
    except sqlite3.OperationalError as exc:
        raise BackupError(f"restoring {source} failed: {exc}") from None


# --- PostgreSQL -----------------------------------------------------------------------------------


def pg_tool(name: str) -> Path:
    """The PostgreSQL client tool `name` (`pg_dump`, `pg_restore`): the newest of Debian's
    installed versions (`/usr/lib/postgresql/<version>/bin`), else the one on the `PATH`."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which(name)
    if found:
        return Path(found)
    raise BackupError(
        f"{name} is not installed: the backup of a PostgreSQL store needs PostgreSQL's client tools "
        "(Debian: `apt-get install postgresql-client`), of the server's major version or newer"
    )


def _pg_run(tool: str, engine: Engine, arguments: list[str]) -> None:
    """Run `tool` on the store's database; its password goes by the environment, never the
    command line (which every user of the machine can see)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    environment = {**os.environ}
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    connection = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    command = [str(pg_tool(tool)), f"--dbname={connection}", *arguments]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = " ".join(result.stderr.strip().splitlines()[:3]) or f"exit code {result.returncode}"
        raise BackupError(f"{tool} failed: {_without_password(message)}")


def _pg_check_archive(source: Path) -> None:
    """Refuse a file that is not an archive of `pg_dump --format=custom` before touching the store."""
    with source.open("rb") as archive:
        if archive.read(5) != b"PGDMP":
            raise BackupError(f"{source} is no PostgreSQL backup (made by `urbantwin db backup`)")


def _without_password(message: str) -> str:
    return re.sub(r"(://[^/\s:@]*:)[^@\s/]+@", r"\1[redacted]@", message)
