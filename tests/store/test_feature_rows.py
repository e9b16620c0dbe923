"""One rule for what a feature row holds, whether the feature was posted or imported."""

from __future__ import annotations

import pytest

from urbantwin.store.feature_rows import (
    grown_schema,
    height_of,
    item_schema,
    json_type,
    parse_height,
    union_bounds,
)


def test_json_types_of_property_values() -> None:
    assert [json_type(v) for v in (None, True, 1, 1.5, "a", [1], {"a": 1})] == [
        "null",
        "boolean",
        "integer",
        "number",
        "string",
        "array",
        "object",
    ]


def test_an_item_schema_says_what_the_values_were() -> None:
    schema = item_schema([{"n": 1, "name": "a", "x": None, "v": 1}, {"n": 2.5, "name": None, "v": "b"}])
    assert schema["properties"] == {
        "n": {"type": "number"},  # integers and numbers together
        "name": {"type": "string"},  # a null says nothing
        "v": {},  # a number and a string: any type
        "x": {"type": "string"},  # only ever null
    }


def test_a_schema_grown_feature_by_feature_equals_the_schema_of_all_at_once() -> None:
    features = [{"n": 1, "name": "a", "x": None, "v": 1}, {"n": 2.5, "name": None, "v": "b"}, {"new": True}]
    schema = None
    for properties in features:
        schema = grown_schema(schema, properties)
    assert schema == item_schema(features)


@pytest.mark.parametrize(
    ("value", "height"),
    [(12, 12.0), (12.5, 12.5), ("12,5", 12.5), (" 7.25 ", 7.25), (None, None), ("", None)],
)
def test_a_height_is_a_number_or_a_decimal_text(value: object, height: float | None) -> None:
    assert parse_height(value, "h") == height


@pytest.mark.parametrize("value", ["tall", True, float("nan"), [3]])
def test_what_is_no_height_is_refused_naming_the_property(value: object) -> None:
    with pytest.raises(ValueError, match="'h' is not a"):
        parse_height(value, "h")


def test_without_a_named_property_the_first_height_given_counts() -> None:
    assert height_of({"height_m": "tall", "height": "9,5"}) == 9.5
    assert height_of({"name": "shed"}) is None


def test_the_extent_of_boxes_leaves_out_the_missing_ones() -> None:
    assert union_bounds([None, (0, 1, 2, 3), [-1, 2, 1, 5]]) == (-1.0, 1.0, 2.0, 5.0)
    assert union_bounds([None]) is None
