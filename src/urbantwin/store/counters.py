"""Adding to counters kept in a table, in one statement per batch on both backends.

`INSERT … ON CONFLICT DO UPDATE` is spelled alike by SQLite (3.24+) and PostgreSQL, but SQLAlchemy
builds it from each dialect's own `insert`, so the choice of dialect lives here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from urbantwin.store.access_schema import dataset_usage


def add_usage(connection: Connection, counts: dict[tuple[str, str, str], int]) -> None:
    """Add `counts` keyed (dataset_id, day, api) to `dataset_usage`."""
    if not counts:
        return
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    rows: list[dict[str, Any]] = [
        {"dataset_id": dataset, "day": day, "api": api, "requests": n}
        for (dataset, day, api), n in counts.items()
    ]
    statement = insert(dataset_usage).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["dataset_id", "day", "api"],
        set_={"requests": dataset_usage.c.requests + statement.excluded.requests},
    )
    connection.execute(statement)
