"""Mapbox Vector Tiles made by the database where it can: PostGIS's `ST_AsMVT`.

`database_tile` answers the encoded tile of one collection on PostgreSQL, or None on a backend that
cannot make one (SQLite), where the caller encodes in Python. The content is the same either way:
one layer named after the collection; per feature the row id as MVT id, the feature's properties
(JSON nulls left out), its `id` (the feature key) and `height` where the store has one; geometries in
tile units clipped to the tile plus `buffer` units.

It replaced an earlier tile query: the same features, properties and geometries (the same bytes
for every building tile of the demo; where properties hold JSON nulls, PostGIS may list their keys
in the layer's key table, which decoders do not see), in less time (bench/README.md, "Vector
tiles"), from two changes measured on the densest tile of the demo's buildings (1,000 buildings,
13 properties each):

- no `WHERE geom IS NOT NULL` on the clipped geometries: the planner pushed it into the scan and so
  clipped every geometry twice (once to filter, once for the output), and `ST_AsMVT` leaves features
  without a geometry out by itself;
- the feature key and height are merged into the properties in one `||` rather than two and a
  `jsonb_strip_nulls` of the whole result: each of those rebuilds the document, and `ST_AsMVT` leaves
  out JSON nulls by itself. Only the two added members are stripped of nulls, so a height the store
  does not have does not hide a `height` of the properties.

Properties that are not a JSON object (a JSON null) count as none, as in the Python encoder; before,
`null || {…}` made an array, and such a feature lost its `id` and `height`.
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
               (CASE WHEN jsonb_typeof(f.properties) = 'object' THEN f.properties ELSE '{}'::jsonb END)
                 || jsonb_strip_nulls(jsonb_build_object('id', f.feature_key, 'height', f.height))
                 AS properties
        FROM features f, tile
        WHERE f.collection_id = :collection AND f.geom && tile.search
          AND ST_Intersects(f.geom, tile.search)
    )
    SELECT ST_AsMVT(rows.*, :layer, :extent, 'geom', 'fid') FROM rows
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
