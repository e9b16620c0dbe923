"""JSON batch requests (`POST /$batch`, OData 4.01 JSON batch format, as STA 1.1 allows).

Requests run in order. Requests sharing an `atomicityGroup` form a change set: they run in one
transaction, and if one fails none of them is kept, and each answers with the failure. A later
request may refer to an entity created earlier in the batch as `$<id>` in its URL (e.g.
`$thing/Datastreams`).
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING, Any

from urbantwin.access.principal import Principal
from urbantwin.errors import BadRequest, PlatformError
from urbantwin.sensorthings.read import RawValue

if TYPE_CHECKING:
    from urbantwin.sensorthings.service import SensorThingsService

MAX_REQUESTS = 1000


class _ChangeSetFailed(Exception):
    def __init__(self, index: int, response: dict[str, Any]) -> None:
        self.index = index
        self.response = response


def run_batch(service: SensorThingsService, body: Any, base: str, principal: Principal) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise BadRequest('$batch: the body must be {"requests": [...]} (JSON batch format)')
    requests = body["requests"]
    if len(requests) > MAX_REQUESTS:
        raise BadRequest(f"$batch: at most {MAX_REQUESTS} requests per batch")
    for index, request in enumerate(requests):
        _check(request, index)
    created: dict[str, str] = {}
    responses: list[dict[str, Any]] = []
    for group, grouped in groupby(enumerate(requests), key=lambda pair: pair[1].get("atomicityGroup")):
        members = list(grouped)
        if group is None:
            for _index, request in members:
                responses.append(_run_one(service, request, base, principal, created, None))
            continue
        try:
            with service.write_engine.begin() as connection:
                group_responses = []
                for index, request in members:
                    answer = _run_one(service, request, base, principal, created, connection)
                    if answer["status"] >= 400:
                        raise _ChangeSetFailed(index, answer)
                    group_responses.append(answer)
            responses.extend(group_responses)
        except _ChangeSetFailed as failure:
            for index, request in members:
                if index == failure.index:
                    responses.append(failure.response)
                else:
                    responses.append(
                        {
                            "id": str(request.get("id", index)),
                            "status": 424,
                            "body": {
                                "code": 424,
                                "type": "error",
                                "message": "not applied: another request of its change set failed",
                            },
                        }
                    )
            for _index, request in members:
                created.pop(str(request.get("id")), None)
    return {"responses": responses}


def _check(request: Any, index: int) -> None:
    if not isinstance(request, dict):
        raise BadRequest(f"$batch: request {index} must be an object")
    for key in ("method", "url"):
        if not isinstance(request.get(key), str):
            raise BadRequest(f"$batch: request {index} needs a string {key!r}")
    if "id" in request and not isinstance(request["id"], str | int):
        raise BadRequest(f"$batch: request {index} has an id that is not a string")
    group = request.get("atomicityGroup")
    if group is not None and not isinstance(group, str):
        raise BadRequest(f"$batch: request {index} has an atomicityGroup that is not a string")


def _relative(url: str, base: str, created: dict[str, str]) -> tuple[str, str]:
    if url.startswith(base):
        url = url[len(base) :]
    else:
        marker = url.find("/v1.1/")
        if marker >= 0:
            url = url[marker + len("/v1.1/") :]
    url = url.lstrip("/")
    if url.startswith("$"):
        ref, _, rest = url[1:].partition("/")
        if ref in created:
            url = created[ref] + ("/" + rest if rest else "")
        elif ref != "batch":
            raise BadRequest(f"$batch: ${ref} does not name an entity created earlier in this batch")
    path, _, query = url.partition("?")
    return path, query


def _run_one(
    service: SensorThingsService,
    request: dict[str, Any],
    base: str,
    principal: Principal,
    created: dict[str, str],
    connection: Any,
) -> dict[str, Any]:
    ident = str(request.get("id", ""))
    try:
        path, query = _relative(request["url"], base, created)
        if path == "$batch":
            raise BadRequest("$batch: a batch cannot contain another batch")
        answer = service.handle(
            request["method"], path, query, request.get("body"), base, principal, connection
        )
    except PlatformError as error:
        return {
            "id": ident,
            "status": error.status,
            "body": {"code": error.status, "type": "error", "message": error.message},
        }
    out: dict[str, Any] = {"id": ident, "status": answer.status}
    if answer.headers:
        out["headers"] = {k.lower(): v for k, v in answer.headers.items()}
        location = answer.headers.get("Location")
        if location and ident:
            created[ident] = location[len(base) + 1 :] if location.startswith(base) else location
    if isinstance(answer.body, RawValue):
        # A `$value` in a JSON batch: a text body is a JSON string, named as text (OData 4.01 JSON
        # batch format); an object or array stays JSON.
        if answer.body.is_json:
            out["body"] = answer.body.value
        else:
            out["headers"] = {**out.get("headers", {}), "content-type": "text/plain"}
            out["body"] = answer.body.text
    elif answer.body is not None:
        out["body"] = answer.body
    return out
