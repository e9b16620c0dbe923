"""The project document: what it takes and how it says what is wrong."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from urbantwin.errors import BadRequest
from urbantwin.portfolio.projects import FIGURES, check_project


def test_absent_fields_stay_empty_never_guessed() -> None:
    project = check_project({"id": "a", "title": {"de": "A"}, "status": "planned"})
    assert project["funding"] == {**dict.fromkeys(FIGURES), "approximate": [], "sources": []}
    assert project["partners"] == [] and project["contact"] is None and project["programme"] is None


@given(st.dictionaries(st.text(max_size=12), st.integers() | st.text(max_size=5) | st.none(), max_size=4))
def test_any_funding_object_is_taken_or_refused_with_400(funding: dict) -> None:
    try:
        project = check_project({"id": "a", "title": {"en": "A"}, "status": "planned", "funding": funding})
    except BadRequest as error:
        assert "funding" in error.message
    else:
        assert all(project["funding"][f] is None or project["funding"][f] >= 0 for f in FIGURES)


def test_an_area_must_be_a_valid_polygon() -> None:
    line = {"type": "LineString", "coordinates": [[12, 51], [12.1, 51.1]]}
    with pytest.raises(BadRequest, match="Polygon"):
        check_project({"id": "a", "title": {"en": "A"}, "status": "planned", "area": {"geometry": line}})
