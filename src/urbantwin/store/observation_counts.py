"""How many Observations each Datastream has, kept by the database itself, for a fast `$count`.

Counting the rows of a Datastream with millions of Observations reads millions of index entries, and
counting the whole table reads all of it: the queries operators of other SensorThings servers see
time out. Here the database keeps one row per Datastream with its count, changed by triggers in the
same transaction as the Observations (exact, whatever writes them: the API, a cascade from a deleted
Datastream or FeatureOfInterest, a move to another Datastream), so `Datastreams(1)/Observations` and
`/Observations` count with a sum over at most one row per visible Datastream (sensorthings/read.py).

PostgreSQL counts once per statement from its transition tables (a COPY of thousands of rows costs
one grouped upsert); SQLite, which has row triggers only, once per row. A Datastream's count is the
sum of its rows: on PostgreSQL each server connection adds to a row of its own (`slot`, its backend
process id), so concurrent writers to one Datastream never wait for each other's commit, nor
deadlock over the counts of several Datastreams (they would, with one row per Datastream, as soon
as two transactions wrote to two Datastreams in opposite orders). `compact` folds those rows into
slot 0 now and then; SQLite, one writer at a time, keeps slot 0 only.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, ForeignKey, Integer, Table, text

from urbantwin.store.schema import metadata
from urbantwin.store.types import Id

observation_counts = Table(
    "observation_counts",
    metadata,
    Column("datastream_id", Id, ForeignKey("datastreams.id", ondelete="CASCADE"), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("observations", BigInteger, nullable=False),
)

_POSTGRESQL = [
    """
    CREATE FUNCTION urbantwin_count_observations() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            INSERT INTO observation_counts AS c (datastream_id, slot, observations)
            SELECT o.datastream_id, pg_backend_pid(), -count(*) FROM old_rows AS o
            -- unless the Datastream went with its Observations (a cascade): then nothing is left to count
            WHERE EXISTS (SELECT 1 FROM datastreams AS d WHERE d.id = o.datastream_id)
            GROUP BY o.datastream_id
            ON CONFLICT (datastream_id, slot)
            DO UPDATE SET observations = c.observations + excluded.observations;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO observation_counts AS c (datastream_id, slot, observations)
            SELECT datastream_id, pg_backend_pid(), count(*) FROM new_rows GROUP BY datastream_id
            ON CONFLICT (datastream_id, slot)
            DO UPDATE SET observations = c.observations + excluded.observations;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER observations_counted_insert AFTER INSERT ON observations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION urbantwin_count_observations()
    """,
    """
    CREATE TRIGGER observations_counted_delete AFTER DELETE ON observations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION urbantwin_count_observations()
    """,
    # Transition tables allow no column list: every UPDATE statement recounts what it touched (an
    # update that keeps the Datastream subtracts and adds the same numbers).
    """
    CREATE TRIGGER observations_counted_update AFTER UPDATE ON observations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION urbantwin_count_observations()
    """,
]

_SQLITE = [
    """
    CREATE TRIGGER observations_counted_insert AFTER INSERT ON observations BEGIN
        INSERT INTO observation_counts (datastream_id, slot, observations) VALUES (NEW.datastream_id, 0, 1)
        ON CONFLICT (datastream_id, slot) DO UPDATE SET observations = observations + 1;
    END
    """,
    """
    CREATE TRIGGER observations_counted_delete AFTER DELETE ON observations BEGIN
        UPDATE observation_counts SET observations = observations - 1
        WHERE datastream_id = OLD.datastream_id AND slot = 0;
    END
    """,
    """
    CREATE TRIGGER observations_counted_update AFTER UPDATE OF datastream_id ON observations
    WHEN OLD.datastream_id <> NEW.datastream_id BEGIN
        UPDATE observation_counts SET observations = observations - 1
        WHERE datastream_id = OLD.datastream_id AND slot = 0;
        INSERT INTO observation_counts (datastream_id, slot, observations) VALUES (NEW.datastream_id, 0, 1)
        ON CONFLICT (datastream_id, slot) DO UPDATE SET observations = observations + 1;
    END
    """,
]

#: Fill the counts from the Observations there are (the migration, and `recount`).
RECOUNT = (
    "INSERT INTO observation_counts (datastream_id, slot, observations) "
    "SELECT datastream_id, 0, count(*) FROM observations GROUP BY datastream_id"
)

#: Every Datastream's rows folded into slot 0 in one statement (each row deleted by exactly one
#: compaction, however many run at once, so the sums stay right).
_COMPACT = """
    WITH gone AS (
        DELETE FROM observation_counts WHERE slot <> 0 RETURNING datastream_id, observations
    ), sums AS (
        SELECT datastream_id, sum(observations) AS observations FROM gone GROUP BY datastream_id
    )
    INSERT INTO observation_counts AS c (datastream_id, slot, observations)
    SELECT datastream_id, 0, observations FROM sums
    ON CONFLICT (datastream_id, slot) DO UPDATE SET observations = c.observations + excluded.observations
"""


def compact(connection: Connection) -> None:
    """Fold the per-connection rows of every Datastream into one (PostgreSQL; SQLite has one)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(_COMPACT))


def trigger_statements(dialect: str) -> list[str]:
    """The statements that make the database keep the counts (after the table exists)."""
    return _POSTGRESQL if dialect == "postgresql" else _SQLITE


def drop_statements(dialect: str) -> list[str]:
    names = ("observations_counted_insert", "observations_counted_delete", "observations_counted_update")
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name} ON observations" for name in names] + [
            "DROP FUNCTION IF EXISTS urbantwin_count_observations()"
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]
