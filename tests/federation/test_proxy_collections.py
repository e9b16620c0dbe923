"""A partner's collection list read through: what the viewer offers as the partner's layers.

The partner is the small HTTP server of `test_proxy.py` (its fixture), here answering an OGC API
`/collections` document."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from tests.federation.test_proxy import Partner, partner, register

__all__ = ["partner"]  # the fixture, used by name

COLLECTIONS = {
    "collections": [
        {"id": "trees", "title": "Street trees", "description": "every street tree", "keywords": ["trees"]},
        {"id": "stations"},
        {"id": "../etc", "title": "not a name the items route asks for"},
        "not a collection",
    ],
    "links": [],
}
URL = "/api/remotes/hamburg-geo/collections"


def test_the_partners_collections_are_listed_attributed_and_kept_as_long_as_it_allows(
    client: TestClient, anonymous: TestClient, partner: Partner
) -> None:
    partner.body = orjson.dumps(COLLECTIONS)
    partner.headers = {"Cache-Control": "max-age=120"}
    register(client, partner.url, title="Hamburg's city layers")
    answer = anonymous.get(URL)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "remote": "hamburg-geo",
        "title": "Hamburg's city layers",
        "collections": [
            {
                "id": "trees",
                "title": "Street trees",
                "description": "every street tree",
                "keywords": ["trees"],
            },
            {"id": "stations", "title": "stations", "description": "", "keywords": []},
        ],
        "attribution": "Freie und Hansestadt Hamburg",
        "licence": "dl-de/by-2-0",
    }
    assert anonymous.get(URL).headers["x-cache"] == "hit"
    assert partner.seen == [("/ogcapi/collections", None)]


def test_an_answer_without_collections_is_a_502_naming_it(client: TestClient, partner: Partner) -> None:
    partner.body = orjson.dumps({"type": "FeatureCollection", "features": []})
    register(client, partner.url)
    answer = client.get(URL)
    assert answer.status_code == 502
    assert "no list of collections" in answer.json()["message"]


def test_only_an_ogc_api_partner_has_layers_and_a_hidden_one_has_none(
    client: TestClient, anonymous: TestClient, partner: Partner
) -> None:
    register(client, partner.url, access_level="internal")
    assert anonymous.get(URL).status_code == 404
    body = {"name": "hamburg-sta", "url": partner.url, "kind": "sensorthings"}
    body |= {"attribution": "Freie und Hansestadt Hamburg", "licence": "dl-de/by-2-0"}
    assert client.post("/api/remotes", json=body).status_code == 201
    assert client.get("/api/remotes/hamburg-sta/collections").status_code == 400
    assert partner.seen == []
