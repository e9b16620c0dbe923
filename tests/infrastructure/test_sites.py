"""The site registry: a hand-made operator's list (synthetic, tests/infrastructure/data/sites_netco.csv
with its mapping) imported as an internal registry, read through `/api/infrastructure/sites` by
whom may and may not see it, filtered; bad lists refused naming row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from urbantwin.infrastructure.sites import import_sites, parse_slots, read_site_mapping
from urbantwin.store.access_schema import datasets

DATA = Path(__file__).parent / "data"
CSV = DATA / "sites_netco.csv"
MAPPING = DATA / "sites_netco.toml"


def test_an_operators_list_becomes_an_internal_registry(
    client: TestClient, anonymous: TestClient, engine: Engine
) -> None:
    report = import_sites(engine, CSV, read_site_mapping(MAPPING))
    assert (report.inserted, report.updated) == (3, 0)
    again = import_sites(engine, CSV, read_site_mapping(MAPPING))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)

    # internal: the anonymous caller sees no site, no registry, no site by its id
    assert anonymous.get("/api/infrastructure/sites").json()["features"] == []
    assert anonymous.get("/api/infrastructure/registries").json()["registries"] == []
    assert anonymous.get("/api/infrastructure/sites/sites-netco/N-001").status_code == 404
    with engine.connect() as connection:
        level = connection.execute(select(datasets.c.access_level).where(datasets.c.id == "sites-netco"))
        assert level.scalar() == "internal"

    body = client.get("/api/infrastructure/sites").json()
    assert body["numberMatched"] == 3
    sites = {f["properties"]["site_id"]: f for f in body["features"]}
    roof = sites["N-001"]["properties"]
    assert roof["operator"] == "NetCo" and roof["technology"] == "5g_small_cell"
    assert roof["carrier"] == "roof" and roof["height_m"] == 32.5 and roof["capacity"] == "3 Sektoren"
    assert roof["power"] is True and roof["fibre"] is True and roof["Bezirk"] == "Mitte"
    assert roof["slots"] == [{"id": "A", "state": "occupied"}, {"id": "B", "state": "free"}]
    assert roof["free_slots"] == 1
    assert roof["labels"]["carrier"] == {"de": "Dach", "en": "Roof"}
    assert sites["N-001"]["geometry"] == {"type": "Point", "coordinates": [10.001, 50.001]}
    assert sites["N-002"]["properties"]["carrier"] == "lamp_post"  # the mapping's own word
    assert sites["N-003"]["properties"]["technology"] == "lorawan_gateway"
    assert sites["N-003"]["properties"]["carrier"] == "stop_shelter"

    def ids(**params: object) -> list[str]:
        answer = client.get("/api/infrastructure/sites", params=params)
        assert answer.status_code == 200, answer.text
        return [f["properties"]["site_id"] for f in answer.json()["features"]]

    assert ids(technology="5g_small_cell") == ["N-001", "N-002"]
    assert ids(free_slot=True) == ["N-001"]
    assert ids(carrier=["roof", "stop_shelter"]) == ["N-001", "N-003"]
    assert ids(bbox="10.0015,50.0,10.01,50.01") == ["N-002", "N-003"]
    assert ids(limit=1, offset=1) == ["N-002"]
    one = client.get("/api/infrastructure/sites/sites-netco/N-002").json()
    assert one["properties"]["name"] == "Mast Hauptstraße"
    assert client.get("/api/infrastructure/registries").json()["registries"][0]["sites"] == 3

    # opened, the anonymous caller sees it all
    assert client.patch("/api/datasets/sites-netco", json={"access_level": "open"}).status_code == 204
    assert len(anonymous.get("/api/infrastructure/sites").json()["features"]) == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"technology": "6g"}, "technology '6g' is not known"),
        ({"carrier": "tree"}, "carrier 'tree' is not known"),
        ({"bbox": "1,2,3"}, "bbox '1,2,3' must be four numbers"),
        ({"bbox": "10,50,9,51"}, "expected minlon <= maxlon"),
        ({"limit": 0}, "limit must be between 1 and 10000"),
    ],
)
def test_bad_filters_are_named(anonymous: TestClient, params: dict[str, object], message: str) -> None:
    answer = anonymous.get("/api/infrastructure/sites", params=params)
    assert answer.status_code == 400
    assert message in answer.json()["message"]


def test_a_bad_list_is_refused_naming_row_and_column(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV.read_text(encoding="utf-8").replace("Haltestelle", "Baum"), encoding="utf-8")
    with pytest.raises(ValueError, match="bad.csv: row 3, column 'Träger': 'Baum' is no known carrier"):
        import_sites(engine, bad, read_site_mapping(MAPPING))
    bad.write_text(CSV.read_text(encoding="utf-8").replace(";ja;nein;A:belegt", ";vielleicht;nein;A:belegt"))
    with pytest.raises(ValueError, match="row 2, column 'Strom': expected yes or no"):
        import_sites(engine, bad, read_site_mapping(MAPPING))


def test_slots_and_mapping_errors() -> None:
    assert parse_slots("1:frei; 2:reserviert", "x") == [
        {"id": "1", "state": "free"},
        {"id": "2", "state": "reserved"},
    ]
    with pytest.raises(ValueError, match="slot 'A' has the state 'kaputt'"):
        parse_slots("A:kaputt", "x")
    with pytest.raises(ValueError, match="slot 'B' is not <id>:<state>"):
        parse_slots("B", "x")


def test_a_mapping_names_its_mistakes(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[registry]\ncollection = "Sites"\n[site]\nid = "a"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[registry.collection\] expected an id"):
        read_site_mapping(mapping)
    mapping.write_text(
        '[registry]\ncollection = "s"\noperator = "X"\naccess_level = "secret"\n[site]\nid = "a"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"\[registry.access_level\] one of open, registered"):
        read_site_mapping(mapping)
    mapping.write_text('[registry]\ncollection = "s"\n[site]\nid = "a"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="name the operator"):
        read_site_mapping(mapping)
