"""Writing many Observations' `resultQuality` and `parameters` at once (the air quality module's
sensor checks), the result itself untouched.

One UPDATE per Observation is what SQLite does best (an executemany of a prepared statement, no
round trips), but on PostgreSQL each statement also runs the statement-level trigger that keeps
the Observation counts (`observation_counts.py`), with its transition tables: some 5 ms a row.
There the rows go in chunks, each one `UPDATE … FROM unnest(ids, qualities, parameters)` (one
statement, one trigger run per chunk).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BigInteger, Connection, Text, bindparam, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from urbantwin.store.schema import observations

#: Rows per statement on PostgreSQL.
CHUNK = 5000


def update_quality(connection: Connection, datastream_id: int, rows: Sequence[tuple[int, Any, Any]]) -> None:
    """Set (observation id, resultQuality, parameters) of each row, Observations of one Datastream,
    in the caller's transaction."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        statement = (
            update(observations)
            .where(observations.c.id == bindparam("ident"), observations.c.datastream_id == datastream_id)
            .values(result_quality=bindparam("quality"), parameters=bindparam("parameters"))
        )
        connection.execute(
            statement,
            [{"ident": ident, "quality": quality, "parameters": extra} for ident, quality, extra in rows],
        )
        return
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        connection.execute(
            _UNNEST,
            {
                "datastream": datastream_id,
                "ids": [ident for ident, _, _ in chunk],
                "qualities": [orjson.dumps(quality).decode() for _, quality, _ in chunk],
                "parameters": [orjson.dumps(extra).decode() for _, _, extra in chunk],
            },
        )


# Three array parameters whatever the number of rows: one statement text, prepared once (a VALUES
# list of thousands of parameters costs more to build and plan than the update itself).
_UNNEST = text(
    """
    UPDATE observations AS o
    SET result_quality = given.quality::jsonb, parameters = given.parameters::jsonb
    FROM unnest(:ids, :qualities, :parameters) AS given (ident, quality, parameters)
    WHERE o.datastream_id = :datastream AND o.id = given.ident
    """
).bindparams(
    bindparam("ids", type_=ARRAY(BigInteger)),
    bindparam("qualities", type_=ARRAY(Text)),
    bindparam("parameters", type_=ARRAY(Text)),
)
