"""The HTTP binding: GETs of navigation paths take an early route that answers as the catch-all does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from urbantwin.sensorthings.routes import build_router


def _early_route() -> Any:
    return next(r for r in build_router().routes if getattr(r, "path", "").endswith("{path:sta_navigation}"))


@contextmanager
def catch_all_only() -> Iterator[None]:
    """The router as it was without the early route: every navigation GET reaches the catch-all."""
    router, early = build_router(), _early_route()
    router.routes.remove(early)
    router._mark_routes_changed()  # FastAPI keeps the included routes per version of the list
    try:
        yield
    finally:
        router.routes.insert(2, early)
        router._mark_routes_changed()


def _answer(client: TestClient, method: str, url: str) -> tuple[int, bytes, dict[str, str]]:
    response = client.request(method, url)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "x-request-id"}
    return response.status_code, response.content, headers


def _navigation(graph: dict[str, Any], observation: int) -> list[str]:
    thing, datastream = graph["west"]["thing"], graph["west"]["datastream"]
    other = graph["mitte"]["datastream"]
    return [
        f"Things({thing})/Datastreams",
        f"Things({thing})/Datastreams({datastream})/Observations",
        f"Datastreams({datastream})/Observations?$top=2&$orderby=phenomenonTime%20desc",
        f"Datastreams({datastream})/Observations?$filter=result%20gt%200&$count=true&$select=result",
        f"Datastreams({datastream})/Observations?$resultFormat=dataArray",
        f"Datastreams({datastream})/Observations?$expand=FeatureOfInterest",
        f"Datastreams({datastream})/Thing",
        f"Datastreams({datastream})/Thing/",
        "Things/?$top=1",
        "Things/?$top=-1",
        f"Datastreams%28{datastream}%29/Sensor",
        f"Datastreams({datastream})/Sensor/name",
        f"Datastreams({datastream})/Sensor/name/$value",
        f"Things({thing})/properties/owner",
        f"Things({thing})/Datastreams/$ref",
        f"Datastreams({datastream})/Thing/$ref",
        f"Observations({observation})/Datastream/Thing/Locations",
        f"Observations({observation})/resultTime/$value",
        # refused: a missing or unrelated entity, an unknown relation or set, bad options and ids
        "Things(999999)/Datastreams",
        "Observations(999999)/Datastream",
        f"Things({thing})/Datastreams({other})/Observations",
        f"Datastreams({datastream})/Nothing",
        "Nothing/Else",
        "Things(x)/Datastreams",
        "Things(99999999999999999999)/Datastreams",
        f"Datastreams({datastream})/Observations?$top=-1",
        f"Datastreams({datastream})/Observations?$filter=result%20gt",
        f"Datastreams({datastream})/Observations?$top=1&$top=2",
        f"Things({thing})" + "/Datastreams(1)/Thing" * 6,
    ]


def test_navigation_paths_answer_as_the_catch_all_did(
    client: TestClient, anonymous: TestClient, graph: dict[str, Any]
) -> None:
    observation = client.get(f"/v1.1/Datastreams({graph['west']['datastream']})/Observations").json()
    paths = _navigation(graph, observation["value"][0]["@iot.id"])
    requests = [(c, m, f"/v1.1/{p}") for p in paths for c in (client, anonymous) for m in ("GET", "HEAD")]
    early = [_answer(c, method, url) for c, method, url in requests]
    with catch_all_only():
        before = [_answer(c, method, url) for c, method, url in requests]
    for (_, method, url), now, then in zip(requests, early, before, strict=True):
        assert now == then, f"{method} {url}"
    statuses = {status for status, _, _ in early}
    assert {200, 400, 404, 405} <= statuses  # answers and refusals alike were compared


def test_the_early_route_takes_navigation_paths_only(client: TestClient, graph: dict[str, Any]) -> None:
    early = _early_route()
    assert build_router().routes.index(early) < 3  # checked before the ~50 documented routes
    datastream = graph["west"]["datastream"]
    # A set's name with a slash behind is no documented route's path either: the catch-all's before.
    for path in (f"Datastreams({datastream})/Observations", "Things(1)/Locations/", "Things/", "a/b"):
        assert early.path_regex.match(f"/v1.1/{path}"), path
    # Documented routes keep their own parameter checks (a negative $top named by FastAPI's rule).
    for path in ("", "Things", "Things(1)", "CreateObservations", "$batch", "/Things"):
        assert not early.path_regex.match(f"/v1.1/{path}"), path
    refused = client.get("/v1.1/Observations?$top=-1")
    assert refused.status_code == 400 and "$top" in refused.json()["message"]


def test_a_navigation_read_is_timed_under_the_catch_alls_template(client: TestClient, graph) -> None:
    datastream = graph["west"]["datastream"]

    def counted() -> float:
        text = client.get("/metrics").text
        label = 'method="GET",route="/v1.1/{path:path}",status="200"'
        line = next(
            (
                row
                for row in text.splitlines()
                if row.startswith("urbantwin_http_request_duration_seconds_count{") and label in row
            ),
            None,
        )
        return 0.0 if line is None else float(line.rsplit(" ", 1)[1])

    start = counted()
    for _ in range(3):
        assert client.get(f"/v1.1/Datastreams({datastream})/Thing").status_code == 200
    assert counted() == start + 3
