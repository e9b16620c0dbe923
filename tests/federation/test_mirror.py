"""Mirroring a partner's Datastreams: the partner is a real server on loopback, the local twin a
second store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import ADMIN_TOKEN
from tests.federation.conftest import Local, add_observations, partner_station
from urbantwin.access.gate import Caller
from urbantwin.access.principal import ANONYMOUS
from urbantwin.app import create_app
from urbantwin.errors import Unauthorized
from urbantwin.federation import mirror as mirror_module
from urbantwin.federation.mirror import DatastreamMirror, _later, live_row
from urbantwin.federation.remote_http import RemoteHttp
from urbantwin.store import schema
from urbantwin.store.federation_schema import remote_mirrors


def hours(start: int, count: int, same_time_twice: bool = False) -> list[tuple[str, float]]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        ((base + timedelta(hours=h)).isoformat().replace("+00:00", "Z"), float(h))
        for h in range(start, start + count)
    ]


def register(local: Local, url: str, name: str = "hamburg") -> None:
    local.federation.registry.add(
        Caller.system(),
        name,
        f"{url}/v1.1",
        "sensorthings",
        title="Hamburg sensors",
        attribution="Freie und Hansestadt Hamburg",
        licence="dl-de/by-2-0",
    )


def local_results(local: Local) -> list[tuple[datetime, float]]:
    o = schema.observations
    with local.engine.connect() as connection:
        rows = connection.execute(
            select(o.c.phenomenon_time_start, o.c.result_number).order_by(o.c.phenomenon_time_start)
        ).all()
    return [(t, v) for t, v in rows]


def test_a_mirror_copies_the_partners_observations_once_and_then_only_what_is_new(
    client: TestClient, live_server: str, local: Local
) -> None:
    datastream = partner_station(client, "Elbufer", hours(0, 25))
    register(local, live_server)

    report = local.federation.mirror(Caller.system(), "hamburg", ids=[str(datastream["@iot.id"])], page=10)
    assert report.errors == []
    assert (report.created, report.observations, report.pages) == (1, 25, 3)
    assert [v for _, v in local_results(local)] == [float(h) for h in range(25)]

    again = local.federation.mirror(Caller.system(), "hamburg", page=10)
    assert (again.errors, again.observations, again.created) == ([], 0, 0)

    add_observations(client, datastream["@iot.id"], hours(25, 5))
    newer = local.federation.mirror(Caller.system(), "hamburg", page=10)
    assert newer.observations == 5
    assert len(local_results(local)) == 30
    remote = local.federation.registry.get(Caller.system(), "hamburg")
    assert (remote.health, remote.last_error) == ("ok", None)
    assert remote.last_sync is not None


def test_the_mirrored_datastream_links_back_and_carries_the_partners_licence(
    client: TestClient, live_server: str, local: Local
) -> None:
    datastream = partner_station(client, "Elbufer", hours(0, 2))
    register(local, live_server)
    local.federation.mirror(Caller.system(), "hamburg", ids=[str(datastream["@iot.id"])])
    d = schema.datastreams
    with local.engine.connect() as connection:
        properties, dataset = connection.execute(select(d.c.properties, d.c.dataset_id)).one()
        cursor = connection.execute(select(remote_mirrors.c.cursor_id, remote_mirrors.c.observations)).one()
    assert properties["remote"] == {
        "remote": "hamburg",
        "selfLink": f"{live_server}/v1.1/Datastreams({datastream['@iot.id']})",
        "attribution": "Freie und Hansestadt Hamburg",
        "licence": "dl-de/by-2-0",
    }
    assert dataset == "remote-hamburg"
    assert cursor[1] == 2


def test_observations_sharing_a_time_are_all_mirrored(
    client: TestClient, live_server: str, local: Local
) -> None:
    datastream = partner_station(client, "Elbufer", [])
    same = "2026-01-01T00:00:00Z"
    add_observations(client, datastream["@iot.id"], [(same, 1.0), (same, 2.0), (same, 3.0)])
    register(local, live_server)
    report = local.federation.mirror(Caller.system(), "hamburg", ids=[str(datastream["@iot.id"])], page=2)
    assert report.observations == 3
    assert sorted(v for _, v in local_results(local)) == [1.0, 2.0, 3.0]


def test_a_partner_that_is_down_is_recorded_as_failing(local: Local) -> None:
    register(local, "http://127.0.0.1:9")
    report = local.federation.mirror(Caller.system(), "hamburg", ids=["1"])
    assert report.errors and "127.0.0.1:9" in report.errors[0]
    remote = local.federation.registry.get(Caller.system(), "hamburg")
    assert remote.health == "failing"
    assert remote.last_sync is None
    with local.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(schema.observations)).scalar() == 0


def test_a_mirror_stopped_after_a_page_resumes_where_its_last_commit_left_it(
    client: TestClient, live_server: str, local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_module, "TRANSACTION_ROWS", 10)  # a transaction per page
    datastream = partner_station(client, "Elbufer", hours(0, 25))
    register(local, live_server)

    class Crash(Exception):
        pass

    def crash_after_the_first_page(_rows: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        local.federation.mirror(
            Caller.system(),
            "hamburg",
            ids=[str(datastream["@iot.id"])],
            page=10,
            progress=crash_after_the_first_page,
        )
    assert len(local_results(local)) == 10
    resumed = local.federation.mirror(Caller.system(), "hamburg", page=10)
    assert resumed.observations == 15
    assert [v for _, v in local_results(local)] == [float(h) for h in range(25)]


def test_who_sees_the_mirrored_data_is_the_partners_dataset_rule(
    client: TestClient, live_server: str, local: Local
) -> None:
    datastream = partner_station(client, "Elbufer", hours(0, 3))
    local.federation.registry.add(
        Caller.system(),
        "hamburg",
        f"{live_server}/v1.1",
        "sensorthings",
        attribution="Freie und Hansestadt Hamburg",
        licence="dl-de/by-2-0",
        access_level="internal",
    )
    local.federation.mirror(Caller.system(), "hamburg", ids=[str(datastream["@iot.id"])])
    with TestClient(create_app(local.settings, local.engine)) as anyone:
        assert anyone.get("/v1.1/Datastreams").json()["value"] == []
        assert anyone.get("/v1.1/Observations").json()["value"] == []
        anyone.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        assert len(anyone.get("/v1.1/Observations").json()["value"]) == 3


def test_only_an_administrator_mirrors(local: Local, live_server: str) -> None:
    register(local, live_server)
    with pytest.raises(Unauthorized):
        local.federation.mirror(Caller(ANONYMOUS), "hamburg", ids=["1"])


@given(
    st.tuples(st.integers(0, 3), st.integers(0, 30)),
    st.tuples(st.integers(0, 3), st.integers(0, 30)),
)
def test_the_cursor_orders_by_time_then_by_id_as_a_number(a: tuple[int, int], b: tuple[int, int]) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    left = (base + timedelta(hours=a[0]), str(a[1]))
    right = (base + timedelta(hours=b[0]), str(b[1]))
    assert _later(left, right) == (a > b)


def test_a_thing_without_a_location_gets_the_place_of_its_first_feature_of_interest(
    client: TestClient, live_server: str, local: Local
) -> None:
    thing = client.post("/v1.1/Things", json={"name": "roaming", "description": "no location"}).json()
    datastream = client.post(
        "/v1.1/Datastreams",
        json={
            "name": "roaming temperature",
            "description": "d",
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
            "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
            "Thing": {"@iot.id": thing["@iot.id"]},
            "Sensor": {"name": "s", "description": "d", "encodingType": "text/plain", "metadata": "m"},
            "ObservedProperty": {"name": "t", "description": "d", "definition": "https://example.org/t"},
        },
    ).json()
    where = {"type": "Point", "coordinates": [10.0, 53.6]}
    made = client.post(
        "/v1.1/Observations",
        json={
            "phenomenonTime": "2026-01-01T00:00:00Z",
            "result": 4.5,
            "Datastream": {"@iot.id": datastream["@iot.id"]},
            "FeatureOfInterest": {
                "name": "here",
                "description": "d",
                "encodingType": "application/geo+json",
                "feature": where,
            },
        },
    )
    assert made.status_code == 201, made.text
    register(local, live_server)
    report = local.federation.mirror(Caller.system(), "hamburg", ids=[str(datastream["@iot.id"])])
    assert (report.errors, report.observations) == ([], 1)


def test_a_run_with_a_time_budget_stops_after_the_page_that_spends_it(
    client: TestClient, live_server: str, local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_module, "TRANSACTION_ROWS", 10)  # a transaction per page
    datastream = partner_station(client, "Elbufer", hours(0, 25))
    register(local, live_server)
    first = local.federation.mirror(
        Caller.system(), "hamburg", ids=[str(datastream["@iot.id"])], page=10, budget=0.0
    )
    assert (first.observations, first.more) == (10, True)
    rest = local.federation.mirror(Caller.system(), "hamburg", page=10)
    assert (rest.observations, rest.more) == (15, False)


def test_a_reader_that_breaks_fails_the_run_rather_than_ending_it_quietly(
    client: TestClient, live_server: str, local: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    datastream = partner_station(client, "Elbufer", hours(0, 3))
    register(local, live_server)

    def broken(*_args: object) -> None:
        raise ValueError("a bug in the reader")

    monkeypatch.setattr(mirror_module.DatastreamMirror, "_rows", broken)
    with pytest.raises(ValueError, match="a bug in the reader"):
        local.federation.mirror(Caller.system(), "hamburg", ids=[str(datastream["@iot.id"])])


def test_pages_a_follower_stored_meanwhile_are_not_stored_twice(
    client: TestClient, live_server: str, local: Local
) -> None:
    """A mirror run reads pages after the cursor; meanwhile the live follower stores some of the
    same Observations: the run's transaction reads the cursor under a lock and takes only what
    comes after it."""
    datastream = partner_station(client, "Elbufer", hours(0, 5))
    register(local, live_server)
    assert local.federation.mirror(Caller.system(), "hamburg", ids=[str(datastream["@iot.id"])]).errors == []
    add_observations(client, datastream["@iot.id"], hours(5, 4))
    remote = local.federation.registry.get(Caller.system(), "hamburg")
    mirror = DatastreamMirror(local.engine, local.settings, local.federation.sensorthings, remote, page=2)
    [mirrored] = mirror.mirrors()
    with RemoteHttp(remote.url, 0) as http:
        pages = list(mirror._pages(http, mirrored, False))
    assert [len(page.rows) for page in pages] == [2, 2]

    published = client.get(
        f"/v1.1/Datastreams({datastream['@iot.id']})/Observations",
        params={"$orderby": "phenomenonTime asc", "$skip": 5, "$top": 2},
    ).json()["value"]
    assert mirror.store_live(mirrored, [live_row(mirrored, o, "topic") for o in published]) == 2
    assert mirror.store_live(mirrored, [live_row(mirrored, o, "topic") for o in published]) == 0

    assert mirror._store(pages) == 2
    assert [v for _, v in local_results(local)] == [float(h) for h in range(9)]
