"""OGC API - Features at `/ogcapi/`: Part 1 (core, GeoJSON, HTML, OpenAPI 3.0) and Part 2 (CRS)."""
