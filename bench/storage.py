"""Disk per Observation on PostgreSQL: what a year of a city's sensors needs, for docs/scaling.md.

Workload: `--streams` Datastreams with `--days` of minute data each (time-major, as sensors report),
loaded the way `bench/timeseries.py` loads (INSERT … SELECT from generate_series, equivalent to COPY),
then `VACUUM ANALYZE` and every Datastream's hourly rollups filled (as the first aggregate query
would). Printed: the bytes on disk of each table that grows with the Observations (heap, TOAST and
every index, `pg_total_relation_size`), per Observation, and the WAL written by the load per
Observation (what replicas and archives receive). Nothing is written to bench/README.md.

    .venv/bin/python bench/storage.py --streams 20 --days 30
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from host import describe
from sqlalchemy import create_engine, text
from timeseries import SETUP, log, recreate_database

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from urbantwin.settings import Settings  # noqa: E402
from urbantwin.store import rollups  # noqa: E402
from urbantwin.store.engine import for_writes, make_engine, upgrade  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_storage_bench"
START = datetime(2024, 1, 1, tzinfo=UTC)
#: The tables whose size grows with the number of Observations.
GROWING = ("observations", "observation_rollups", "observation_counts", "observation_rollup_state")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()

    recreate_database(args.pg_url)
    engine = make_engine(Settings(database_url=args.pg_url, query_timeout_seconds=3600))
    upgrade(engine)
    with engine.begin() as connection:
        for statement in SETUP:
            connection.execute(text(statement), {"n": args.streams})
        wal_before = connection.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    started = time.monotonic()
    for day in range(args.days):
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO observations (phenomenon_time_start, result_type, result_number, "
                    "datastream_id, feature_of_interest_id) "
                    "SELECT :start + m * interval '1 minute', 0, "
                    "round((20 + 10 * sin(m / 720.0 + d) + (m * d % 17) / 4.0)::numeric, 2)::float8, d, 1 "
                    "FROM generate_series(0, 1439) m "
                    "CROSS JOIN generate_series(1, CAST(:streams AS integer)) d ORDER BY m, d"
                ),
                {"start": START + timedelta(days=day), "streams": args.streams},
            )
    loaded = time.monotonic() - started
    raw = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with raw.connect() as connection:
        wal_after = connection.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
        wal_bytes = connection.execute(
            text("SELECT pg_wal_lsn_diff(:after, :before)"), {"after": wal_after, "before": wal_before}
        ).scalar_one()
        connection.execute(text("VACUUM ANALYZE"))
    for datastream_id in range(1, args.streams + 1):
        with for_writes(engine).begin() as connection:
            rollups.refresh(connection, datastream_id)
    with raw.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM observations")).scalar_one()
        sizes = {
            name: connection.execute(text("SELECT pg_total_relation_size(:t)"), {"t": name}).scalar_one()
            for name in GROWING
        }
        indexes = connection.execute(
            text(
                "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes "
                "WHERE relname = 'observations' ORDER BY 2 DESC"
            )
        ).all()
        heap = connection.execute(text("SELECT pg_relation_size('observations')")).scalar_one()
        version = connection.execute(text("SHOW server_version")).scalar_one()
    raw.dispose()
    engine.dispose()

    log(f"{count:,} Observations in {args.streams} Datastreams, loaded in {loaded:.0f} s")
    shape = f"{args.streams} × {args.days} days of minutes"
    print(f"\n{describe()}, PostgreSQL {version}; {count:,} Observations ({shape})\n")
    print("| part | bytes | per Observation |")
    print("|---|---:|---:|")
    print(f"| observations: rows (heap) | {heap:,} | {heap / count:.1f} |")
    for name, size in indexes:
        print(f"| observations: index `{name}` | {size:,} | {size / count:.1f} |")
    for name, size in sizes.items():
        print(f"| `{name}` in all (with TOAST and indexes) | {size:,} | {size / count:.1f} |")
    total = sum(sizes.values())
    print(f"| **on disk in all** | {total:,} | **{total / count:.1f}** |")
    print(f"| WAL written by the load | {int(wal_bytes):,} | {float(wal_bytes) / count:.1f} |")


if __name__ == "__main__":
    main()
