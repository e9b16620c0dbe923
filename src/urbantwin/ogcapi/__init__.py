"""The OGC APIs at `/ogcapi/`: Features (Part 1 core, GeoJSON, HTML, OpenAPI 3.0; Part 2 CRS; Part 3
CQL2 filtering; Part 4 writes), Tiles with Mapbox Vector Tiles, and the TileMatrixSets they use."""
