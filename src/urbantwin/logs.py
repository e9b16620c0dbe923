"""The server's log lines: plain text or JSON, with the request's id, and never a secret.

`configure(level, form, secrets)` gives the logging configuration of `urbantwin serve` (uvicorn
applies it in every worker process). Each line passes `redact` on its way out, after the
traceback is added: a token in an `Authorization` header or a query parameter, the password of a
URL and every secret the settings hold (`secrets`) are replaced by `[redacted]`, whoever logged
them — uvicorn's access log prints the path with its query, a driver's error may quote a URL.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

#: The id of the request being served (`X-Request-Id`, taken from the client or made), in the
#: context of the task that serves it; empty outside a request.
REQUEST_ID: ContextVar[str] = ContextVar("urbantwin_request_id", default="")

REDACTED = "[redacted]"

#: A request id a client may choose: short, and nothing a log reader could mistake for more.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_PATTERNS = (
    # credentials of an Authorization header, as logged or as a header dump
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    # a query parameter that carries a secret (`?token=…`, `&access_token=…`, `password=…`)
    (
        re.compile(
            r"(?i)([?&;\s\"']"
            r"(?:token|access_token|id_token|refresh_token|api_key|apikey|key|password|passwd|secret)=)"
            r"[^&\s\"',;]+"
        ),
        r"\1" + REDACTED,
    ),
    # the password of a URL (`postgresql://user:password@host`, `mqtt://user:password@host`)
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without credentials: the known `secrets`, and whatever has the form of one."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def request_id(offered: str | None) -> str:
    """The id of a request: the client's `X-Request-Id` when it is a plain token of at most 128
    characters (so a proxy's id carries through), else a new one."""
    if offered and _CLIENT_REQUEST_ID.fullmatch(offered):
        return offered
    return os.urandom(16).hex()  # as random as uuid4().hex, a tenth of its cost (bench/README.md)


class TextFormatter(logging.Formatter):
    """`<time> <level> <logger> [<request id>] <message>`, redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(request)s%(message)s")
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        current = REQUEST_ID.get()
        record.request = f"[{current}] " if current else ""
        return redact(super().format(record), self.secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `time` (UTC, ISO 8601), `level`, `logger`, `message`, `pid` (the
    server process: with `--workers N` there are N), `request_id` within a request and
    `exception` with a traceback; redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        current = REQUEST_ID.get()
        if current:
            entry["request_id"] = current
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(orjson.dumps(entry, default=str).decode(), self.secrets)


FORMS = ("text", "json")


def configure(level: str, form: str, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The logging configuration (`logging.config.dictConfig`) of a server: every line, ours and
    uvicorn's (its access log included), in `form` ("text" or "json") on standard error."""
    if form not in FORMS:
        raise ValueError(f"log format {form!r}: expected one of {', '.join(FORMS)}")
    formatter = JsonFormatter if form == "json" else TextFormatter
    handler = {"class": "logging.StreamHandler", "formatter": "redacted", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "redacted": {"()": f"{formatter.__module__}.{formatter.__qualname__}", "secrets": list(secrets)}
        },
        "handlers": {"default": handler},
        "loggers": {name: logger for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "urbantwin")},
        "root": {"handlers": ["default"], "level": level.upper()},
    }
