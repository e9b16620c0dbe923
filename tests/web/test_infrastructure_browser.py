"""The digital-infrastructure view in a real browser: a small store served on a free port, and the
Playwright tests of `web/tests/infrastructure.test.mjs` run against it (the harness:
tests/web/browser.py).

The store holds three registries: the hand-made quarter of the planning tests (one WLAN site of
"Testnetz", three poles as candidates, two homes and an office, 60 residents), the documented
Freifunk `meshviewer.json` of the Freifunk tests loaded by the command (two located nodes, one with
3 clients), and a LoRaWAN gateway (the ChirpStack example's) that heard one documented uplink,
posted through the webhook once the server runs. A siting scenario (K = 1 among the poles) is
computed and stored through the API.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.infrastructure.test_lorawan import CHIRPSTACK_UP, GATEWAY_SITE
from tests.infrastructure.test_planning import load_quarter
from tests.web.browser import CLI, Served, need_browser, run_browser_tests, serve
from urbantwin.infrastructure.sites import import_sites, read_site_mapping
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

DATA = Path(__file__).resolve().parents[1] / "infrastructure" / "data"
TOKEN = "infrastructure-browser-test-token"
WEBHOOK = "infrastructure-browser-webhook"


def _gateway_registry(engine: object, folder: Path) -> None:
    sites = folder / "gateways.geojson"
    sites.write_text(json.dumps({"type": "FeatureCollection", "features": [GATEWAY_SITE]}), encoding="utf-8")
    mapping = folder / "gateways.toml"
    mapping.write_text(
        '[registry]\ncollection = "gw-test"\noperator = "Stadtwerke (test)"\n'
        '[site]\nid = "eui"\ncarrier = "carrier"\n[defaults]\ntechnology = "lorawan_gateway"\n',
        encoding="utf-8",
    )
    import_sites(engine, sites, read_site_mapping(mapping))  # type: ignore[arg-type]


def _uplink_heard(api: httpx.Client) -> None:
    """A Thing with a temperature Datastream, the ChirpStack example device mapped to it, and the
    example uplink posted through the webhook."""
    thing = {
        "name": "LoRaWAN sensor",
        "description": "the ChirpStack example device",
        "Datastreams": [
            {
                "name": "temperature",
                "description": "temperature",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
                "Sensor": {"name": "s", "description": "s", "encodingType": "text/html", "metadata": "x"},
                "ObservedProperty": {"name": "t", "definition": "http://example.org/t", "description": "t"},
            }
        ],
        "Locations": [
            {
                "name": "mast",
                "description": "where the sensor hangs",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [10.0005, 50.0005]},
            }
        ],
    }
    created = api.post("v1.1/Things", json=thing)
    created.raise_for_status()
    link = created.headers["location"].split("/v1.1/")[1]
    (stream,) = api.get(f"v1.1/{link}/Datastreams").json()["value"]
    fields = {"fields": {"temperature": stream["@iot.id"]}}
    api.put("api/infrastructure/lorawan/devices/0101010101010101", json=fields).raise_for_status()
    heard = api.post(
        "api/infrastructure/lorawan/uplinks/chirpstack",
        params={"event": "up"},
        json=CHIRPSTACK_UP,
        headers={"Authorization": f"Bearer {WEBHOOK}"},
    )
    assert heard.json()["stored"] is True, heard.text


@pytest.fixture(scope="module")
def infrastructure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`urbantwin serve` of the store, until the module's tests are done."""
    need_browser()
    folder = tmp_path_factory.mktemp("infrastructure")
    settings = Settings(database_url=f"sqlite:///{folder / 'infrastructure.sqlite'}")
    engine = make_engine(settings)
    upgrade(engine)
    load_quarter(engine)
    _gateway_registry(engine, folder)
    engine.dispose()
    environment = {"URBANTWIN_ADMIN_TOKEN": TOKEN, "URBANTWIN_LORAWAN_WEBHOOK_TOKEN": WEBHOOK}
    subprocess.run(
        [*CLI, "infrastructure", "freifunk", str(DATA / "meshviewer.json"), "--registry", "freifunk-test"]
        + ["--operator", "Freifunk Test", "--database-url", settings.database_url],
        env={**os.environ, "URBANTWIN_LOG_LEVEL": "warning", **environment},
        check=True,
        capture_output=True,
        timeout=120,
    )
    with serve(folder, "--database-url", settings.database_url, env=environment) as served:
        with httpx.Client(
            base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as api:
            _uplink_heard(api)
            siting = {"candidates": "poles", "k": 1, "technology": "wlan", "resolution": 2}
            stored = api.post("api/infrastructure/siting", json=siting | {"title": "One more hotspot"})
            assert stored.status_code == 200, stored.text
        yield served


@pytest.mark.long  # a store prepared and served, and the browser's tests
def test_the_infrastructure_view_in_chromium(infrastructure_server: Served) -> None:
    run_browser_tests("infrastructure.test.mjs", infrastructure_server)
