"""The HTTP side of access: who a request's principal is, asked once per request.

Routes call `request_principal(request)`; the authenticator and the policy live on the app's state,
built by `create_app`.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from urbantwin.access.audit import AuditLog
from urbantwin.access.authenticate import Authenticator
from urbantwin.access.policy import AccessPolicy, DatasetScope
from urbantwin.access.principal import Principal
from urbantwin.errors import NotFound


def request_principal(request: HTTPConnection) -> Principal:
    """The principal the request's `Authorization` header proves (cached on the request)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.principal(request.headers.get("authorization"))
    request.state.principal = principal
    return principal


def request_policy(request: HTTPConnection) -> AccessPolicy:
    return request.app.state.access


def request_scope(request: HTTPConnection) -> DatasetScope:
    """The datasets the request's principal may read (asked once per request; blocking)."""
    cached = getattr(request.state, "scope", None)
    if cached is not None:
        return cached
    principal = request_principal(request)
    with request.app.state.engine.connect() as connection:
        scope = request_policy(request).read_scope(principal, connection)
    request.state.scope = scope
    return scope


def require_readable(request: HTTPConnection, dataset_id: str | None, what: str, api: str) -> None:
    """404 unless the principal may read `dataset_id` (so restricted names do not leak); counts the
    read and audits it when the data is restricted (blocking)."""
    scope = request_scope(request)
    if not scope.allows(dataset_id):
        raise NotFound(f"no {what}")
    target = f"{request.scope.get('method', 'GET')} {request.url.path}"
    if request.url.query:
        target += "?" + request.url.query
    audit: AuditLog = request.app.state.audit
    audit.read(request_principal(request), api, [dataset_id], target, dataset_id in scope.restricted)
