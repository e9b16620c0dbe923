"""Many rows into one table at once, given column by column: `COPY` on PostgreSQL, one `executemany`
of the driver on SQLite.

`connection.execute(table.insert(), [dict, …])` builds every row's parameters in Python through
SQLAlchemy's compiled statement; for the hundreds of thousands of rows of a city's GTFS feed (trips,
departures per stop and hour) that was most of the import's time. Here each column's values are
converted once, by the column type's own bind processor where it has one (so SQLite stores exactly
what SQLAlchemy would: dates as ISO text, JSON as text), and the rows go to the driver as tuples;
PostgreSQL reads them through psycopg's `COPY … FROM STDIN`, with JSON as text cast by the server.

None is SQL NULL in every column (a JSON column too, where SQLAlchemy would write JSON `null`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import JSON, Connection, Table

#: Rows per `executemany` on SQLite (bounded memory for the driver's parameter tuples).
BATCH = 50_000


def insert_columns(
    connection: Connection, table: Table, columns: Mapping[str, Sequence[Any] | np.ndarray]
) -> int:
    """Insert the rows whose values `columns` gives by column name (every column of one length);
    the number of rows."""
    names = list(columns)
    values = [_plain(columns[name]) for name in names]
    lengths = {len(v) for v in values}
    if len(lengths) > 1:
        raise ValueError(f"{table.name}: columns of different lengths {sorted(lengths)}")
    count = lengths.pop() if lengths else 0
    if not count:
        return 0
    dialect = connection.dialect
    if dialect.name == "postgresql":
        for n, name in enumerate(names):
            if isinstance(table.c[name].type, JSON):
                values[n] = [None if v is None else orjson.dumps(v).decode() for v in values[n]]
        quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(
            f"COPY {dialect.identifier_preparer.format_table(table)} ({quoted}) FROM STDIN"
        ) as copy:
            for row in zip(*values, strict=True):
                copy.write_row(row)
        return count
    for n, name in enumerate(names):
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            values[n] = [None if v is None else processor(v) for v in values[n]]
    placeholders = ", ".join("?" for _ in names)
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    statement = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) VALUES ({placeholders})"
    )
    rows = list(zip(*values, strict=True))
    for start in range(0, count, BATCH):
        connection.exec_driver_sql(statement, rows[start : start + BATCH])
    return count


def _plain(values: Sequence[Any] | np.ndarray) -> list[Any]:
    """Python values the drivers take (numpy scalars become int, float, str; a missing text None)."""
    if isinstance(values, pd.Series | pd.Index):
        if pd.api.types.is_numeric_dtype(values.dtype):
            return values.to_numpy().tolist()
        return values.astype(object).where(values.notna(), None).tolist()
    if isinstance(values, np.ndarray):
        return values.tolist()
    return list(values)
