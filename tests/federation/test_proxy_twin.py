"""A partner urbantwin's layer read through our proxy: the partner says how long its features may be
kept (`features_max_age_seconds`, here 1 s) with an ETag, and the proxy keeps them that long, then
asks again (revalidating) and shows the partner's change."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.federation.conftest import Local
from urbantwin.access.gate import Caller
from urbantwin.ingest.geojson import import_geojson
from urbantwin.ingest.pipeline import CollectionInfo
from urbantwin.settings import Settings

WHERE = {"type": "Point", "coordinates": [9.99, 53.55]}
TREES: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "oak",
            "properties": {"name": "oak"},
            "geometry": WHERE,
        }
    ],
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Both twins keep features for a second (the partner's answers say so)."""
    return dataclasses.replace(settings, features_max_age_seconds=1)


def test_the_partners_layer_is_kept_for_its_max_age_and_then_read_again(
    client: TestClient, engine: Engine, live_server: str, local: Local, tmp_path: Path
) -> None:
    path = tmp_path / "trees.geojson"
    path.write_text(json.dumps(TREES), encoding="utf-8")
    import_geojson(engine, path, CollectionInfo("trees", "Street trees"), progress=False)
    admin = Caller.system()
    local.federation.add(
        admin,
        {
            "name": "partner-geo",
            "url": f"{live_server}/ogcapi",
            "kind": "ogcapi",
            "attribution": "Partnerstadt",
            "licence": "dl-de/by-2-0",
        },
    )

    def names() -> tuple[list[str], bool, int]:
        proxied = local.federation.layer(admin, "partner-geo", "trees", [])
        shown = [f["properties"]["name"] for f in proxied.document["features"]]
        return shown, proxied.cached, proxied.max_age

    assert names() == (["oak"], False, 1)
    # The partner's change is not seen while the copy may be kept …
    feature = {"type": "Feature", "properties": {"name": "lime"}, "geometry": WHERE}
    assert client.post("/ogcapi/collections/trees/items", json=feature).status_code == 201
    kept, cached, _ = names()
    assert (kept, cached) == (["oak"], True)
    # … and is once its max-age has passed: the proxy asks again, with the ETag it holds.
    time.sleep(1.2)
    assert sorted(names()[0]) == ["lime", "oak"]
    # Unchanged, the partner confirms the copy (304): it is shown again from the cache.
    time.sleep(1.2)
    again, cached, _ = names()
    assert sorted(again) == ["lime", "oak"] and cached
    health = local.federation.registry.get(admin, "partner-geo")
    assert health.health == "ok"
