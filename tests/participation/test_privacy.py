"""A person's data on request: export and deletion by contact address, administrators only, and
the CLI commands that do the same."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.participation.conftest import procedure
from urbantwin.cli import app as cli
from urbantwin.settings import Settings

IDEA = {"title": "More benches", "text": "Benches along the river, please.", "category": "other"}


def test_an_administrator_exports_and_deletes_a_persons_data(
    client: TestClient, anonymous: TestClient, moderator: TestClient
) -> None:
    moderator.post("/api/participation/procedures", json=procedure())
    anonymous.post("/api/participation/ideas", json={**IDEA, "contact": "Ann@example.org"})
    anonymous.post(
        "/api/participation/ideas", json={**IDEA, "title": "Another", "text": "Something else here."}
    )
    sent = anonymous.post(
        "/api/participation/procedures/west-streets/contributions",
        json={
            "category": "walking",
            "text": "A crossing is missing.",
            "contact": "ann@example.org",
            "geometry": {"type": "Point", "coordinates": [12.32, 51.33]},
        },
    )
    moderator.post(
        f"/api/participation/contributions/{sent.json()['id']}/moderation",
        json={"status": "declined", "reason": "The crossing is built this year."},
    )
    exported = client.post("/api/participation/personal-data/export", json={"contact": "ann@example.org"})
    assert exported.status_code == 200
    assert [idea["title"] for idea in exported.json()["ideas"]] == ["More benches"]
    # The author learns why a contribution was declined (the public never sees it).
    (contribution,) = exported.json()["contributions"]
    assert (contribution["status"], contribution["reason"]) == (
        "declined",
        "The crossing is built this year.",
    )
    deleted = client.post("/api/participation/personal-data/delete", json={"contact": "ann@example.org"})
    assert deleted.json() == {"ideas": 1, "contributions": 1}
    remaining = moderator.get("/api/participation/ideas").json()["ideas"]
    assert [idea["title"] for idea in remaining] == ["Another"]


def test_only_administrators_see_a_persons_data(anonymous: TestClient, moderator: TestClient) -> None:
    body = {"contact": "ann@example.org"}
    assert anonymous.post("/api/participation/personal-data/export", json=body).status_code == 401
    assert moderator.post("/api/participation/personal-data/export", json=body).status_code == 403
    assert moderator.post("/api/participation/personal-data/delete", json=body).status_code == 403


def test_the_cli_exports_and_deletes_by_address(anonymous: TestClient, settings: Settings) -> None:
    url = settings.database_url
    anonymous.post("/api/participation/ideas", json={**IDEA, "contact": "bob@example.org"})
    runner = CliRunner()
    exported = runner.invoke(
        cli, ["participation", "personal-data", "export", "bob@example.org", "--database-url", url]
    )
    assert exported.exit_code == 0, exported.output
    assert '"title": "More benches"' in exported.output
    deleted = runner.invoke(
        cli, ["participation", "personal-data", "delete", "bob@example.org", "--database-url", url]
    )
    assert deleted.output.strip() == "Deleted 1 ideas and 0 contributions."
