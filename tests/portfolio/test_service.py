"""The portfolio over HTTP: projects in, listed, one by one, the funding overview, and who may
change them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from urbantwin.demo.portfolio import demo_projects


def project(ident: str, **changes: Any) -> dict[str, Any]:
    return {"id": ident, "title": {"en": ident.title()}, "status": "running", **changes}


def test_a_project_put_is_listed_and_shown_as_given(client: TestClient, anonymous: TestClient) -> None:
    given = project(
        "metering",
        programme="Programme A",
        funder="Funder A",
        partners=[{"name": "University", "role": "research partner"}],
        funding={"total": 1000, "city": 100, "approximate": ["city"]},
        contact="digital@city.example",
    )
    stored = client.put("/api/portfolio/projects/metering", json=given)
    assert stored.status_code == 200, stored.text
    listed = anonymous.get("/api/portfolio/projects").json()["projects"]
    assert [p["id"] for p in listed] == ["metering"]
    shown = anonymous.get("/api/portfolio/projects/metering").json()
    assert shown["partners"] == [{"name": "University", "role": "research partner"}]
    assert shown["funding"]["total"] == 1000
    assert shown["funding"]["eu"] is None  # not given: not guessed
    assert anonymous.get("/api/portfolio/projects/other").status_code == 404


def test_the_funding_overview_sums_what_is_given_and_counts_what_is_not(client: TestClient) -> None:
    client.put("/api/portfolio/projects/a", json=project("a", funder="EU", programme="P", funding={"eu": 10}))
    client.put("/api/portfolio/projects/b", json=project("b", funder="EU", programme="P", funding={"eu": 5}))
    client.put("/api/portfolio/projects/c", json=project("c", funder="EU", programme="P"))
    overview = client.get("/api/portfolio/funding").json()
    (programme,) = overview["programmes"]
    assert programme["projects"] == ["a", "b", "c"]
    assert programme["eu"] == {"sum": 15, "projects_with_figure": 2, "approximate": False}
    assert programme["city"] == {"sum": None, "projects_with_figure": 0, "approximate": False}


def test_changing_the_portfolio_needs_its_writers(anonymous: TestClient, client: TestClient) -> None:
    assert anonymous.put("/api/portfolio/projects/a", json=project("a")).status_code == 401
    client.post("/api/admin/users", json={"name": "otto", "role": "contributor"})
    token = client.post("/api/admin/users/otto/tokens", json={"scopes": ["read", "write"]}).json()["token"]
    refused = anonymous.put(
        "/api/portfolio/projects/a", json=project("a"), headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 403


def test_a_bad_project_is_refused_naming_the_field(client: TestClient) -> None:
    for bad, named in (
        (project("a", status="dreaming"), "status"),
        (project("a", funding={"eu": -1}), "funding.eu"),
        (project("a", contact="nobody"), "contact"),
        (project("a", period={"start": "soon"}), "period.start"),
        (project("b"), "id"),
    ):
        answer = client.put("/api/portfolio/projects/a", json=bad)
        assert answer.status_code == 400, bad
        assert named in answer.json()["message"]


def test_an_internal_portfolio_is_hidden_from_the_public(client: TestClient, anonymous: TestClient) -> None:
    client.put("/api/portfolio/projects/a", json=project("a"))
    assert client.patch("/api/datasets/portfolio", json={"access_level": "internal"}).status_code == 204
    assert anonymous.get("/api/portfolio/projects").status_code == 404
    assert client.get("/api/portfolio/projects").status_code == 200


def test_the_demo_portfolio_loads_and_its_funding_adds_up(client: TestClient) -> None:
    for document in demo_projects():
        assert client.put(f"/api/portfolio/projects/{document['id']}", json=document).status_code == 200
    shown = {p["id"]: p for p in client.get("/api/portfolio/projects").json()["projects"]}
    assert set(shown) == {
        "udp",
        "cut",
        "sparcs",
        "triangulum",
        "efficience",
        "public-wlan",
        "digital-infrastructure",
        "digitalcampus",
        "lxdx",
    }
    assert shown["sparcs"]["funding"]["total"] == 23_700_000
    assert shown["sparcs"]["area"]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    horizon = next(
        p
        for p in client.get("/api/portfolio/funding").json()["programmes"]
        if p["programme"] == "Horizon 2020 Smart Cities and Communities"
    )
    assert horizon["city"] == {"sum": 1_700_000, "projects_with_figure": 2, "approximate": True}
