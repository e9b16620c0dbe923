"""Tables of the time-series extension: hourly rollups of Observations, how far they reach, and
the same hours packed a year per row.

The rollups are a cache, derived from `observations` and rebuilt from it at any time (see
`store/rollups.py` for how they are filled and kept correct); the year rows are derived from the
rollups (`store/hour_years.py`). Every table cascades with its Datastream, so deleting a Datastream
leaves nothing behind.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Double, ForeignKey, Integer, LargeBinary, Table

from urbantwin.store.schema import metadata
from urbantwin.store.types import Id, Json, UtcTime

#: One row per Datastream and UTC hour that has Observations: their count (every Observation, the
#: cheap consistency guard compares it with the observations table) and count, sum, minimum and
#: maximum of the numeric results (`result_number`). Sum, count, min and max merge exactly when more
#: Observations arrive; the mean is derived (sum / count) when read.
observation_rollups = Table(
    "observation_rollups",
    metadata,
    Column("datastream_id", Id, ForeignKey("datastreams.id", ondelete="CASCADE"), primary_key=True),
    Column("hour_start", UtcTime, primary_key=True),
    Column("all_count", BigInteger, nullable=False),
    Column("value_count", BigInteger, nullable=False),
    Column("value_sum", Double, nullable=False),
    Column("value_min", Double),
    Column("value_max", Double),
)

#: Per Datastream, the watermark: every Observation with an id up to `merged_through` is in the
#: rollups, none above it. On PostgreSQL `pending_through` is the next watermark, which becomes
#: final once the transactions listed in `pending_transactions` (virtual transaction ids that held
#: Observation ids when it was taken) have ended; see `store/rollups.py`.
observation_rollup_state = Table(
    "observation_rollup_state",
    metadata,
    Column("datastream_id", Id, ForeignKey("datastreams.id", ondelete="CASCADE"), primary_key=True),
    Column("merged_through", BigInteger, nullable=False),
    Column("pending_through", BigInteger),
    Column("pending_transactions", Json),
)

#: Per Datastream and UTC calendar year that has rollups: the `value_count` and `value_sum` of every
#: hour of the year, oldest first (8,760 or 8,784 of each; 0 where the hour has no numeric result),
#: packed as little-endian int32 and float64 — one row instead of 8,760 for a reader of whole years
#: (`store/hour_years.py` keeps them equal to the rollups).
observation_hour_years = Table(
    "observation_hour_years",
    metadata,
    Column("datastream_id", Id, ForeignKey("datastreams.id", ondelete="CASCADE"), primary_key=True),
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("value_counts", LargeBinary, nullable=False),
    Column("value_sums", LargeBinary, nullable=False),
)
