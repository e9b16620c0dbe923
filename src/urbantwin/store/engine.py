"""The store's engine: one place that opens SQLite or PostgreSQL/PostGIS and migrates it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect

from urbantwin.errors import PlatformError
from urbantwin.settings import Settings
from urbantwin.store.spatial import register_sqlite_functions, set_geometry_cache_size

MIGRATIONS = Path(__file__).parent / "migrations"
#: Key of a SQLite connection's deadline in its pool record's `info` (which lives and dies with the
#: connection; a module-level map by connection id grew by one entry per connection ever opened).
_DEADLINE = "urbantwin_deadline"
#: Execution option marking a connection that will write (see `for_writes`).
WRITE_OPTION = "urbantwin_write"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(settings: Settings, connect_timeout: int | None = None) -> Engine:
    """An engine for `settings.database_url`, with the per-connection setup each backend needs
    (`connect_timeout`: longest wait for a PostgreSQL connection, in seconds; None: the driver's)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        set_geometry_cache_size(settings.geometry_cache_size)
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            query_cache_size=settings.sql_cache_size,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_connection: Any, record: Any) -> None:
            register_sqlite_functions(dbapi_connection)
            cursor = dbapi_connection.cursor()
            # Each pooled connection keeps its own page cache: bounded per connection by the setting.
            cursor.execute(f"PRAGMA cache_size=-{max(0, settings.sqlite_cache_kb)}")
            # WAL lets readers run beside the writer; NORMAL sync in WAL mode keeps every committed
            # transaction across a crash of the process (not of the machine's power).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # Stop a statement that runs longer than the query timeout (SQLite has no
            # statement_timeout): the handler runs every 10,000 virtual machine steps.
            deadline = {"at": float("inf")}
            dbapi_connection.set_progress_handler(lambda: int(time.monotonic() > deadline["at"]), 10_000)
            record.info[_DEADLINE] = deadline
            # Take transaction control from the sqlite3 module, whose implicit transactions make
            # SAVEPOINT commit on release (so a batch change set could not be rolled back).
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_deadline(connection: Any, cursor: Any, *_args: Any) -> None:
            deadline = connection.connection.info.get(_DEADLINE)
            if deadline is not None:
                deadline["at"] = time.monotonic() + settings.query_timeout_seconds

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # A writer takes the write lock up front: a deferred transaction that read first would
            # fail with SQLITE_BUSY instead of waiting when another writer committed meanwhile.
            immediate = connection.get_execution_options().get(WRITE_OPTION)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql"):
        connect_args: dict[str, Any] = {
            "options": f"-c statement_timeout={settings.query_timeout_seconds * 1000}"
        }
        if connect_timeout is not None:
            connect_args["connect_timeout"] = connect_timeout
        return create_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            pool_size=settings.pool_size,
            query_cache_size=settings.sql_cache_size,
            max_overflow=settings.pool_size,
            pool_pre_ping=True,
            # No single statement (planning included) may run away with the server's memory or time.
            connect_args=connect_args,
        )
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///file.sqlite or postgresql+psycopg://…")


def for_writes(engine: Engine) -> Engine:
    """The same engine (and pool), with transactions that take SQLite's write lock at BEGIN."""
    return engine.execution_options(**{WRITE_OPTION: True})


def for_reads(engine: Engine) -> Engine:
    """The same engine (and pool) for reads that need no transaction, those of one statement (which
    sees one snapshot either way): on PostgreSQL they run in autocommit, without the BEGIN and the
    ROLLBACK that are two of the four round trips of a short read (the others: the pool's ping and
    the statement). SQLite's connections begin their own way (`make_engine`) and stay as they are."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


class SchemaRefused(PlatformError):
    """A schema change the platform does not make: a downgrade, or a store newer than this version."""

    status = 409


def revisions() -> list[str]:
    """The schema revisions this version of the platform knows, oldest first (one line, no branches)."""
    from alembic.script import ScriptDirectory

    return [script.revision for script in reversed(list(ScriptDirectory(str(MIGRATIONS)).walk_revisions()))]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (creating it on an empty database); never down (`SchemaRefused`)."""
    _refuse_going_back(engine, revision)
    command.upgrade(alembic_config(engine), revision)


def _refuse_going_back(engine: Engine, revision: str) -> None:
    """Downgrades drop tables and the data in them, and a store written by a newer version has tables
    this one does not know: both are refused with what to do instead (Alembic's own messages name
    neither the cause nor the remedy)."""
    known = revisions()
    with engine.connect() as connection:
        current = store_revision(connection)
    if current is not None and current not in known:
        raise SchemaRefused(
            f"the store's schema is at {current!r}, which this version of urbantwin does not know (its "
            f"newest is {known[-1]!r}): a newer version has upgraded the store. Run that version, or "
            "restore a backup made before the upgrade (`urbantwin db restore`); schemas are never "
            "downgraded"
        )
    if revision == "head":
        return
    if revision not in known:
        raise SchemaRefused(f"no schema revision {revision!r}; this version knows {', '.join(known)}")
    if current is not None and known.index(revision) < known.index(current):
        raise SchemaRefused(
            f"the store's schema is at {current!r}, newer than {revision!r}: downgrades are refused, as "
            "they would drop tables and the data in them. Restore a backup made before the upgrade "
            "instead (`urbantwin db restore`)"
        )


def head_revision() -> str:
    """The newest schema revision this version of the platform knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "the migrations have one head"
    return head


def store_revision(connection: Connection) -> str | None:
    """The schema revision the store is at; None for a store never migrated."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")


def is_query_timeout(error: Exception) -> bool:
    """Whether a database error is a statement stopped by the query timeout (on either backend)."""
    original = getattr(error, "orig", error)
    if type(original).__name__ == "QueryCanceled":  # psycopg.errors.QueryCanceled
        return True
    return isinstance(original, sqlite3.OperationalError) and "interrupted" in str(original)
