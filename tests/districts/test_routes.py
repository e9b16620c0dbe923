"""The district profiles over HTTP (`/api/districts/`): listing, one district, comparison, exports, access,
and what a caller who may not read a dataset is shown."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.districts.conftest import City
from urbantwin.districts.export import parquet_available
from urbantwin.store.access_schema import datasets


def test_the_city_s_district_collections(city: City, client: TestClient) -> None:
    answer = client.get("/api/districts")
    assert answer.status_code == 200, answer.text
    assert [c["collection"] for c in answer.json()["collections"]] == ["quarters"]


def test_profiles_one_and_compare(city: City, client: TestClient) -> None:
    listing = client.get("/api/districts/quarters").json()
    assert [d["id"] for d in listing["districts"]] == ["east", "far/away", "west"]
    assert listing["crs"] == "EPSG:25833"
    assert listing["labels"]["trees"] == {"en": "Street trees", "de": "Straßenbäume"}
    far = client.get("/api/districts/quarters/far/away").json()
    assert (
        far["name"] == "Far away" and far["population"]["latest"] is None and far["density_per_km2"] is None
    )
    one = client.get("/api/districts/quarters/west").json()
    assert one["figures"]["trees"]["count"] == 3 and one["population"]["latest"] == 1200
    compared = client.get("/api/districts/quarters/compare", params={"a": "west", "b": "east"}).json()
    assert compared["difference"]["population"] == 600


def test_exports(city: City, client: TestClient) -> None:
    answer = client.get("/api/districts/quarters", params={"f": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(answer.text))}
    assert rows["west"]["population"] == "1200" and rows["west"]["trees"] == "3"
    assert rows["east"]["population_2020"] == "2000"
    geojson = client.get("/api/districts/quarters", params={"f": "geojson"})
    assert geojson.headers["content-type"] == "application/geo+json"
    features = {f["id"]: f for f in geojson.json()["features"]}
    assert features["west"]["geometry"]["type"] == "Polygon"
    assert features["west"]["properties"]["buildings_floor_area_m2"] == 40_000
    parquet = client.get("/api/districts/quarters", params={"f": "parquet"})
    if parquet_available():
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(parquet.content))
        assert b"geo" in table.schema.metadata
        assert sorted(table.column("id").to_pylist()) == ["east", "far/away", "west"]
    else:
        assert parquet.status_code == 406
        assert "pyarrow" in parquet.text
    assert client.get("/api/districts/quarters", params={"f": "xlsx"}).status_code == 400


def test_access_over_http(city: City, client: TestClient) -> None:
    answer = client.get("/api/districts/quarters/access", params={"min_departures": "4"})
    assert answer.status_code == 200, answer.text
    west = {d["id"]: d for d in answer.json()["districts"]}["west"]
    assert west["within"]["300"] == 0.5 and west["classes"]["B"] == 0.5
    bad = client.get("/api/districts/quarters/access", params={"detour": "9"})
    assert bad.status_code == 400 and "detour" in bad.text


def test_unknown_collections_and_districts(city: City, client: TestClient) -> None:
    assert client.get("/api/districts/nowhere").status_code == 404
    assert client.get("/api/districts/quarters/north").status_code == 404
    assert client.get("/api/districts/quarters/compare", params={"a": "west"}).status_code == 400


def test_a_dataset_the_caller_may_not_read_is_left_out_and_said_so(
    city: City, client: TestClient, anonymous: TestClient
) -> None:
    with city.engine.begin() as connection:
        connection.execute(
            update(datasets).where(datasets.c.id == "chargers").values(access_level="internal")
        )
    public = anonymous.get("/api/districts/quarters/west").json()
    assert "charging" not in public["figures"]
    assert {
        "en": "EV charging points: 1 dataset you may not read was left out",
        "de": "Ladepunkte für E-Fahrzeuge: 1 Datensatz, den Sie nicht lesen dürfen, "
        "wurde nicht berücksichtigt",
    } in public["notes"]
    assert client.get("/api/districts/quarters/west").json()["figures"]["charging"]["count"] == 1
