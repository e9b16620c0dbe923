"""Log lines carry the request's id and never a secret, in text and in JSON."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from urbantwin.logs import REDACTED, REQUEST_ID, JsonFormatter, configure, redact, request_id


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('127.0.0.1:5 - "GET /v1.1/Things?token=t0ps3cret&$top=5 HTTP/1.1" 200', "t0ps3cret"),
        ("GET /api/live/observations?access_token=eyJhbGciOi.abc.def", "eyJhbGciOi.abc.def"),
        ("headers: {'authorization': 'Bearer ut_9f8e7d6c'}", "ut_9f8e7d6c"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        ("connecting to postgresql+psycopg://app:hunter2@db.example:5432/twin", "hunter2"),
        ("broker mqtt://urbantwin:brokerpw@127.0.0.1:1883 refused", "brokerpw"),
    ],
)
def test_credentials_are_redacted_by_their_form(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned and REDACTED in cleaned


def test_known_secrets_are_redacted_wherever_they_appear() -> None:
    assert redact("the webhook said lorawan-shared-123 twice", ["lorawan-shared-123", ""]) == (
        f"the webhook said {REDACTED} twice"
    )


def test_a_client_s_request_id_is_kept_only_when_plain() -> None:
    assert request_id("proxy-4f2a:17") == "proxy-4f2a:17"
    for odd in (None, "", "two words", "x" * 129, 'quote"s'):
        made = request_id(odd)
        assert made != odd and len(made) == 32


def test_json_lines_carry_the_request_id_and_no_secret() -> None:
    config = configure("debug", "json", secrets=["s3cret-admin"])
    formatter = config["formatters"]["redacted"]
    assert formatter["()"] == "urbantwin.logs.JsonFormatter" and formatter["secrets"] == ["s3cret-admin"]
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["default"]  # the access log too
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(secrets=["s3cret-admin"]))
    logger = logging.getLogger("urbantwin.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        token = REQUEST_ID.set("req-42")
        try:
            logger.warning("refused token %s for %s", "s3cret-admin", "/v1.1/Things?token=abc123")
        finally:
            REQUEST_ID.reset(token)
        try:
            raise ValueError("postgresql://u:pw-in-trace@h/db")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert (
        first["request_id"] == "req-42"
        and first["level"] == "warning"
        and first["logger"] == "urbantwin.test"
    )
    assert first["time"].endswith("+00:00")
    assert "s3cret-admin" not in first["message"] and "abc123" not in first["message"]
    assert "request_id" not in second and "pw-in-trace" not in second["exception"]


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format 'xml'"):
        configure("info", "xml")
