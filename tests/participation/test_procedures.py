"""Procedures on the map: contributions pinned to places in the area and the window, moderated,
commented, supported, and after the window out as GeoJSON, CSV and statistics."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from tests.participation.conftest import procedure
from urbantwin.store.participation_schema import procedures

LINE = {"type": "LineString", "coordinates": [[12.31, 51.33], [12.33, 51.33]]}
POINT = {"type": "Point", "coordinates": [12.32, 51.33]}
AREA = {
    "type": "Polygon",
    "coordinates": [[[12.34, 51.33], [12.35, 51.33], [12.35, 51.34], [12.34, 51.34], [12.34, 51.33]]],
}


def contribution(**changes: object) -> dict[str, object]:
    return {
        "category": "cycling",
        "question": 0,
        "text": "A cycle lane is missing here.",
        "geometry": LINE,
        **changes,
    }


def close(engine: Engine, ident: str = "west-streets") -> None:
    with engine.begin() as connection:
        connection.execute(
            update(procedures)
            .where(procedures.c.id == ident)
            .values(end=datetime.now(UTC) - timedelta(hours=1))
        )


def published(anonymous: TestClient, moderator: TestClient, **changes: object) -> int:
    ident = anonymous.post(
        "/api/participation/procedures/west-streets/contributions", json=contribution(**changes)
    )
    assert ident.status_code == 201, ident.text
    number = ident.json()["id"]
    answer = moderator.post(
        f"/api/participation/contributions/{number}/moderation", json={"status": "published"}
    )
    assert answer.status_code == 200, answer.text
    return int(number)


def test_a_contribution_is_public_only_once_published_and_its_contact_never(
    anonymous: TestClient, moderator: TestClient
) -> None:
    assert moderator.post("/api/participation/procedures", json=procedure()).status_code == 201
    sent = anonymous.post(
        "/api/participation/procedures/west-streets/contributions",
        json=contribution(contact="rider@example.org"),
    )
    assert sent.status_code == 201, sent.text
    number = sent.json()["id"]
    url = "/api/participation/procedures/west-streets/contributions"
    assert anonymous.get(url).json()["features"] == []
    (seen,) = moderator.get(url).json()["features"]
    assert seen["properties"]["contact"] == "rider@example.org"
    moderator.post(
        f"/api/participation/contributions/{number}/moderation",
        json={"status": "published", "answer": "The lane is planned for 2027."},
    )
    public = anonymous.get(url)
    assert public.headers["content-type"] == "application/geo+json"
    (feature,) = public.json()["features"]
    assert feature["geometry"] == LINE
    assert feature["properties"]["answer"] == "The lane is planned for 2027."
    assert "contact" not in feature["properties"]
    assert "rider@example.org" not in public.text


def test_points_lines_and_areas_are_taken_inside_the_area_only(
    anonymous: TestClient, moderator: TestClient
) -> None:
    moderator.post("/api/participation/procedures", json=procedure())
    url = "/api/participation/procedures/west-streets/contributions"
    for index, geometry in enumerate((POINT, LINE, AREA)):
        sent = anonymous.post(url, json=contribution(geometry=geometry, text=f"Contribution number {index}."))
        assert sent.status_code == 201, sent.text
    outside = anonymous.post(url, json=contribution(geometry={"type": "Point", "coordinates": [13.0, 52.0]}))
    assert outside.status_code == 400
    assert "outside" in outside.json()["message"]
    bad = anonymous.post(url, json=contribution(category="parking"))
    assert bad.status_code == 400 and "category" in bad.json()["message"]
    assert anonymous.post(url, json=contribution(question=5)).status_code == 400


def test_a_declined_contribution_shows_its_reason_and_a_decline_needs_one(
    anonymous: TestClient, moderator: TestClient
) -> None:
    moderator.post("/api/participation/procedures", json=procedure())
    number = anonymous.post(
        "/api/participation/procedures/west-streets/contributions", json=contribution()
    ).json()["id"]
    url = f"/api/participation/contributions/{number}/moderation"
    assert moderator.post(url, json={"status": "declined"}).status_code == 400
    done = moderator.post(url, json={"status": "declined", "reason": "Outside the city's remit."})
    assert done.json()["reason"] == "Outside the city's remit."
    assert anonymous.post(url, json={"status": "published"}).status_code == 401


def test_no_contribution_before_or_after_the_window(
    anonymous: TestClient, moderator: TestClient, engine: Engine
) -> None:
    later = datetime.now(UTC) + timedelta(days=3)
    upcoming = procedure(id="later", start=later.isoformat(), end=(later + timedelta(days=3)).isoformat())
    moderator.post("/api/participation/procedures", json=upcoming)
    early = anonymous.post("/api/participation/procedures/later/contributions", json=contribution())
    assert early.status_code == 409 and "opens" in early.json()["message"]
    moderator.post("/api/participation/procedures", json=procedure())
    close(engine)
    late = anonymous.post("/api/participation/procedures/west-streets/contributions", json=contribution())
    assert late.status_code == 409 and "closed" in late.json()["message"]


def test_comments_are_moderated_and_each_voter_supports_once(
    anonymous: TestClient, moderator: TestClient
) -> None:
    moderator.post("/api/participation/procedures", json=procedure())
    number = published(anonymous, moderator)
    comment = anonymous.post(f"/api/participation/contributions/{number}/comments", json={"text": "Agreed!"})
    assert comment.status_code == 201
    url = "/api/participation/procedures/west-streets/contributions"
    assert anonymous.get(url).json()["features"][0]["properties"]["comments"] == []
    moderator.post(
        f"/api/participation/contributions/{number}/comments/{comment.json()['id']}/moderation",
        json={"status": "published"},
    )
    assert [c["text"] for c in anonymous.get(url).json()["features"][0]["properties"]["comments"]] == [
        "Agreed!"
    ]
    first = anonymous.post(f"/api/participation/contributions/{number}/supports")
    assert first.status_code == 201
    assert first.json()["supports_label"] == {"de": "1 Unterstützung", "en": "1 supporter"}
    assert anonymous.post(f"/api/participation/contributions/{number}/supports").status_code == 409


def test_results_are_published_after_the_window_as_geojson_csv_and_statistics(
    anonymous: TestClient, moderator: TestClient, engine: Engine
) -> None:
    moderator.post("/api/participation/procedures", json=procedure())
    first = published(anonymous, moderator)
    published(anonymous, moderator, category="greenery", geometry=AREA, text="=Plant trees on this square.")
    anonymous.post(f"/api/participation/contributions/{first}/supports")
    anonymous.post(
        "/api/participation/procedures/west-streets/contributions",
        json=contribution(text="Not yet moderated, never exported."),
    )
    results = "/api/participation/procedures/west-streets/results.geojson"
    assert anonymous.get(results).status_code == 409
    assert moderator.get(results).status_code == 200
    close(engine)
    collection = anonymous.get(results).json()
    assert len(collection["features"]) == 2
    rows = list(csv.DictReader(io.StringIO(anonymous.get(results.replace(".geojson", ".csv")).text)))
    assert [(row["category"], row["supports"]) for row in rows] == [("cycling", "1"), ("greenery", "0")]
    assert rows[0]["wkt"].startswith("LINESTRING")
    assert rows[1]["text"] == "'=Plant trees on this square."
    statistics = anonymous.get("/api/participation/procedures/west-streets/statistics").json()
    assert statistics["contributions"] == 2
    assert statistics["contributions_label"] == {"de": "2 Beiträge", "en": "2 contributions"}
    assert statistics["by_category"] == {"cycling": 1, "greenery": 1}
    assert statistics["by_geometry"] == {"LineString": 1, "Polygon": 1}
    assert statistics["supports"] == 1


def test_a_procedure_is_opened_by_moderators_only_and_checked(
    anonymous: TestClient, moderator: TestClient
) -> None:
    assert anonymous.post("/api/participation/procedures", json=procedure()).status_code == 401
    for change, named in (
        ({"end": "2000-01-01T00:00:00Z"}, "end"),
        ({"area": POINT}, "area"),
        ({"categories": []}, "categories"),
        ({"id": "Not An Id"}, "id"),
    ):
        answer = moderator.post("/api/participation/procedures", json=procedure(**change))
        assert answer.status_code == 400, change
        assert named in answer.json()["message"]
    assert moderator.post("/api/participation/procedures", json=procedure()).status_code == 201
    assert moderator.post("/api/participation/procedures", json=procedure()).status_code == 409
    shown = anonymous.get("/api/participation/procedures/west-streets").json()
    assert shown["phase"] == "open"
    assert shown["synthetic_label"]["de"].startswith("Beispielverfahren")


def test_the_published_contributions_are_a_layer_of_the_twin(
    anonymous: TestClient, moderator: TestClient
) -> None:
    moderator.post("/api/participation/procedures", json=procedure())
    first = published(anonymous, moderator, contact="rider@example.org")
    second = published(anonymous, moderator, geometry=AREA, category="greenery", text="Trees on this square.")
    items = anonymous.get("/ogcapi/collections/participation-west-streets/items")
    assert items.status_code == 200, items.text
    assert sorted(f["properties"]["contribution"] for f in items.json()["features"]) == [first, second]
    assert "rider@example.org" not in items.text
    moderator.post(
        f"/api/participation/contributions/{second}/moderation",
        json={"status": "declined", "reason": "Private ground, not the city's."},
    )
    left = anonymous.get("/ogcapi/collections/participation-west-streets/items").json()["features"]
    assert [f["properties"]["contribution"] for f in left] == [first]
    title = anonymous.get("/ogcapi/collections/participation-west-streets").json()["title"]
    assert title == "Participation: Streets in the west"


def test_a_declined_comment_needs_a_public_reason_shown_in_its_place_without_its_text(
    anonymous: TestClient, moderator: TestClient
) -> None:
    moderator.post("/api/participation/procedures", json=procedure())
    number = published(anonymous, moderator)
    sent = anonymous.post(
        f"/api/participation/contributions/{number}/comments", json={"text": "Buy cheap pills"}
    )
    url = f"/api/participation/contributions/{number}/comments/{sent.json()['id']}/moderation"
    without = moderator.post(url, json={"status": "declined"})
    assert without.status_code == 400 and "reason" in without.json()["message"]
    done = moderator.post(url, json={"status": "declined", "reason": "Advertising is not a comment."})
    assert done.status_code == 200 and done.json()["reason"] == "Advertising is not a comment."
    listing = "/api/participation/procedures/west-streets/contributions"
    (shown,) = anonymous.get(listing).json()["features"][0]["properties"]["comments"]
    assert shown["status"] == "declined" and shown["reason"] == "Advertising is not a comment."
    assert shown["text"] is None and "cheap pills" not in anonymous.get(listing).text
    (seen,) = moderator.get(listing).json()["features"][0]["properties"]["comments"]
    assert seen["text"] == "Buy cheap pills"
    # Published after all: the reason of the decline goes.
    assert moderator.post(url, json={"status": "published"}).json()["reason"] is None
    (shown,) = anonymous.get(listing).json()["features"][0]["properties"]["comments"]
    assert (shown["text"], shown["reason"]) == ("Buy cheap pills", None)


@pytest.mark.parametrize(
    ("target", "body", "named"),
    [
        ("comment", {"status": "published", "reason": "Fine by us."}, "reason"),
        ("comment", {"status": "declined", "reason": "Off topic here.", "answer": "Thanks"}, "answer"),
        ("contribution", {"status": "published", "reason": "Fine by us."}, "reason"),
        ("contribution", {"answer": "Thanks", "reason": "Fine by us."}, "reason"),
        ("contribution", {"status": "declined", "reason": "Off topic here.", "note": "x"}, "note"),
    ],
)
def test_nothing_sent_to_a_moderation_is_dropped_silently(
    anonymous: TestClient, moderator: TestClient, target: str, body: dict[str, str], named: str
) -> None:
    """A field the moderation takes no use for is refused with a 400 naming it, and nothing changes."""
    moderator.post("/api/participation/procedures", json=procedure())
    number = published(anonymous, moderator)
    comment = anonymous.post(f"/api/participation/contributions/{number}/comments", json={"text": "Agreed!"})
    url = f"/api/participation/contributions/{number}/moderation"
    if target == "comment":
        url = f"/api/participation/contributions/{number}/comments/{comment.json()['id']}/moderation"
    answer = moderator.post(url, json=body)
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["message"]
    (feature,) = moderator.get("/api/participation/procedures/west-streets/contributions").json()["features"]
    assert feature["properties"]["status"] == "published" and feature["properties"]["answer"] is None
    assert [c["status"] for c in feature["properties"]["comments"]] == ["received"]


def test_a_declined_comments_place_counts_as_no_comment_in_the_results(
    anonymous: TestClient, moderator: TestClient, engine: Engine
) -> None:
    moderator.post("/api/participation/procedures", json=procedure())
    number = published(anonymous, moderator)
    for text, body in (
        ("Agreed!", {"status": "published"}),
        ("Buy cheap pills", {"status": "declined", "reason": "Advertising is not a comment."}),
    ):
        sent = anonymous.post(f"/api/participation/contributions/{number}/comments", json={"text": text})
        url = f"/api/participation/contributions/{number}/comments/{sent.json()['id']}/moderation"
        assert moderator.post(url, json=body).status_code == 200
    close(engine)
    base = "/api/participation/procedures/west-streets"
    assert anonymous.get(f"{base}/statistics").json()["comments"] == 1
    (row,) = csv.DictReader(io.StringIO(anonymous.get(f"{base}/results.csv").text))
    assert row["comments"] == "1"
