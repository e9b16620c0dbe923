"""The demo's portfolio: the nine projects of the department's own description, loaded by `urbantwin
demo`, with the funding the text gives (and no more), their areas on the map, and the file as
SOURCES.md lists it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DemoStore
from urbantwin.app import create_app
from urbantwin.demo.portfolio import PROJECTS, demo_projects
from urbantwin.settings import Settings


def test_the_projects_file_is_the_one_sources_md_lists() -> None:
    sources = (PROJECTS.parent.parent / "SOURCES.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(PROJECTS.read_bytes()).hexdigest()
    assert f"| `portfolio/projects.json` | {PROJECTS.stat().st_size} B | `{digest}` |" in sources


def test_only_what_the_text_gives() -> None:
    projects = {project["id"]: project for project in demo_projects()}
    assert projects["sparcs"]["funding"] | {"approximate": []} == {
        "total": 23_700_000,
        "eu": 19_700_000,
        "consortium": 7_100_000,
        "city": 1_200_000,
        "approximate": [],
    }
    assert projects["efficience"]["funding"] == {
        "total": 2_400_000,
        "city": 665_000,
        "approximate": ["total", "city"],
    }
    # CUT names its funding but no amount; UDP none at all.
    assert projects["cut"]["funding"] == {
        "sources": ["BMI-Fördermittel (Modellprojekte Smart Cities)", "Haushaltsmittel"]
    }
    assert projects["udp"]["funding"] == {}
    # No person's name: the functional mailbox is the contact.
    assert {project["contact"] for project in projects.values()} == {None, "digital@leipzig.de"}
    assert all(
        project["area"]["geometry"]["type"] in ("Polygon", "MultiPolygon") for project in projects.values()
    )


@pytest.mark.xdist_group("demo")
def test_the_demo_serves_its_portfolio(demo_store: DemoStore, tmp_path: Path) -> None:
    assert "Loaded the project portfolio: 9 projects" in demo_store.output
    with TestClient(create_app(Settings(database_url=demo_store.copy(tmp_path)))) as client:
        projects = client.get("/api/portfolio/projects").json()["projects"]
        funding = client.get("/api/portfolio/funding").json()
        record = client.get("/catalog/datasets/portfolio", params={"f": "json"})
    assert len(projects) == 9
    assert funding["all"]["city"]["projects_with_figure"] == 3
    assert record.status_code == 200
