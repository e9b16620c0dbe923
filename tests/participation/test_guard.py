"""The abuse limits: the submission budget per address, the honeypot, the duplicate fingerprint
and the voter's hash."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from urbantwin.app import create_app
from urbantwin.errors import BadRequest
from urbantwin.participation.guard import SubmissionGuard, TooManyRequests, fingerprint
from urbantwin.settings import Settings


def test_a_client_beyond_its_budget_is_refused_others_are_not() -> None:
    guard = SubmissionGuard(Settings(participation_submissions_per_hour=1, participation_submission_burst=2))
    guard.admit("192.0.2.1", {})
    guard.admit("192.0.2.1", {})
    with pytest.raises(TooManyRequests, match="minutes"):
        guard.admit("192.0.2.1", {})
    guard.admit("192.0.2.2", {})


def test_the_honeypot_filled_is_refused() -> None:
    with pytest.raises(BadRequest, match="website"):
        SubmissionGuard(Settings()).admit("192.0.2.1", {"website": "x"})


def test_submissions_over_the_budget_answer_429(settings: Settings, engine) -> None:  # noqa: ANN001
    tight = dataclasses.replace(
        settings, participation_submissions_per_hour=1, participation_submission_burst=1
    )
    with TestClient(create_app(tight, engine)) as citizen:
        idea = {"title": "Benches", "text": "More benches along the river, please.", "category": "other"}
        assert citizen.post("/api/participation/ideas", json=idea).status_code == 201
        again = citizen.post("/api/participation/ideas", json={**idea, "title": "Other benches"})
        assert again.status_code == 429


@given(st.text(min_size=1), st.sampled_from(["", " ", "!", "  ?"]))
def test_case_spacing_and_punctuation_do_not_change_the_fingerprint(text: str, noise: str) -> None:
    assert fingerprint(text.upper() + noise, "x") == fingerprint(text.upper(), "x")


def test_a_voter_is_a_keyed_hash_per_procedure() -> None:
    one = SubmissionGuard(Settings(participation_vote_secret="s"))
    assert one.voter("192.0.2.1", "a") == one.voter("192.0.2.1", "a")
    assert one.voter("192.0.2.1", "a") != one.voter("192.0.2.1", "b")
    assert "192.0.2.1" not in one.voter("192.0.2.1", "a")
    assert SubmissionGuard(Settings(participation_vote_secret="t")).voter("192.0.2.1", "a") != one.voter(
        "192.0.2.1", "a"
    )
