"""The participation tests' people: a moderator (a contributor in the group the participation
dataset names among its writers) and a citizen (anonymous), and a procedure open now."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from urbantwin.settings import Settings

#: An area in the west of a city (WGS 84).
AREA = {
    "type": "Polygon",
    "coordinates": [[[12.30, 51.32], [12.36, 51.32], [12.36, 51.35], [12.30, 51.35], [12.30, 51.32]]],
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A budget the tests do not exhaust unless they mean to.
    return dataclasses.replace(
        settings, participation_submissions_per_hour=3600, participation_submission_burst=50
    )


@pytest.fixture
def moderator(client: TestClient, anonymous: TestClient) -> Iterator[TestClient]:
    """A client of a contributor who moderates: member of the group among the dataset's writers."""
    client.post("/api/admin/groups", json={"id": "moderation", "title": "Moderation"})
    client.post("/api/admin/users", json={"name": "mona", "role": "contributor"})
    client.put("/api/admin/groups/moderation/members/mona")
    answer = client.patch("/api/datasets/participation", json={"writers": ["group:moderation"]})
    assert answer.status_code == 204, answer.text
    token = client.post("/api/admin/users/mona/tokens", json={"scopes": ["read", "write"]}).json()["token"]
    with TestClient(client.app) as mona:
        mona.headers["Authorization"] = f"Bearer {token}"
        yield mona


def procedure(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": "west-streets",
        "title": "Streets in the west",
        "description": "Where should the streets change?",
        "start": (now - timedelta(days=1)).isoformat(),
        "end": (now + timedelta(days=30)).isoformat(),
        "area": AREA,
        "questions": ["What should change here?", "What works well?"],
        "categories": ["cycling", "walking", "greenery"],
        "synthetic": True,
        **changes,
    }
