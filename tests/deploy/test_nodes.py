"""Several API nodes as one: two `urbantwin serve` processes (as two hosts would run them) on one
PostgreSQL, behind deploy/nginx/urbantwin.conf with both in its upstream. Every node serves every
request, an event stream through nginx carries each change once whichever node made it, and what a
node caches follows what another node wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import mapbox_vector_tile
import pytest
import shapely

from tests.conftest import ADMIN_TOKEN, spare_database
from tests.deploy.conftest import HOST, Proxy, run_proxy
from tests.live.helpers import EventStream, free_port, kill, sensor_world, serve
from urbantwin.ingest.pipeline import CollectionInfo, Row, store_rows
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TILE = "/ogcapi/collections/places/tiles/WebMercatorQuad/10/{row}/{col}"


@pytest.fixture
def store(postgres_url: str) -> Iterator[str]:
    """A migrated, empty PostgreSQL store with one feature collection."""
    with spare_database(postgres_url) as url:
        engine = make_engine(Settings(database_url=url))
        point = shapely.Point(12.3747, 51.3397)
        row = Row("markt", {"name": "Markt"}, shapely.to_wkb(point), point.bounds, None, None, None)  # type: ignore[arg-type]
        store_rows(engine, [row], CollectionInfo("places", "Places"), "OGC:CRS84", progress=False)
        engine.dispose()
        yield url


@pytest.fixture
def nodes(store: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two server processes on the store: their base URLs."""
    environment = {
        "URBANTWIN_DATABASE_URL": store,
        "URBANTWIN_ADMIN_TOKEN": ADMIN_TOKEN,
        "URBANTWIN_TRUSTED_PROXIES": "127.0.0.1",
        "URBANTWIN_LIVE_KEEPALIVE_SECONDS": "1",
        "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
        "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
        "URBANTWIN_LOG_LEVEL": "warning",
    }
    ports = [free_port(), free_port()]
    processes = []
    try:
        for port in ports:  # one after the other: each migrates the store when it starts
            processes.append(serve(port, environment, tmp_path / f"node-{port}.log"))
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            kill(process)


@pytest.fixture
def proxy(nodes: list[str], certificate: tuple[Path, Path], tmp_path: Path) -> Iterator[Proxy]:
    yield from run_proxy([int(node.rsplit(":", 1)[1]) for node in nodes], free_port(), certificate, tmp_path)


@pytest.fixture
def https(proxy: Proxy) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=proxy.base, verify=proxy.trust(), headers={"Host": f"{HOST}:{proxy.https}", **ADMIN},
        timeout=30,
    ) as client:  # fmt: skip
        yield client


def _requests(node: str) -> float:
    """The requests a node has answered (its `/metrics`: the count of every route's durations)."""
    text = httpx.get(f"{node}/metrics", headers=ADMIN, timeout=30).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("urbantwin_http_request_duration_seconds_count") and "/metrics" not in line
    )


@pytest.mark.long  # two server processes and nginx
def test_every_node_serves_and_streams_carry_each_change_once(
    nodes: list[str], proxy: Proxy, https: httpx.Client
) -> None:
    before = [_requests(node) for node in nodes]
    station = sensor_world(https, "two-nodes")
    datastream = station["datastream"]
    stream = EventStream(
        f"{proxy.base}/api/live/observations?datastream={datastream}",
        headers={"Host": f"{HOST}:{proxy.https}"},
        verify=proxy.trust(),
    )
    try:
        ids = []
        for value in range(8):  # round robin: through both nodes
            answer = https.post(f"/v1.1/Datastreams({datastream})/Observations", json={"result": value})
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["@iot.id"])
        # Each once. Across nodes the order is not kept: a node hands its own changes to its streams
        # at once, and another node's a moment later, through PostgreSQL's notifications.
        assert sorted(int(stream.get()["id"]) for _ in ids) == ids
        assert stream.events.empty()
    finally:
        stream.close()
    after = [_requests(node) for node in nodes]
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)  # both served


def names(tile: httpx.Response) -> list[str]:
    """The names of the features in a vector tile of `places`."""
    assert tile.status_code == 200, tile.text
    return [f["properties"]["name"] for f in mapbox_vector_tile.decode(tile.content)["places"]["features"]]


def _tile_row_col(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n), int((lon + 180) / 360 * n)


@pytest.mark.long  # two server processes
def test_a_nodes_caches_follow_what_another_node_wrote(nodes: list[str]) -> None:
    row, col = _tile_row_col(12.3747, 51.3397, 10)
    tile = TILE.format(row=row, col=col)
    first, second = (httpx.Client(base_url=node, headers=ADMIN, timeout=30) for node in nodes)
    try:
        assert names(second.get(tile)) == ["Markt"]  # now in the second node's tile cache
        feature = first.get("/ogcapi/collections/places/items/markt").json()
        feature["properties"]["name"] = "Marktplatz"
        replaced = first.put("/ogcapi/collections/places/items/markt", json=feature)
        assert replaced.status_code == 204, replaced.text
        assert names(second.get(tile)) == ["Marktplatz"]
        assert (
            second.get("/ogcapi/collections/places/items/markt").json()["properties"]["name"] == "Marktplatz"
        )
    finally:
        first.close()
        second.close()
