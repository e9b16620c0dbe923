"""The JSON the database renders for a page equals the JSON `RowWriter` writes, on both backends."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from urbantwin.sensorthings import sqljson
from urbantwin.sensorthings.model import ENTITY_TYPES, OBSERVATION
from urbantwin.sensorthings.serialize import RowWriter

BASE = "http://example.org/v1.1"


@pytest.fixture
def varied(client: TestClient, graph) -> None:
    """Observations with every kind of result and every optional time, some with microseconds."""
    datastream = graph["mitte"]["datastream"]
    bodies = [
        {"result": 42, "phenomenonTime": "2024-06-01T00:00:00.250000Z"},
        {"result": 'text with "quotes" and ünïcode', "resultTime": "2024-06-01T01:00:00Z"},
        {"result": True, "validTime": "2024-06-01T00:00:00Z/2024-06-02T00:00:00.000001Z"},
        {"result": False, "parameters": {"nested": {"a": [1, 2.5, None]}}},
        {"result": None, "resultQuality": ["good"]},
        {"result": {"pm10": 3.25}, "phenomenonTime": "2024-06-01T00:00:00Z/2024-06-01T01:00:00Z"},
        {"result": 0.1},
        {"result": -1e300},
        {"result": 2**60},
    ]
    for body in bodies:
        body["Datastream"] = {"@iot.id": datastream}
        assert client.post("/v1.1/Observations", json=body).status_code == 201


@pytest.mark.parametrize("entity_name", sorted(ENTITY_TYPES))
@pytest.mark.parametrize("select_", [None, (("id",), ("name",), ("result",), ("phenomenonTime",))])
def test_database_json_equals_python_json(engine: Engine, varied, entity_name: str, select_) -> None:
    entity = ENTITY_TYPES[entity_name]
    if not sqljson.supports(entity, select_):
        pytest.skip(f"{entity_name} is written by RowWriter only")
    table = entity.table
    writer = RowWriter(entity, BASE, select_)
    with engine.connect() as connection:
        result = connection.execute(select(*entity.columns(table)).order_by(table.c.id))
        keys = list(result.keys())
        expected = [writer(dict(zip(keys, row, strict=True))) for row in result.all()]
        texts = connection.execute(
            select(sqljson.row_json(entity, table, BASE, select_)).order_by(table.c.id)
        ).scalars()
        rendered = [json.loads(text) for text in texts]
    assert rendered == expected
    if entity is OBSERVATION:
        assert len(rendered) == 6 + 9


def test_literal_texts_are_merged_before_the_database_joins_them() -> None:
    """Every `||` left in the expression runs once per row: literal texts side by side (a comma, the
    next key, a link's prefix) are one literal, so no two bound texts are joined in the query."""
    from sqlalchemy.dialects import postgresql

    table = OBSERVATION.table
    sql = str(sqljson.row_json(OBSERVATION, table, BASE, None).compile(dialect=postgresql.dialect()))
    assert "::VARCHAR || %(param_" not in sql
    assert sql.count("||") <= 30  # was 50


def test_the_expression_of_a_page_is_built_once_per_entity_base_and_select() -> None:
    table = OBSERVATION.table
    first = sqljson.row_json(OBSERVATION, table, BASE, None)
    assert sqljson.row_json(OBSERVATION, table, BASE, None) is first
    assert sqljson.row_json(OBSERVATION, table, BASE + "/other", None) is not first
    assert sqljson.row_json(OBSERVATION, table, BASE, (("id",),)) is not first
