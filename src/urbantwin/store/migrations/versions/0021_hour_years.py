"""The hourly rollups packed a UTC year per row (`observation_hour_years`, store/hour_years.py),
filled here from the rollups already there.

The fill is written out here rather than taken from store/hour_years.py, so that this migration
does what it did when a later one changes that module or the table. It reads every rollup row once
(a Datastream at a time); a store whose rollups were never built has nothing to read.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:00:00
"""

from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Id, UtcTime, to_micros

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_HOUR = 3_600_000_000

_rollups = sa.table(
    "observation_rollups",
    sa.column("datastream_id", Id),
    sa.column("hour_start", UtcTime()),
    sa.column("value_count", sa.BigInteger()),
    sa.column("value_sum", sa.Double()),
)
_years = sa.table(
    "observation_hour_years",
    sa.column("datastream_id", Id),
    sa.column("year", sa.Integer()),
    sa.column("value_counts", sa.LargeBinary()),
    sa.column("value_sums", sa.LargeBinary()),
)


def _start(year: int) -> int:
    return to_micros(datetime(year, 1, 1, tzinfo=UTC))


def _fill(connection: sa.Connection) -> None:
    ids = connection.execute(sa.select(_rollups.c.datastream_id).distinct()).scalars().all()
    for datastream_id in ids:
        rows = connection.execute(
            sa.select(_rollups.c.hour_start, _rollups.c.value_count, _rollups.c.value_sum).where(
                _rollups.c.datastream_id == datastream_id
            )
        ).all()
        hours = np.array([to_micros(row.hour_start) for row in rows], "int64")
        counts = np.array([row.value_count for row in rows], "int64")
        sums = np.array([row.value_sum for row in rows], "float64")
        years = hours.astype("M8[us]").astype("M8[Y]").astype("int64") + 1970
        written = []
        for year in sorted(int(y) for y in np.unique(years)):
            size = (_start(year + 1) - _start(year)) // _HOUR
            year_counts, year_sums = np.zeros(size, "<i4"), np.zeros(size, "<f8")
            mine = years == year
            index = (hours[mine] - _start(year)) // _HOUR
            year_counts[index] = counts[mine]
            year_sums[index] = sums[mine]
            written.append(
                {
                    "datastream_id": datastream_id,
                    "year": year,
                    "value_counts": year_counts.tobytes(),
                    "value_sums": year_sums.tobytes(),
                }
            )
        if written:
            connection.execute(sa.insert(_years), written)


def upgrade() -> None:
    op.create_table(
        "observation_hour_years",
        sa.Column("datastream_id", Id, nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value_counts", sa.LargeBinary(), nullable=False),
        sa.Column("value_sums", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_observation_hour_years_datastream_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("datastream_id", "year", name=op.f("pk_observation_hour_years")),
    )
    _fill(op.get_bind())


def downgrade() -> None:
    op.drop_table("observation_hour_years")
