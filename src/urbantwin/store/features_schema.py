"""The tables of the city model: collections of features (OGC API Features), on both backends.

A collection carries the metadata a catalogue and a client need (title, description, licence,
attribution, keywords, the schema of its items, its extent and the CRS of its source). A feature
keeps its source's own id as `feature_key` (unique per collection), so an import matches what it
imported before and importing twice changes nothing. Geometries are stored in WGS 84 like every
geometry of the store, spatially indexed as the SensorThings tables are (GiST on PostGIS, an R-tree
on SQLite; see `spatial.py`).
"""

from __future__ import annotations

from sqlalchemy import Column, Double, ForeignKey, Index, Integer, Table, Text, UniqueConstraint

from urbantwin.store.schema import metadata
from urbantwin.store.types import Geometry, Id, Json, UtcTime

collections = Table(
    "collections",
    metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("licence", Text),
    Column("attribution", Text),
    Column("keywords", Json),
    #: JSON Schema of the items' properties (what a client may filter on).
    Column("item_schema", Json),
    #: [minx, miny, maxx, maxy] in CRS84 over the features present (store/extents.py).
    Column("extent_bbox", Json),
    #: The `version` at which `extent_bbox` was right; any other: computed afresh when read.
    Column("extent_version", Integer),
    #: The CRS the source was given in (a URI or an EPSG code), for provenance.
    Column("source_crs", Text),
    Column("created", UtcTime, nullable=False),
    Column("updated", UtcTime, nullable=False),
    #: Bumped by every write to the collection's features (importer, OGC API Part 4): caches key on it.
    Column("version", Integer, nullable=False, server_default="0"),
    #: The catalogue dataset the collection is published as (its access rules and DCAT record).
    Column("dataset_id", Text, ForeignKey("datasets.id"), index=True),
)

features = Table(
    "features",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("collection_id", Text, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    Column("feature_key", Text, nullable=False),
    Column("properties", Json),
    Column("geom", Geometry()),
    #: Height above ground in metres (buildings), measured or derived; how is said in `properties`.
    Column("height", Double),
    Column("valid_from", UtcTime),
    Column("valid_to", UtcTime),
    UniqueConstraint("collection_id", "feature_key"),
    # Pages of a collection in id order; the spatial index answers the bounding box.
    Index(None, "collection_id", "id"),
)
