"""The catalogue service: visibility by scope, search, facets, paging, and the coverage it computes
from a dataset's members, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, update

from tests.catalog.conftest import LEVELS, add_collection, add_dataset, add_sensorthings, at
from urbantwin.access.gate import Caller
from urbantwin.access.policy import EVERYTHING, DatasetScope
from urbantwin.catalog.service import MAX_LISTED_DATASTREAMS, CatalogQuery, CatalogService
from urbantwin.errors import BadRequest, NotFound
from urbantwin.settings import Settings
from urbantwin.store.features_schema import collections, features


def _service(engine: Engine) -> CatalogService:
    return CatalogService(engine, Settings())


def _query(*params: tuple[str, str]) -> CatalogQuery:
    return CatalogQuery.parse(list(params))


def _ids(engine: Engine, *params: tuple[str, str], scope: DatasetScope = EVERYTHING) -> list[str]:
    return [record.id for record in _service(engine).search(Caller.seeing(scope), _query(*params)).datasets]


def _counts(engine: Engine, facet: str, *params: tuple[str, str], scope: DatasetScope = EVERYTHING) -> dict:
    page = _service(engine).search(Caller.seeing(scope), _query(*params))
    return {value.value: value.count for value in page.facets[facet]}


# --- visibility -------------------------------------------------------------------------------------


def test_everything_is_listed_in_title_order(store: Engine) -> None:
    assert _ids(store) == ["luftqualitaet", "energie-intern", "ladesaeulen", "ortsteile", "verkehr"]
    assert {record.id for record in _service(store).visible(EVERYTHING)} == set(LEVELS)


def test_a_scope_hides_datasets_from_the_listing_the_facets_and_by_id(store: Engine) -> None:
    scope = DatasetScope(frozenset({"luftqualitaet", "ortsteile"}))
    service = _service(store)
    assert [record.id for record in service.visible(scope)] == ["luftqualitaet", "ortsteile"]
    page = service.search(Caller.seeing(scope), CatalogQuery())
    assert [record.id for record in page.datasets] == ["luftqualitaet", "ortsteile"]
    assert page.matched == 2
    # The facets count the visible datasets only: no trace of the hidden ones' themes or levels.
    assert {v.value: v.count for v in page.facets["access_level"]} == {"open": 2}
    assert {v.value for v in page.facets["theme"]} == {"ENVI", "HEAL", "REGI"}
    assert page.info.modified == at(2024, 6, 1)  # not the hidden internal dataset's 2025
    assert service.dataset(Caller.seeing(scope), "ortsteile")[1].id == "ortsteile"
    for hidden in ("verkehr", "energie-intern", "ladesaeulen"):
        with pytest.raises(NotFound) as raised:
            service.dataset(Caller.seeing(scope), hidden)
        assert raised.value.message == f"no dataset {hidden!r}"
    with pytest.raises(NotFound) as missing:
        service.dataset(Caller.seeing(EVERYTHING), "nowhere")
    assert missing.value.message == "no dataset 'nowhere'"  # the same answer as for a hidden one
    assert service.dataset(Caller.seeing(EVERYTHING), "verkehr")[1].title == "Traffic counts"


def test_an_empty_scope_sees_nothing(store: Engine) -> None:
    page = _service(store).search(Caller.seeing(DatasetScope(frozenset())), CatalogQuery())
    assert page.datasets == [] and page.matched == 0
    assert all(values == [] for values in page.facets.values())


# --- search, facets, paging ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("air", ["luftqualitaet"]),  # title
        ("FEINSTAUB", ["luftqualitaet"]),  # a keyword, case-insensitively
        ("luftqualität", ["luftqualitaet"]),  # a keyword with an umlaut
        ("counting stations", ["verkehr"]),  # the description, every word
        ("ortsteil boundaries", ["ortsteile"]),
        ("boundaries energy", []),  # words in different datasets do not match
        ("  ", ["luftqualitaet", "energie-intern", "ladesaeulen", "ortsteile", "verkehr"]),
    ],
)
def test_search_over_title_description_and_keywords(store: Engine, q: str, expected: list[str]) -> None:
    assert _ids(store, ("q", q)) == expected


def test_facet_filters_and_or_and_the_counts_of_each_facet_leave_out_its_own_filter(store: Engine) -> None:
    assert _ids(store, ("theme", "ENER")) == ["energie-intern", "ladesaeulen"]
    assert _ids(store, ("theme", "ENVI"), ("theme", "REGI")) == ["luftqualitaet", "ortsteile"]
    assert _ids(store, ("theme", "ENER"), ("access_level", "internal")) == ["energie-intern"]
    assert _ids(store, ("format", "JSON")) == ["luftqualitaet", "ladesaeulen"]
    assert _ids(store, ("format", "MVT")) == ["ladesaeulen", "ortsteile"]
    assert _ids(store, ("publisher", "lfulg")) == ["luftqualitaet"]
    assert _ids(store, ("licence", "odbl"), ("licence", "cc-by/4.0")) == ["ladesaeulen", "verkehr"]
    # With theme=ENER chosen, the theme facet still counts every theme (to widen the choice) ...
    themes = _counts(store, "theme", ("theme", "ENER"))
    assert themes == {"ENER": 2, "TRAN": 2, "ENVI": 1, "HEAL": 1, "REGI": 1}
    # ... while the other facets count the datasets that theme=ENER leaves.
    assert _counts(store, "publisher", ("theme", "ENER")) == {"stadt-leipzig": 2}
    assert _counts(store, "access_level", ("theme", "ENER")) == {"registered": 1, "internal": 1}
    assert _counts(store, "format", ("theme", "ENER")) == {"GEOJSON": 1, "HTML": 1, "MVT": 1, "JSON": 1}
    # Text and facets together; a chosen value that matches nothing is still offered (to unchoose).
    assert _counts(store, "publisher", ("q", "leipzig"), ("publisher", "lvb")) == {
        "lfulg": 1,
        "stadt-leipzig": 1,
        "lvb": 0,
    }
    assert _counts(store, "licence", ("q", "leipzig"), ("publisher", "lvb")) == {}
    page = _service(store).search(Caller.seeing(EVERYTHING), _query(("publisher", "lvb"), ("q", "leipzig")))
    assert page.datasets == []
    lvb = next(v for v in page.facets["publisher"] if v.value == "lvb")
    assert lvb.chosen and lvb.count == 0 and lvb.label == "Leipziger Verkehrsbetriebe"


def test_paging_is_stable_and_complete(store: Engine) -> None:
    with store.begin() as connection:
        for n in range(7):
            add_dataset(connection, f"extra-{n}", f"Zeta {n}", themes=["TECH"])
    service = _service(store)
    seen = []
    offset = 0
    while True:
        page = service.search(Caller.seeing(EVERYTHING), _query(("limit", "3"), ("offset", str(offset))))
        assert page.matched == 12
        assert len(page.datasets) == min(3, 12 - offset)
        assert page.previous_offset == (None if offset == 0 else max(0, offset - 3))
        seen += [record.id for record in page.datasets]
        if page.next_offset is None:
            break
        offset = page.next_offset
    assert offset == 9
    assert seen == _ids(store, ("limit", "100"))
    assert len(set(seen)) == 12
    past = service.search(Caller.seeing(EVERYTHING), _query(("offset", "50")))
    assert past.datasets == [] and past.matched == 12 and past.next_offset is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("limit", "0")], "limit: 0 is out of range (1..1000)"),
        ([("limit", "1001")], "limit: 1001 is out of range (1..1000)"),
        ([("limit", "ten")], "limit: 'ten' is not an integer"),
        ([("offset", "-1")], "offset: -1 is out of range (at least 0)"),
        ([("sort", "title")], "unknown parameter 'sort'"),
        ([("access_level", "secret")], "access_level: unknown value 'secret'; use one of internal, open"),
        ([("format", "PDF")], "format: unknown value 'PDF'; use one of GEOJSON, HTML, JSON, MVT"),
        ([("q", "a"), ("q", "b")], "q: given more than once"),
    ],
)
def test_bad_parameters_are_named(params: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        CatalogQuery.parse(params)
    assert raised.value.message.startswith(message)


# --- members and coverage ---------------------------------------------------------------------------


def test_temporal_and_spatial_coverage_come_from_the_members(store: Engine) -> None:
    service = _service(store)
    air = service.dataset(Caller.seeing(EVERYTHING), "luftqualitaet")[1]
    # The first phenomenon time of any Datastream, the last end (an interval's end counts).
    assert (air.start, air.end) == (at(2014, 9, 1, 1), at(2014, 12, 2))
    assert air.bbox == (12.2977, 51.318, 12.3785, 51.3443)  # both stations
    assert air.has_sensorthings and air.datastream_count == 3 and not air.collections
    assert [ds.name for ds in air.datastreams] == [
        "NO2 at Leipzig-Mitte",
        "PM10 at Leipzig-Mitte",
        "NO2 at Leipzig-West",
    ]
    districts = service.dataset(Caller.seeing(EVERYTHING), "ortsteile")[1]
    assert (districts.start, districts.end) == (at(2000, 1, 1), at(2024, 12, 31))  # feature validity
    assert districts.bbox == (12.2366, 51.2381, 12.5425, 51.4481)  # the collection's extent
    assert districts.formats == ("GEOJSON", "HTML", "MVT") and not districts.has_sensorthings
    chargers = service.dataset(Caller.seeing(EVERYTHING), "ladesaeulen")[1]
    assert chargers.bbox == (12.3, 51.25, 12.45, 51.4)  # the collection's extent and the charger
    assert chargers.formats == ("GEOJSON", "HTML", "MVT", "JSON")
    empty = service.dataset(Caller.seeing(EVERYTHING), "verkehr")[1]
    assert (empty.start, empty.end, empty.bbox, empty.formats) == (None, None, None, ())


def test_a_feature_still_valid_leaves_the_period_open_and_a_new_version_is_read(store: Engine) -> None:
    with store.begin() as connection:
        add_dataset(connection, "baeume", "Street trees")
        add_collection(
            connection, "baeume", "baeume", "Trees", validity=[(at(2010), at(2015)), (at(2012), None)]
        )
    service = _service(store)
    trees = service.dataset(Caller.seeing(EVERYTHING), "baeume")[1]
    assert (trees.start, trees.end) == (at(2010), None)
    # A write to the features bumps the collection's version; the catalogue reads the change.
    with store.begin() as connection:
        connection.execute(
            update(features).where(features.c.collection_id == "baeume").values(valid_to=at(2020))
        )
        connection.execute(update(collections).where(collections.c.id == "baeume").values(version=2))
    trees = service.dataset(Caller.seeing(EVERYTHING), "baeume")[1]
    assert (trees.start, trees.end) == (at(2010), at(2020))


def test_datastreams_are_listed_up_to_the_limit(store: Engine) -> None:
    with store.begin() as connection:
        add_dataset(connection, "dense", "Dense sensor network")
        add_sensorthings(
            connection,
            "dense",
            "Grid",
            (12.0, 51.0),
            {f"s{n}": [] for n in range(MAX_LISTED_DATASTREAMS + 5)},
        )
    dense = _service(store).dataset(Caller.seeing(EVERYTHING), "dense")[1]
    assert dense.datastream_count == MAX_LISTED_DATASTREAMS + 5
    assert len(dense.datastreams) == MAX_LISTED_DATASTREAMS
    assert (dense.start, dense.end) == (None, None)  # Datastreams without Observations
    assert dense.bbox == (12.0, 51.0, 12.0, 51.0)
