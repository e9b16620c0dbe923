"""The app's mapping of errors to answers: the database's own words never reach a client."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DataError

from urbantwin.app import data_error_message


@pytest.mark.parametrize(
    ("database_text", "fragment"),
    [
        ("bigint out of range", "a number is out of range: ids and integers must lie between"),
        ("Python int too large to convert to SQLite INTEGER", "a number is out of range"),
        ('date/time field value out of range: "0000-01-01"', "a date or time is out of the range"),
        ("invalid input syntax for type uuid", "a value cannot be stored"),
    ],
)
def test_a_value_the_database_refuses_is_named_in_our_words(database_text: str, fragment: str) -> None:
    message = data_error_message(DataError("SELECT 1", {}, Exception(database_text)))
    assert fragment in message
    assert database_text not in message


def test_an_integer_beyond_64_bits_that_escaped_the_checks_is_a_400_on_sqlite_too() -> None:
    from fastapi import APIRouter
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from urbantwin.app import create_app
    from urbantwin.settings import Settings

    app = create_app(Settings(database_url="sqlite://"))
    router = APIRouter()

    @router.get("/probe")
    def probe() -> None:
        with app.state.engine.connect() as connection:  # SQLite's driver raises OverflowError here
            connection.execute(text("SELECT :n"), {"n": 2**64})

    app.include_router(router)
    answer = TestClient(app).get("/probe")
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("a number is out of range")


def test_a_server_on_a_store_not_yet_migrated_starts_and_says_what_it_did_not_prepare(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    from urbantwin.app import create_app
    from urbantwin.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'new.db'}"))
    with caplog.at_level("WARNING", logger="urbantwin"), TestClient(app) as client:
        assert client.get("/openapi.json").status_code == 200
    assert "energy runs not prepared: is the store migrated?" in caplog.text
