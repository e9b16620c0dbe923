"""The district figures as of a year: the year asked, the instant it stands for, which features were
valid then and which feeds were in service."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
import shapely

from urbantwin.districts.asof import MIN_YEAR, AsOf, instant, parse_year
from urbantwin.districts.layers import Collection, Feed, Layer
from urbantwin.errors import BadRequest

STAMP = datetime(2024, 1, 1, tzinfo=UTC)


def seconds(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def collection(name: str) -> Collection:
    return Collection(name, name, None, (), STAMP, 1)


def feed(name: str, first: str | None, last: str | None) -> Feed:
    return Feed(
        name,
        name,
        collection(f"{name}-stops"),
        None,
        STAMP,
        date.fromisoformat(first) if first else None,
        date.fromisoformat(last) if last else None,
    )


def test_a_year_stands_for_its_end() -> None:
    assert instant(2015) == datetime(2016, 1, 1, tzinfo=UTC).timestamp()


def test_the_year_must_lie_within_the_population_series() -> None:
    years = [2000, 2010, 2024]
    assert parse_year(None, years) is None and parse_year("", years) is None
    assert parse_year("2000", years) == 2000 and parse_year("2017", years) == 2017
    with pytest.raises(BadRequest, match=r"year: 1999 is outside the data's range, 2000 to 2024"):
        parse_year("1999", years)
    with pytest.raises(BadRequest, match=r"year: 2025 is outside"):
        parse_year("2025", years)
    for bad in ("soon", "2010.5", "nan"):
        with pytest.raises(BadRequest, match=r"^year: expected a year from 2000 to 2024"):
            parse_year(bad, years)
    # without any population series: from MIN_YEAR to this year
    assert parse_year(str(MIN_YEAR), []) == MIN_YEAR
    with pytest.raises(BadRequest, match=r"no population data"):
        parse_year(str(datetime.now(UTC).year + 1), [])


def test_features_valid_at_the_end_of_the_year() -> None:
    """Four buildings: one without a validity, one built in 2010, one demolished in 2012, one built
    on 1 January 2016 (after the end of 2015)."""
    points = shapely.points(np.arange(4.0), np.zeros(4))
    nan = np.nan
    layer = Layer(
        "buildings",
        [collection("houses")],
        points,
        valid_from=np.array([nan, seconds("2010-06-01"), nan, seconds("2016-01-01")]),
        valid_to=np.array([nan, nan, seconds("2012-03-01"), nan]),
    )
    assert layer.historic
    assert len(layer.at(seconds("2005-01-01")).points) == 2  # the undated one and the one demolished later
    assert shapely.get_x(layer.at(instant(2011)).points).tolist() == [0.0, 1.0, 2.0]
    assert shapely.get_x(layer.at(instant(2015)).points).tolist() == [0.0, 1.0]
    assert len(layer.at(instant(2016)).points) == 3
    assert layer.at(None) is layer
    undated = Layer(
        "trees", [collection("trees")], points, valid_from=np.full(4, nan), valid_to=np.full(4, nan)
    )
    assert not undated.historic and undated.at(instant(2000)) is undated


def test_each_input_says_whether_it_has_history() -> None:
    as_of = AsOf(2015)
    dated = Layer("buildings", [collection("houses")], shapely.points([0.0], [0.0]))
    dated.valid_from, dated.valid_to = np.array([seconds("2010-01-01")]), np.array([np.nan])
    undated = Layer("trees", [collection("trees")], shapely.points([0.0], [0.0]))
    undated.valid_from, undated.valid_to = np.array([np.nan]), np.array([np.nan])
    as_of.layer(dated)
    as_of.layer(undated)
    as_of.residents([2015, 2015])
    document = as_of.document()
    assert document is not None
    assert document["instant"] == "2016-01-01T00:00:00Z"
    assert document["inputs"] == {
        "buildings": {"historic": True},
        "trees": {"historic": False},
        "population": {"historic": True, "years": [2015]},
    }
    assert document["labels"] == [
        {
            "en": "Buildings: as of 2015 (the data's validity in time)",
            "de": "Gebäude: Stand 2015 (Gültigkeit in den Daten)",
        },
        {
            "en": "Street trees: today's data (no history in the data)",
            "de": "Straßenbäume: heutiger Stand (keine Historie in den Daten)",
        },
        {"en": "Residents: 2015 (population series)", "de": "Einwohner: 2015 (Bevölkerungsreihe)"},
    ]
    assert AsOf(None).document() is None


def test_the_feeds_in_service_that_year_else_todays_network() -> None:
    old, new, undated = (
        feed("old", "2012-01-01", "2012-12-31"),
        feed("new", "2026-01-05", "2026-01-18"),
        feed("x", None, None),
    )
    as_of = AsOf(2012)
    assert as_of.feeds([old, new, undated]) == [old]
    assert as_of.inputs["timetables"] == {"historic": True, "feeds": ["old"]}
    assert as_of.labels[-1]["en"] == "Public-transport stops: the timetables in service in 2012"
    later = AsOf(2020)
    assert later.feeds([old, new, undated]) == [old, new, undated]
    assert later.inputs["timetables"]["historic"] is False
    assert later.labels[-1] == {
        "en": "Public-transport stops: today's network (no history in the data)",
        "de": "Haltestellen des ÖPNV: heutiges Netz (keine Historie in den Daten)",
    }
    assert AsOf(None).feeds([old, new]) == [old, new]
