"""The HTTP side of access: the caller a request makes, built once per request.

Routes call `request_caller(request)` and hand the caller to their service, which asks the app's
`Access` (`access/gate.py`) itself; no route decides visibility.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from urbantwin.access.authenticate import Authenticator
from urbantwin.access.gate import Access, Caller
from urbantwin.access.principal import Principal


def request_principal(request: HTTPConnection) -> Principal:
    """The principal the request's `Authorization` header proves (cached on the request)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.principal(request.headers.get("authorization"))
    request.state.principal = principal
    return principal


def request_caller(request: HTTPConnection) -> Caller:
    """Who asks and what they asked for (cached on the request, so its read scope is asked once)."""
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    target = f"{request.scope.get('method', 'GET')} {request.url.path}"
    if request.url.query:
        target += "?" + request.url.query
    caller = Caller(request_principal(request), target)
    request.state.caller = caller
    return caller


def request_access(request: HTTPConnection) -> Access:
    """The app's access point (policy and audit)."""
    return request.app.state.access
