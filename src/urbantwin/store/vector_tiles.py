"""Mapbox Vector Tiles made by the database where it can: PostGIS's `ST_AsMVT`.

`database_tile` answers the encoded tile of one collection on PostgreSQL, or None on a backend that
cannot make one (SQLite), where the caller encodes in Python. The content is the same either way:
one layer named after the collection; per feature the row id as MVT id, the feature's properties
(JSON nulls left out), its `id` (the feature key) and `height` where the store has one; geometries in
tile units clipped to the tile plus `buffer` units.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

_SQL = text(
    """
    WITH tile AS (
        SELECT ST_TileEnvelope(:z, :col, :row) AS box,
               ST_Transform(ST_TileEnvelope(:z, :col, :row, margin => :margin), 4326) AS search
    ), rows AS (
        SELECT f.id AS fid,
               ST_AsMVTGeom(ST_Transform(f.geom, 3857), tile.box, :extent, :buffer, true) AS geom,
               jsonb_strip_nulls(
                   COALESCE(f.properties, '{}'::jsonb)
                   || jsonb_build_object('id', f.feature_key)
                   || CASE WHEN f.height IS NULL THEN '{}'::jsonb
                           ELSE jsonb_build_object('height', f.height) END
               ) AS properties
        FROM features f, tile
        WHERE f.collection_id = :collection AND f.geom && tile.search
          AND ST_Intersects(f.geom, tile.search)
    )
    SELECT ST_AsMVT(rows.*, :layer, :extent, 'geom', 'fid') FROM rows WHERE geom IS NOT NULL
    """
).columns()


def database_tile(
    connection: Connection, collection: str, z: int, row: int, col: int, extent: int, buffer: int
) -> bytes | None:
    """The encoded tile from PostGIS, or None when the backend does not make tiles itself."""
    if connection.dialect.name != "postgresql":
        return None
    params = {
        "collection": collection,
        "layer": collection,
        "z": z,
        "row": row,
        "col": col,
        "extent": extent,
        "buffer": buffer,
        "margin": buffer / extent,
    }
    data = connection.execute(_SQL, params).scalar()
    return bytes(data) if data is not None else b""


__all__ = ["database_tile"]
