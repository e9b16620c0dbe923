"""The HTTP kit: the one rule of JSON input (depth and NUL), the deep-document fallback of responses,
and NUL refused in the request line."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from urbantwin.errors import BadRequest
from urbantwin.http import DEEPEST_WRITABLE_JSON, check_json_input, dumps_json, parse_json
from urbantwin.settings import Settings


def nested(levels: int, bottom: Any = 1) -> Any:
    value = bottom
    for level in range(levels):
        value = {"a": value} if level % 2 else [value]
    return value


def test_depth_counts_arrays_and_objects() -> None:
    check_json_input(1, 0)  # a scalar nests nothing
    check_json_input({"a": [1, {"b": 2}]}, 3)
    with pytest.raises(BadRequest, match="deeper than 2 levels"):
        check_json_input({"a": [1, {"b": 2}]}, 2)
    with pytest.raises(BadRequest, match="deeper than 64 levels"):  # iterative: no recursion limit
        check_json_input(nested(5000), 64)


def test_the_limit_is_one_level_more_or_less() -> None:
    check_json_input(nested(64), 64)
    with pytest.raises(BadRequest, match="the JSON document nests deeper than 64 levels"):
        check_json_input(nested(65), 64)


def test_a_configured_limit_never_exceeds_what_can_be_written_back() -> None:
    with pytest.raises(BadRequest, match=f"deeper than {DEEPEST_WRITABLE_JSON} levels"):
        check_json_input(nested(DEEPEST_WRITABLE_JSON + 1), 100_000)
    dumps_json(nested(DEEPEST_WRITABLE_JSON + 10))  # what is accepted is written, with room for embedding


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("a\x00b", "a string in the body contains a NUL character"),
        ({"name": ["ok", "\x00"]}, "a string in the body contains a NUL character"),
        ({"k\x00": 1}, "a key in the body contains a NUL character"),
    ],
)
def test_nul_is_refused_in_keys_and_strings(document: Any, fragment: str) -> None:
    with pytest.raises(BadRequest, match=fragment):
        check_json_input(document, 64, "the body")


def test_parse_json_checks_depth_and_names_what_was_read() -> None:
    settings = Settings(max_json_depth=3)
    assert parse_json(b'{"a": [1]}', settings) == {"a": [1]}
    with pytest.raises(BadRequest, match="the message nests deeper than 3 levels"):
        parse_json(b'[[[["x"]]]]', settings, "the message")
    with pytest.raises(BadRequest, match="the filter nests deeper than 3 levels"):
        parse_json(b"[" * 2000 + b"]" * 2000, 3, "the filter")  # beyond orjson's own parser limit
    with pytest.raises(BadRequest, match="the body is not valid JSON"):
        parse_json(b"{", settings)
    with pytest.raises(BadRequest, match="contains a NUL"):
        parse_json(b'{"a": "\\u0000"}', settings)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(alphabet=st.sampled_from('ab\x00\\u"0')),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet=st.sampled_from("k\x00\\u0"), max_size=3), inner, max_size=4)
    ),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


def holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(child) for key, child in value.items())
    if isinstance(value, list):
        return any(map(holds_nul, value))
    return False


@given(document=JSON_VALUES, limit=st.integers(0, 6))
def test_parse_json_refuses_exactly_the_deep_and_the_nul_documents(document: Any, limit: int) -> None:
    # parse_json skips the walk over texts when the JSON text has no `\u0000` escape: that shortcut
    # must never let a NUL through nor refuse a document without one.
    raw = orjson.dumps(document)
    expected_refusal = depth_of(document) > limit or holds_nul(document)
    try:
        assert parse_json(raw, limit) == document
    except BadRequest:
        assert expected_refusal
    else:
        assert not expected_refusal


def test_dumps_json_writes_a_stored_document_embedded_deeper_than_orjson_goes() -> None:
    stored = nested(253, "x")  # the deepest a document could be stored before input was limited
    answer = {"value": [{"Thing": {"properties": stored}, "ready": orjson.Fragment(b'{"b":[1]}')}]}
    assert json.loads(dumps_json(answer)) == {
        "value": [{"Thing": {"properties": stored}, "ready": {"b": [1]}}]
    }
    assert dumps_json({"a": 1}) == b'{"a":1}'


@pytest.fixture
def app_client() -> TestClient:
    from urbantwin.app import create_app

    return TestClient(create_app(Settings(database_url="sqlite://")))


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/v1.1/Things?$filter=name%20eq%20'a%00b'", "query string"),
        ("/ogcapi/collections/a%00b/items", "path"),
        ("/api/timeseries/observations?datastreams=1&x=%00", "query string"),
    ],
)
def test_nul_in_the_request_line_is_refused_before_any_route(
    app_client: TestClient, url: str, where: str
) -> None:
    response = app_client.get(url)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == (
        f"the {where} contains a NUL character (\\u0000), which no text may hold"
    )


class Note(BaseModel):
    text: str
    extra: dict[str, Any] = {}


def test_a_route_with_a_model_body_reads_it_through_the_kit() -> None:
    from fastapi import APIRouter, FastAPI

    from urbantwin.app import create_app
    from urbantwin.http import CheckedJsonRoute

    router = APIRouter(route_class=CheckedJsonRoute)

    @router.post("/notes")
    async def add(note: Note) -> dict[str, Any]:
        return note.model_dump()

    # the platform's error handlers, on a small app with a small body limit
    app: FastAPI = create_app(Settings(database_url="sqlite://", max_body_bytes=2000))
    app.include_router(router)
    client = TestClient(app)
    assert client.post("/notes", json={"text": "hi"}).json() == {"text": "hi", "extra": {}}
    too_deep = client.post("/notes", json={"text": "hi", "extra": nested(70)})
    assert too_deep.status_code == 400 and "nests deeper than 64" in too_deep.json()["message"]
    assert "NUL" in client.post("/notes", json={"text": "\x00"}).json()["message"]
    # a chunked body without a length is stopped at the limit, not read whole first
    chunked = client.post("/notes", content=(b"x" * 500 for _ in range(10)))
    assert chunked.status_code == 413 and "larger than 2000 bytes" in chunked.json()["message"]
    invalid = client.post("/notes", json={"text": 5})
    assert invalid.status_code == 400 and invalid.json()["message"].startswith("invalid request: text")


@pytest.mark.parametrize("texts", [True, False])
def test_the_depth_is_the_same_whether_strings_are_checked_or_not(texts: bool) -> None:
    """Without a NUL escape in the text the strings need no check, and a whole level's types are
    gathered at once: the limit stays where it is, also when one row of many nests deeper."""
    rows = [[f"2024-01-01T00:00:{i % 60:02d}Z", i / 10, i] for i in range(1000)]
    body = [{"Datastream": {"@iot.id": 1}, "components": ["a", "b", "c"], "dataArray": rows}]
    check_json_input(body, 4, texts=texts)
    with pytest.raises(BadRequest, match="deeper than 3 levels"):
        check_json_input(body, 3, texts=texts)
    rows[500][1] = {"deeper": [1]}
    check_json_input(body, 6, texts=texts)
    with pytest.raises(BadRequest, match="deeper than 5 levels"):
        check_json_input(body, 5, texts=texts)
    for levels in (64, 65):
        document = nested(levels)
        if levels == 64:
            check_json_input(document, 64, texts=texts)
        else:
            with pytest.raises(BadRequest, match="deeper than 64 levels"):
                check_json_input(document, 64, texts=texts)
