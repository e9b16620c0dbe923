"""Errors a user can cause, raised by services and mapped to HTTP statuses in one place (app.py).

Services know nothing of HTTP; they raise these, and no route builds an error response by hand.
"""

from __future__ import annotations


class PlatformError(Exception):
    """Base of the errors that answer with a 4xx status and a message naming the problem."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PlatformError):
    status = 400


class Unauthorized(PlatformError):
    status = 401


class Forbidden(PlatformError):
    status = 403


class NotFound(PlatformError):
    status = 404


class MethodNotAllowed(PlatformError):
    status = 405


class NotAcceptable(PlatformError):
    status = 406


class Conflict(PlatformError):
    status = 409


class PayloadTooLarge(PlatformError):
    status = 413


class UnsupportedMediaType(PlatformError):
    status = 415
