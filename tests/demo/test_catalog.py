"""The demo's catalogue: every dataset with its real publisher, valid DCAT-AP.de."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from fastapi.testclient import TestClient

from tests.catalog.conftest import violations
from tests.conftest import DemoStore
from urbantwin.app import create_app
from urbantwin.settings import Settings


@pytest.mark.xdist_group("demo")
def test_the_demo_catalogue_names_each_source_and_validates(demo_store: DemoStore, tmp_path: Path) -> None:
    url = demo_store.copy(tmp_path)  # the app writes its defaults at start
    with TestClient(create_app(Settings(database_url=url))) as client:
        listing = client.get("/catalog", params={"f": "json", "limit": 100}).json()
        datasets = {d["id"]: d for d in listing["datasets"]}
        turtle = client.get("/catalog", params={"f": "ttl", "limit": 100}).text
        air = client.get("/v1.1/Datastreams?$filter=name eq 'PM10 at Leipzig-Mitte'&$top=1").json()["value"]
    publishers = {ident: (d.get("publisher") or {}).get("id") for ident, d in datasets.items()}
    assert publishers["luftqualitaet-lfulg-2014"] == "lfulg"
    assert publishers["cams-pm25-vorhersage"] == "copernicus-cams"
    assert publishers["buildings"] == "openstreetmap"
    assert publishers["ortsteile"] == "stadt-leipzig"
    assert datasets["ev-charging"]["licence"]["code"] == "cc-by/4.0"
    assert air, "the LfULG Datastreams stay readable to everyone"
    assert not violations(rdflib.Graph().parse(data=turtle, format="turtle"))
