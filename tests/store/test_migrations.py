"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, insert, select, text

from tests.transit.conftest import write_feed
from urbantwin.store.access_schema import organisations
from urbantwin.store.engine import alembic_config, upgrade
from urbantwin.store.schema import metadata
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
