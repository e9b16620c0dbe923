"""Harvesting a partner's DCAT catalogue, and the federated search of the local catalogue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN
from tests.federation.conftest import Local
from urbantwin.access.gate import Caller
from urbantwin.app import create_app


def partner_dataset(client: TestClient, ident: str, title: str, **more: object) -> None:
    body = {"id": ident, "title": title, "description": f"{title}, as the partner publishes it", **more}
    answer = client.post("/api/admin/datasets", json=body)
    assert answer.status_code == 201, answer.text


def register(local: Local, url: str, name: str = "hamburg-data") -> None:
    local.federation.registry.add(
        Caller.system(),
        name,
        url,
        "dcat",
        title="Hamburg",
        attribution="Freie und Hansestadt Hamburg",
        licence="dl-de/by-2-0",
    )


@pytest.fixture
def local_client(local: Local) -> Iterator[TestClient]:
    with TestClient(create_app(local.settings, local.engine), base_url="http://local") as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield test_client


def test_a_harvest_pages_through_the_partners_catalogue_and_then_changes_only_what_changed(
    client: TestClient, live_server: str, local: Local
) -> None:
    for n in range(5):
        partner_dataset(client, f"trees-{n}", f"Street trees {n}", keywords=["trees"])
    # Pages of two: the partner's catalogue names the next with hydra:nextPage.
    register(local, f"{live_server}/catalog?limit=2")
    first = local.federation.harvest(Caller.system(), "hamburg-data")
    assert first.errors == []
    assert first.pages >= 3
    assert first.added >= 5

    again = local.federation.harvest(Caller.system(), "hamburg-data")
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert again.unchanged == first.added

    # One dataset is withdrawn from the public (the harvester reads as anyone), one is changed.
    assert client.patch("/api/datasets/trees-4", json={"access_level": "internal"}).status_code < 300
    assert client.patch("/api/datasets/trees-0", json={"title": "Street trees, updated"}).status_code < 300
    third = local.federation.harvest(Caller.system(), "hamburg-data")
    assert third.removed == 1
    assert third.updated == 1


def test_the_local_catalogue_searches_harvested_records_with_the_city_as_a_facet(
    client: TestClient, live_server: str, local: Local, local_client: TestClient
) -> None:
    partner_dataset(client, "trees-hh", "Street trees of the partner", keywords=["trees"])
    answer = local_client.post(
        "/api/admin/datasets", json={"id": "trees-here", "title": "Street trees here", "description": "ours"}
    )
    assert answer.status_code == 201, answer.text
    register(local, f"{live_server}/catalog")
    assert local.federation.harvest(Caller.system(), "hamburg-data").errors == []

    found = local_client.get("/catalog", params={"q": "street trees", "f": "json"}).json()
    assert {d["title"] for d in found["datasets"]} == {"Street trees of the partner", "Street trees here"}
    partner = next(d for d in found["datasets"] if d["source"] == "hamburg-data")
    assert partner["uri"] == f"{live_server}/catalog/datasets/trees-hh"
    sources = {v["value"]: (v["label"], v["count"]) for v in found["facets"]["source"]}
    assert sources["hamburg-data"] == ("Hamburg", 1)
    assert sources["local"][1] == 1

    only = local_client.get("/catalog", params={"q": "trees", "source": "hamburg-data", "f": "json"}).json()
    assert [d["title"] for d in only["datasets"]] == ["Street trees of the partner"]
    turtle = local_client.get("/catalog", params={"q": "trees", "f": "ttl"}).text
    assert f"<{live_server}/catalog/datasets/trees-hh>" in turtle
    html = local_client.get("/catalog", params={"q": "trees"}, headers={"Accept": "text/html"}).text
    assert "Hamburg" in html


def test_a_partner_that_answers_no_rdf_is_recorded_as_failing(live_server: str, local: Local) -> None:
    register(local, f"{live_server}/api/remotes")
    report = local.federation.harvest(Caller.system(), "hamburg-data")
    assert report.errors and "not a DCAT catalogue" in report.errors[0]
    assert local.federation.registry.get(Caller.system(), "hamburg-data").health == "failing"
