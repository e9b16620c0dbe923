"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, insert, select, text

from tests.timeseries.helpers import new_datastream
from tests.transit.conftest import write_feed
from urbantwin.store import hour_years
from urbantwin.store.access_schema import organisations
from urbantwin.store.engine import alembic_config, upgrade
from urbantwin.store.schema import metadata
from urbantwin.store.timeseries_schema import observation_rollups
from urbantwin.store.transit_schema import transit_feeds, transit_stop_departures
from urbantwin.transit.gtfs_import import digest, import_gtfs


def _ours(difference: object) -> bool:
    """Differences that are not a drift: the spatial indexes the migrations make by hand (SQLite's
    R-tree tables, PostGIS's GiST indexes) and PostGIS's own tables."""
    name = getattr(difference[1], "name", "") if isinstance(difference, tuple) else ""  # type: ignore[index]
    spatial = name.endswith(("_rtree", "_rtree_node", "_rtree_parent", "_rtree_rowid", "_gist"))
    return not (spatial or name == "spatial_ref_sys")


def test_migrated_store_matches_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        drift = [d for d in compare_metadata(MigrationContext.configure(connection), metadata) if _ours(d)]
    assert drift == []


def test_former_organisation_kinds_are_renamed_and_extents_computed_afresh(engine: Engine) -> None:
    """Migration 0010: the kinds of earlier versions get today's names (`administration`, which said
    nothing of the level of authority, that of the local authority it was)."""
    command.downgrade(alembic_config(engine), "0009")
    try:
        with engine.begin() as connection:
            for ident, kind in (("stadt", "administration"), ("uni", "science"), ("verein", "civil_society")):
                connection.execute(
                    insert(organisations).values(id=ident, title=ident, kind=kind, created=datetime.now(UTC))
                )
    finally:
        upgrade(engine)
    with engine.connect() as connection:
        kinds = dict(connection.execute(select(organisations.c.id, organisations.c.kind)).all())
    assert kinds == {"stadt": "local-authority", "uni": "research", "verein": "ngo"}


def test_feeds_imported_before_the_departures_import_anew(engine: Engine, tmp_path: Path) -> None:
    """Migration 0014: a feed stored without departures per stop loses its digest, so the same file
    imported again is imported anew, with them."""
    feed = write_feed(tmp_path / "feed.zip")
    command.downgrade(alembic_config(engine), "0013")
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO transit_feeds (id, digest, detour_factor, imported, summary) "
                    "VALUES ('f', :digest, 1.11, :now, '{}')"
                ),
                {"digest": digest(feed), "now": datetime.now(UTC)},
            )
    finally:
        upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(select(transit_feeds.c.digest)).scalar() == ""
    assert import_gtfs(engine, feed, feed_id="f").changed
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(transit_stop_departures)).scalar() > 0


def test_the_year_rows_are_filled_from_the_rollups_already_there(engine: Engine) -> None:
    """Migration 0021: a store whose rollups were built gets their year rows (else its assessments
    would find no hours until a merge touched each year)."""
    stream, _ = new_datastream(engine)
    command.downgrade(alembic_config(engine), "0020")
    try:
        with engine.begin() as connection:
            hour = {"datastream_id": stream, "all_count": 1, "value_min": None, "value_max": None}
            connection.execute(
                insert(observation_rollups),
                [
                    {
                        **hour,
                        "hour_start": datetime(2023, 12, 31, 23, tzinfo=UTC),
                        "all_count": 2,
                        "value_count": 2,
                        "value_sum": 10.0,
                    },
                    {
                        **hour,
                        "hour_start": datetime(2024, 1, 1, 0, tzinfo=UTC),
                        "value_count": 0,
                        "value_sum": 0.0,
                    },  # an hour of text results only
                    {
                        **hour,
                        "hour_start": datetime(2024, 1, 1, 2, tzinfo=UTC),
                        "value_count": 1,
                        "value_sum": 3.25,
                    },
                ],  # fmt: skip
            )
    finally:
        upgrade(engine)
    with engine.connect() as connection:
        filled = {row.year: row for row in hour_years.read(connection, [stream], 2000, 2100)}
    assert sorted(filled) == [2023, 2024]
    assert (len(filled[2023].counts), len(filled[2024].counts)) == (8760, 8784)
    assert (filled[2023].counts[-1], filled[2023].sums[-1]) == (2, 10.0)
    assert filled[2023].counts[:-1].sum() == 0 and filled[2023].sums[:-1].sum() == 0.0
    assert filled[2024].counts[:4].tolist() == [0, 0, 1, 0] and filled[2024].sums[2] == 3.25
    with engine.begin() as connection:  # what the migration wrote is what the module rebuilds
        hour_years.rebuild(connection, [stream])
        rebuilt = {row.year: row for row in hour_years.read(connection, [stream], 2000, 2100)}
    for year, row in filled.items():
        assert rebuilt[year].counts.tobytes() == row.counts.tobytes()
        assert rebuilt[year].sums.tobytes() == row.sums.tobytes()
