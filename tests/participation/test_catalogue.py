"""Participation, the portfolio and the Digitalcampus are catalogue datasets from the start: open,
described, and each with the rules that decide who reads and who moderates or changes it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("dataset", ["participation", "portfolio", "campus"])
def test_the_module_is_a_catalogue_dataset(anonymous: TestClient, dataset: str) -> None:
    record = anonymous.get(f"/catalog/datasets/{dataset}", params={"f": "json"})
    assert record.status_code == 200, record.text
    assert record.json()["access_level"] == "open"


def test_closing_participation_hides_it_from_the_public(client: TestClient, anonymous: TestClient) -> None:
    assert client.patch("/api/datasets/participation", json={"access_level": "internal"}).status_code == 204
    assert anonymous.get("/api/participation/ideas").status_code == 404
    assert anonymous.get("/api/participation/procedures").status_code == 404
    idea = {"title": "Benches", "text": "More benches along the river, please.", "category": "other"}
    assert anonymous.post("/api/participation/ideas", json=idea).status_code == 404
