"""Warming the tile cache of the viewer's first view: which tiles (the zooms the viewer opens at, over
the buildings with a margin, buildings first), none for a small model, and the warm run itself
through the app (every tile answered, as a browser's request would be)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
import shapely
from sqlalchemy import Engine

from urbantwin.app import create_app
from urbantwin.ingest.geojson import import_geojson
from urbantwin.ingest.pipeline import CollectionInfo
from urbantwin.settings import Settings
from urbantwin.web import warm
from urbantwin.web.warm import Collection, first_view_tiles, home_zoom, tiles_over

#: The extent of the demo's buildings (Leipzig-West).
WEST = (12.2966525, 51.318459, 12.3487233, 51.3491462)


def test_the_zooms_are_those_the_viewer_opens_at() -> None:
    # The viewer at 1280×800 (a map of about 960 px beside the sidebar) opens at z13.37 and on a
    # phone at z12.11 (measured in Chromium): tiles of z13 and z12.
    assert home_zoom(WEST, 960, 720) == pytest.approx(13.37, abs=0.1)
    assert home_zoom(WEST, 375, 600) == pytest.approx(12.11, abs=0.05)


def test_tiles_over_a_box_start_in_its_middle() -> None:
    tiles = tiles_over(WEST, 13)
    # The six z13 building tiles (row/col) the viewer asked for in its first view are all there.
    for row, col in ((2730, 4376), (2729, 4376), (2730, 4375), (2730, 4377), (2729, 4375), (2729, 4377)):
        assert (13, row, col) in tiles
    assert len(tiles) == len(set(tiles)) == 6 and tiles[0] in {(13, 2729, 4376), (13, 2730, 4376)}


def test_the_first_view_buildings_first_and_nothing_for_a_small_model() -> None:
    found = [
        Collection("trees", 30_000, WEST, False),
        Collection("buildings", 5_500, WEST, True),
        Collection("lod1", 300, WEST, True),
    ]
    wanted = first_view_tiles(found)
    assert wanted[0][0] == "buildings" and {w[1] for w in wanted} == {12, 13}
    z13 = [w for w in wanted if w[1] == 13]
    assert [w[0] for w in z13[: len(z13) // 3]] == ["buildings"] * (len(z13) // 3)
    assert {w[0] for w in wanted} == {"trees", "buildings", "lod1"}
    assert first_view_tiles([Collection("buildings", 500, WEST, True)]) == []
    assert first_view_tiles([Collection("trees", 50_000, WEST, False)]) == []  # no buildings: no home view


def test_warming_asks_the_app_for_every_tile(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocks = [
        {
            "type": "Feature",
            "id": f"b{i}",
            "properties": {"name": f"block {i}"},
            "geometry": shapely.box(12.30 + i * 0.005, 51.32, 12.303 + i * 0.005, 51.323).__geo_interface__,
        }
        for i in range(10)
    ]
    path = tmp_path / "blocks.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": blocks}), encoding="utf-8")
    import_geojson(
        engine, path, CollectionInfo("blocks", "Buildings", "test buildings", "CC0-1.0"), progress=False
    )
    app = create_app(settings, engine)
    assert asyncio.run(warm.warm_first_view(app)) == 0  # ten features: not worth it
    monkeypatch.setattr(warm, "WARM_MIN_FEATURES", 1)
    with caplog.at_level(logging.WARNING, logger="urbantwin.web"):
        asked = asyncio.run(warm.warm_first_view(app))
    assert asked > 0 and not caplog.records, [r.getMessage() for r in caplog.records]


def test_the_app_is_asked_in_process_as_its_own_client(app) -> None:  # noqa: ANN001
    # A plain ASGI call (the server needs no HTTP client library): the status of what was asked.
    assert asyncio.run(warm.get_status(app, "/v1.1")) == 200
    assert asyncio.run(warm.get_status(app, "/ogcapi/collections/nowhere/tiles/WebMercatorQuad/1/0/0")) == 404
