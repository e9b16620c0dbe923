"""A dataArray's rows are checked value by value as a single Observation's properties are: each row
is stored with the times and result it names, or answered "error" in its place, whatever the mix
of rows in its block (the columns are read at once, see `timecolumns`)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sensorthings.test_timecolumns import iso_texts
from urbantwin.errors import BadRequest
from urbantwin.sensorthings.values import entity_id, parse_time, parse_time_or_interval
from urbantwin.times import format_instant

times = st.one_of(
    iso_texts(),
    st.builds(lambda a, b: f"{a}/{b}", iso_texts(), iso_texts()),
    st.sampled_from(["2024-05-01T00:00:00Z", "2024-05-01T00:00:00.25+02:00", "2024-05-01"]),
    st.none(),
    st.integers(-5, 5),
)
results = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _expected(row: list[Any], feature: int) -> tuple[str, str | None] | None:
    """The phenomenonTime and resultTime a row is stored with, as the API writes them; None when
    the per-value checks refuse the row."""
    phenomenon, _result, result_time, feature_id = row
    try:
        start, end = parse_time_or_interval(phenomenon, "phenomenonTime")
        stored = None if result_time is None else format_instant(parse_time(result_time, "resultTime"))
        if entity_id(feature_id, "FeatureOfInterest/id") != feature:
            return None
    except BadRequest:
        return None
    text = format_instant(start) + ("" if end is None else "/" + format_instant(end))
    return text, stored


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_each_row_is_stored_as_named_or_answered_error(client: TestClient, graph: Any, data: Any) -> None:
    datastream = graph["mitte"]["datastream"]
    feature = client.get(f"/v1.1/Datastreams({datastream})/Observations?$top=1&$expand=FeatureOfInterest")
    feature_id = feature.json()["value"][0]["FeatureOfInterest"]["@iot.id"]
    features = st.sampled_from([feature_id, feature_id, str(feature_id), 987654321, -1, 2**63, True, None])
    rows = data.draw(st.lists(st.tuples(times, results, st.one_of(st.none(), times), features), max_size=12))
    rows = [list(row) for row in rows]
    body = [
        {
            "Datastream": {"@iot.id": datastream},
            "components": ["phenomenonTime", "result", "resultTime", "FeatureOfInterest/id"],
            "dataArray": rows,
        }
    ]
    response = client.post("/v1.1/CreateObservations", json=body)
    assert response.status_code == 201, response.text
    links = response.json()
    assert len(links) == len(rows)
    for row, link in zip(rows, links, strict=True):
        expected = _expected(row, feature_id)
        assert (link == "error") is (expected is None), row
        if expected is None:
            continue
        stored = client.get(link.replace("http://testserver", "")).json()
        assert (stored["phenomenonTime"], stored["resultTime"]) == expected, row
        assert stored["result"] == row[1], row


def test_consecutive_blocks_of_the_same_components_keep_their_datastreams_and_order(
    client: TestClient, graph: Any
) -> None:
    """Blocks checked together (as the MQTT ingest sends them, one per Datastream) still answer
    in the order of their rows, each Observation in its own block's Datastream with the feature of
    that Datastream's Thing."""
    mitte, west = graph["mitte"]["datastream"], graph["west"]["datastream"]
    body = [
        {"Datastream": {"@iot.id": ds}, "components": ["result", "phenomenonTime"], "dataArray": rows}
        for ds, rows in [
            (mitte, [[1.0, "2024-06-01T00:00:00Z"], [2.0, "never"]]),
            (west, [[3.0, "2024-06-01T00:00:00Z"]]),
            (mitte, [[4.0, "2024-06-01T01:00:00Z/2024-06-01T02:00:00Z"]]),
        ]
    ]
    links = client.post("/v1.1/CreateObservations", json=body).json()
    assert links[1] == "error" and len(links) == 4
    stored = [
        client.get(link.replace("http://testserver", "") + "?$expand=Datastream,FeatureOfInterest").json()
        for link in (links[0], links[2], links[3])
    ]
    assert [o["result"] for o in stored] == [1.0, 3.0, 4.0]
    assert [o["Datastream"]["@iot.id"] for o in stored] == [mitte, west, mitte]
    assert stored[2]["phenomenonTime"] == "2024-06-01T01:00:00Z/2024-06-01T02:00:00Z"
    features = {o["Datastream"]["@iot.id"]: o["FeatureOfInterest"]["@iot.id"] for o in stored}
    for datastream, feature in features.items():
        earlier = client.get(f"/v1.1/Datastreams({datastream})/Observations?$orderby=id&$top=1")
        first = earlier.json()["value"][0]["@iot.selfLink"].replace("http://testserver", "")
        assert client.get(first + "/FeatureOfInterest").json()["@iot.id"] == feature
