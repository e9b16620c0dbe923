"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from urbantwin.store.schema import metadata


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
