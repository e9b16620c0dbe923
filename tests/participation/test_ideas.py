"""Ideas: a citizen submits, a moderator takes them through the workflow, the public sees the
accepted ones with the department's answers — and never a contact address."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from urbantwin.store.access_schema import audit_log

IDEA = {
    "title": "Shade at the tram stop",
    "text": "The stop has no shade in summer; trees or a roof would help older people.",
    "category": "mobility",
    "place": {"type": "Point", "coordinates": [12.3731, 51.3397]},
    "contact": "Citizen@Example.org",
}


def test_an_idea_goes_from_received_to_the_public_listing_with_its_answer(
    anonymous: TestClient, moderator: TestClient
) -> None:
    sent = anonymous.post("/api/participation/ideas", json=IDEA)
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "received"
    assert sent.json()["status_label"] == {"de": "Eingegangen", "en": "Received"}
    ident = sent.json()["id"]
    # Received: the moderators' alone.
    assert anonymous.get("/api/participation/ideas").json()["ideas"] == []
    assert anonymous.get(f"/api/participation/ideas/{ident}").status_code == 404
    queue = moderator.get("/api/participation/ideas", params={"status": "received"}).json()
    assert [idea["id"] for idea in queue["ideas"]] == [ident]
    assert queue["ideas"][0]["contact"] == "citizen@example.org"
    taken = moderator.post(
        f"/api/participation/ideas/{ident}/moderation",
        json={"status": "in_review", "answer": "Thank you, we ask the transport company."},
    )
    assert taken.status_code == 200, taken.text
    public = anonymous.get("/api/participation/ideas").json()["ideas"]
    assert [(idea["id"], idea["status"], idea["answer"]) for idea in public] == [
        (ident, "in_review", "Thank you, we ask the transport company.")
    ]
    assert "contact" not in public[0]
    assert "citizen@example.org" not in anonymous.get(f"/api/participation/ideas/{ident}").text


def test_a_declined_idea_shows_its_public_reason_and_a_decline_needs_one(
    anonymous: TestClient, moderator: TestClient
) -> None:
    ident = anonymous.post("/api/participation/ideas", json=IDEA).json()["id"]
    without = moderator.post(f"/api/participation/ideas/{ident}/moderation", json={"status": "declined"})
    assert without.status_code == 400
    assert "reason" in without.json()["message"]
    moderator.post(
        f"/api/participation/ideas/{ident}/moderation",
        json={"status": "declined", "reason": "The stop is rebuilt with a roof in 2027."},
    )
    shown = anonymous.get(f"/api/participation/ideas/{ident}").json()
    assert (shown["status"], shown["reason"]) == ("declined", "The stop is rebuilt with a roof in 2027.")
    assert shown["status_label"]["de"] == "Abgelehnt"


def test_a_reopened_idea_loses_the_reason_of_its_decline_and_declining_again_takes_a_new_one(
    anonymous: TestClient, moderator: TestClient
) -> None:
    ident = anonymous.post("/api/participation/ideas", json=IDEA).json()["id"]
    url = f"/api/participation/ideas/{ident}/moderation"
    moderator.post(url, json={"status": "declined", "reason": "The stop is rebuilt in 2027."})
    again = moderator.post(url, json={"status": "declined", "reason": "The stop is rebuilt in 2028."})
    assert again.json()["reason"] == "The stop is rebuilt in 2028."
    reopened = moderator.post(url, json={"status": "in_review"}).json()
    assert (reopened["status"], reopened["reason"]) == ("in_review", None)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"status": "in_review", "reason": "Looks promising."}, "reason"),
        ({"answer": "Thank you.", "reason": "Looks promising."}, "reason"),
        ({"status": "declined", "reason": "Not ours to decide.", "project": "shade"}, "project"),
        ({"status": "in_review", "project": "shade"}, "project"),
        ({"status": "in_review", "note": "x"}, "note"),
    ],
)
def test_nothing_sent_to_an_ideas_moderation_is_dropped_silently(
    anonymous: TestClient, moderator: TestClient, body: dict[str, str], named: str
) -> None:
    """A reason that goes with no decline, a project with no project: a 400 naming the field, and
    the idea stays as it was."""
    ident = anonymous.post("/api/participation/ideas", json=IDEA).json()["id"]
    answer = moderator.post(f"/api/participation/ideas/{ident}/moderation", json=body)
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["message"]
    idea = moderator.get(f"/api/participation/ideas/{ident}").json()
    assert (idea["status"], idea["reason"], idea["answer"], idea["project"]) == ("received", None, None, None)


def test_an_idea_that_became_a_project_names_it_and_the_project_must_exist(
    client: TestClient, anonymous: TestClient, moderator: TestClient
) -> None:
    project = {"id": "shade", "title": {"en": "Shade at stops"}, "status": "planned"}
    assert client.put("/api/portfolio/projects/shade", json=project).status_code == 200
    ident = anonymous.post("/api/participation/ideas", json=IDEA).json()["id"]
    unknown = moderator.post(
        f"/api/participation/ideas/{ident}/moderation", json={"status": "project", "project": "nothing"}
    )
    assert unknown.status_code == 400
    assert "nothing" in unknown.json()["message"]
    done = moderator.post(
        f"/api/participation/ideas/{ident}/moderation", json={"status": "project", "project": "shade"}
    )
    assert done.json()["project"] == "shade"
    # A project is where an idea ends.
    again = moderator.post(f"/api/participation/ideas/{ident}/moderation", json={"status": "in_review"})
    assert again.status_code == 409


def test_only_moderators_moderate(anonymous: TestClient, client: TestClient, moderator: TestClient) -> None:
    ident = anonymous.post("/api/participation/ideas", json=IDEA).json()["id"]
    body = {"status": "in_review"}
    assert anonymous.post(f"/api/participation/ideas/{ident}/moderation", json=body).status_code == 401
    client.post("/api/admin/users", json={"name": "otto", "role": "contributor"})
    token = client.post("/api/admin/users/otto/tokens", json={"scopes": ["read", "write"]}).json()["token"]
    refused = anonymous.post(
        f"/api/participation/ideas/{ident}/moderation",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403
    assert moderator.post(f"/api/participation/ideas/{ident}/moderation", json=body).status_code == 200


def test_moderation_is_in_the_audit_log_without_the_contact(
    anonymous: TestClient, moderator: TestClient, engine: Engine
) -> None:
    ident = anonymous.post("/api/participation/ideas", json=IDEA).json()["id"]
    moderator.post(f"/api/participation/ideas/{ident}/moderation", json={"status": "in_review"})
    with engine.connect() as connection:
        rows = connection.execute(select(audit_log).where(audit_log.c.api == "participation")).all()
    assert [(row.principal, row.action, row.target) for row in rows] == [
        ("mona", "moderate", f"idea {ident}: in_review")
    ]
    assert not any("example.org" in str(tuple(row)) for row in rows)


def test_the_contact_is_in_no_log_line(
    anonymous: TestClient, moderator: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        ident = anonymous.post("/api/participation/ideas", json=IDEA).json()["id"]
        moderator.get(f"/api/participation/ideas/{ident}")
    assert "example.org" not in caplog.text.lower()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"title": ""}, "title"),
        ({"text": "short"}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"category": "weather"}, "category"),
        ({"place": {"type": "Point", "coordinates": [500, 10]}}, "place"),
        ({"place": {"type": "LineString", "coordinates": [[12, 51], [12.1, 51]]}}, "place"),
        ({"contact": "not an address"}, "contact"),
        ({"colour": "red"}, "colour"),
        ({"website": "http://spam.example"}, "website"),
    ],
)
def test_a_bad_idea_is_refused_naming_the_problem(anonymous: TestClient, change: dict, named: str) -> None:
    answer = anonymous.post("/api/participation/ideas", json={**IDEA, **change})
    assert answer.status_code == 400
    assert named in answer.json()["message"]


def test_the_same_idea_twice_is_a_duplicate(anonymous: TestClient) -> None:
    first = anonymous.post("/api/participation/ideas", json=IDEA).json()["id"]
    shouted = {**IDEA, "title": IDEA["title"].upper() + "!!", "contact": None}
    again = anonymous.post("/api/participation/ideas", json=shouted)
    assert again.status_code == 409
    assert f"idea {first}" in again.json()["message"]


def test_a_large_body_is_refused_before_it_is_read(anonymous: TestClient) -> None:
    answer = anonymous.post(
        "/api/participation/ideas",
        content=b'{"text": "' + b"x" * 70_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413


def test_spam_is_hidden_from_the_public_not_declined_into_it(
    anonymous: TestClient, moderator: TestClient
) -> None:
    spam = {**IDEA, "title": "Cheap watches online", "text": "Buy cheap watches at a shop of ours now!!"}
    ident = anonymous.post("/api/participation/ideas", json=spam).json()["id"]
    url = f"/api/participation/ideas/{ident}/moderation"
    with_reason = moderator.post(url, json={"status": "hidden", "reason": "Advertising."})
    assert with_reason.status_code == 400 and "reason" in with_reason.json()["message"]
    hidden = moderator.post(url, json={"status": "hidden"})
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["status_label"]["en"] == "Hidden (spam or abuse)"
    # Nobody but the moderators sees it, whichever way they ask.
    assert anonymous.get(f"/api/participation/ideas/{ident}").status_code == 404
    for query in ({}, {"status": "hidden"}):
        listed = anonymous.get("/api/participation/ideas", params=query).json()
        assert ident not in [idea["id"] for idea in listed["ideas"]]
    assert moderator.get(f"/api/participation/ideas/{ident}").json()["status"] == "hidden"
    # Hidden by mistake: taken in review, it is public again.
    assert moderator.post(url, json={"status": "in_review"}).json()["status"] == "in_review"
    assert anonymous.get(f"/api/participation/ideas/{ident}").status_code == 200
