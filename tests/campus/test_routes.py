"""The web app's page of one Digitalcampus event at `/participate/campus/events/<id>`: the built
page with the event's head, 404 with the "not found" head for an unknown event or a draft, and the
message page while the web app is not built. (The page in a browser: web/tests/campus-event.test.mjs.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.campus.test_service import event

PAGE = (
    '<!doctype html><html lang="en"><head><meta name="description" content="An event" />'
    "<title>Digitalcampus</title></head><body><main id=main></main></body></html>"
)


@pytest.fixture
def built(viewer_dir: Path) -> Iterator[Path]:
    """The stand-in build of the tests' apps with an event page, for this test only."""
    page = viewer_dir / "event.html"
    page.write_text(PAGE, encoding="utf-8")
    yield page
    page.unlink()


def test_an_events_page_carries_its_head(client: TestClient, anonymous: TestClient, built: Path) -> None:
    assert client.put("/api/campus/events/a", json=event("a")).status_code == 200
    answer = anonymous.get("/participate/campus/events/a", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"
    assert "<title>Werkstatt a · Digitalcampus</title>" in answer.text
    assert '<link rel="canonical" href="http://testserver/participate/campus/events/a">' in answer.text
    assert '"@type":"Event"' in answer.text
    english = anonymous.get("/participate/campus/events/a", params={"lang": "en"})
    assert "<title>Workshop a · Digitalcampus</title>" in english.text


def test_an_unknown_event_and_a_draft_get_the_not_found_page(
    client: TestClient, anonymous: TestClient, built: Path
) -> None:
    assert client.put("/api/campus/events/draft", json=event("draft", published=False)).status_code == 200
    for ident in ("nothing", "draft"):
        answer = anonymous.get(f"/participate/campus/events/{ident}", params={"lang": "en"})
        assert answer.status_code == 404
        assert "<title>Event not found · Digitalcampus</title>" in answer.text
        assert "Werkstatt" not in answer.text and "Workshop" not in answer.text


def test_without_the_built_page_it_says_how_to_build_it(anonymous: TestClient) -> None:
    answer = anonymous.get("/participate/campus/events/a")
    assert answer.status_code == 503 and "not been built" in answer.text
