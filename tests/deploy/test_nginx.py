"""deploy/nginx/urbantwin.conf as shipped, with the real nginx in front of a served app: TLS, links
that show the public address, compression, tiles kept only when they are open data, event streams
unbuffered, MQTT over WebSocket passed through."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import brotli
import httpx
import pytest
import shapely
from sqlalchemy import Engine

from tests.conftest import ADMIN_TOKEN
from tests.deploy.conftest import HOST, Broker, Proxy
from tests.deploy.test_mosquitto import WAIT, Client
from tests.live.helpers import EventStream, sensor_world
from urbantwin.ingest.pipeline import CollectionInfo, Row, store_rows
from urbantwin.settings import Settings

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TILE = "/ogcapi/collections/places/tiles/WebMercatorQuad/0/0/0"


@pytest.fixture
def backend() -> str:
    """One store is enough: what is tested here is nginx's part."""
    return "sqlite"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The server believes the proxy on this host, as deploy/urbantwin.env says."""
    return settings.with_overrides(trusted_proxies=("127.0.0.1",), live_keepalive_seconds=1)


@pytest.fixture
def https(proxy: Proxy) -> Iterator[httpx.Client]:
    """A client of the public address (nginx with the test's certificate)."""
    with httpx.Client(
        base_url=proxy.base, verify=proxy.trust(), headers={"Host": f"{HOST}:{proxy.https}"},
        timeout=30,
    ) as client:  # fmt: skip
        yield client


def places(engine: Engine) -> None:
    point = shapely.Point(12.37, 51.34)
    row = Row("1", {"name": "a place"}, shapely.to_wkb(point), point.bounds, None, None, None)  # type: ignore[arg-type]
    store_rows(engine, [row], CollectionInfo("places", "Places"), "OGC:CRS84", progress=False)


def test_plain_http_is_sent_to_https(proxy: Proxy) -> None:
    answer = httpx.get(f"http://127.0.0.1:{proxy.http}/v1.1/Things?$top=1", headers={"Host": HOST})
    assert answer.status_code == 301
    assert answer.headers["location"] == f"https://{HOST}/v1.1/Things?$top=1"


def test_links_show_the_public_address_and_answers_are_compressed(https: httpx.Client, proxy: Proxy) -> None:
    public = f"https://{HOST}:{proxy.https}"
    plain = https.get("/v1.1", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    urls = {entity["name"]: entity["url"] for entity in plain.json()["value"]}
    assert urls["Datastreams"] == f"{public}/v1.1/Datastreams"
    assert plain.headers["strict-transport-security"] == "max-age=31536000"
    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        with https.stream("GET", "/v1.1", headers={"Accept-Encoding": encoding}) as answer:
            assert answer.headers["content-encoding"] == encoding
            assert decode(b"".join(answer.iter_raw())) == plain.content


def test_open_tiles_are_kept_a_minute_and_tiles_asked_with_credentials_never(
    https: httpx.Client, engine: Engine
) -> None:
    places(engine)
    first, second = https.get(TILE), https.get(TILE)
    assert first.status_code == second.status_code == 200
    assert [first.headers["x-cache-status"], second.headers["x-cache-status"]] == ["MISS", "HIT"]
    assert second.headers["cache-control"] == "public, max-age=60"
    assert second.content == first.content
    with_token = https.get(TILE, headers=ADMIN)
    assert with_token.status_code == 200 and with_token.headers["x-cache-status"] == "BYPASS"
    assert with_token.headers["cache-control"] == "private, no-store"
    assert https.get(TILE, headers=ADMIN).headers["x-cache-status"] == "BYPASS"  # nor stored for later
    # A client that has just written brings back its write's position (docs/scaling.md): it gets the
    # tile fresh from the server, so it sees its change at once.
    after_write = https.get(TILE, headers={"Cookie": "urbantwin_read_after=0/3000148"})
    assert after_write.headers["x-cache-status"] == "BYPASS"
    assert (
        https.get(TILE, headers={"Urbantwin-Read-After": "0/3000148"}).headers["x-cache-status"] == "BYPASS"
    )


def test_the_viewers_assets_are_kept_as_the_server_marks_them(https: httpx.Client) -> None:
    path = "/assets/viewer-1a2b.js"  # the tests' stand-in viewer (tests/conftest.py)
    first, second = https.get(path), https.get(path)
    assert [first.headers["x-cache-status"], second.headers["x-cache-status"]] == ["MISS", "HIT"]
    assert "immutable" in second.headers["cache-control"]


def test_events_stream_through_without_buffering(https: httpx.Client, proxy: Proxy) -> None:
    https.headers.update(ADMIN)
    station = sensor_world(https, "through-nginx")
    stream = EventStream(
        f"{proxy.base}/api/live/observations?datastream={station['datastream']}",
        headers={"Host": f"{HOST}:{proxy.https}"},
        verify=proxy.trust(),
    )
    try:
        posted = https.post(f"/v1.1/Datastreams({station['datastream']})/Observations", json={"result": 7.5})
        assert posted.status_code == 201, posted.text
        event = stream.get()  # one small event: with buffering it would wait for more
        assert event["data"]["result"] == 7.5
        assert event["data"]["@iot.selfLink"].startswith(f"https://{HOST}:{proxy.https}/v1.1/Observations(")
    finally:
        stream.close()


def test_mqtt_over_websocket_passes_through_and_stays_read_only(proxy: Proxy, broker: Broker) -> None:
    reader = Client(proxy.https, websocket=True, tls=proxy.certificate, path="/mqtt")
    platform = Client(broker.platform)
    try:
        assert reader.accepted
        reader.subscribe("v1.1/#")
        platform.publish("v1.1/Datastreams(3)/Observations", b'{"result": 1}')
        assert reader.messages.get(timeout=WAIT) == ("v1.1/Datastreams(3)/Observations", b'{"result": 1}')
    finally:
        reader.close()
        platform.close()


def test_a_body_above_the_platforms_limit_is_refused_by_nginx_already(https: httpx.Client) -> None:
    answer = https.post("/v1.1/Things", content=b" " * (64 * 1024 * 1024 + 1), headers=ADMIN)
    assert answer.status_code == 413
