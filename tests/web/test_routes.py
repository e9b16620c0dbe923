"""The viewer's HTTP side: `/` and its assets with the caching the build allows, the message page
when the build is missing, and `/api/viewer/config`. A fake build in a temporary folder stands in
for the real one, so these tests need neither Node.js nor a browser."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import VIEWER_PAGE
from urbantwin.app import create_app
from urbantwin.city_profile import parse_profile
from urbantwin.errors import PlatformError
from urbantwin.settings import Settings
from urbantwin.store.city import write_profile
from urbantwin.store.engine import for_writes
from urbantwin.web.routes import ENERGY_PATH, IMMUTABLE, LIVE_PATH, mount_viewer

INDEX = "<!doctype html><title>urbantwin</title><script src='./assets/index-abc123.js'></script>"
SCRIPT = "console.log('viewer');" * 50


def _app(static: Path, settings: Settings | None = None) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(PlatformError)
    async def platform_error(_request: Request, exc: PlatformError) -> JSONResponse:
        return JSONResponse({"code": exc.status, "message": exc.message}, exc.status)  # as create_app does

    mount_viewer(app, settings or Settings(), static)
    return app


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX, encoding="utf-8")
    (tmp_path / "assets" / "index-abc123.js").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(SCRIPT.encode()))
    return tmp_path


def test_the_index_is_revalidated_on_every_load(built: Path) -> None:
    client = TestClient(_app(built))
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.text == INDEX
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-cache"
    again = client.get("/", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304


def test_the_goals_page_is_served_at_goals(built: Path) -> None:
    (built / "goals.html").write_text("<title>goals</title>", encoding="utf-8")
    answer = TestClient(_app(built)).get("/goals")
    assert answer.status_code == 200 and answer.text == "<title>goals</title>"
    assert answer.headers["cache-control"] == "no-cache"
    assert TestClient(_app(built.parent / "nothing")).get("/goals").status_code == 503


def test_hashed_assets_are_cached_for_good_and_sent_gzipped_when_accepted(built: Path) -> None:
    client = TestClient(_app(built))
    packed = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert packed.status_code == 200
    assert packed.headers["cache-control"] == IMMUTABLE
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.text == SCRIPT  # httpx decodes it
    plain = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == SCRIPT
    assert "javascript" in plain.headers["content-type"]


@pytest.mark.parametrize("name", ["missing.js", "../index.html", "..%2Findex.html", "index-abc123.js.gz"])
def test_only_files_of_the_build_are_served(built: Path, name: str) -> None:
    answer = TestClient(_app(built)).get(f"/assets/{name}")
    assert answer.status_code == 404
    assert "message" in answer.json() or "detail" in answer.json()


def test_without_a_build_the_page_says_how_to_make_one(tmp_path: Path) -> None:
    answer = TestClient(_app(tmp_path / "nothing")).get("/")
    assert answer.status_code == 503
    assert "The viewer has not been built" in answer.text
    assert "make demo" in answer.text
    assert answer.headers["cache-control"] == "no-store"


def test_the_config_names_the_style_the_live_stream_and_the_energy_runs(built: Path) -> None:
    plain = TestClient(_app(built)).get("/api/viewer/config").json()
    assert plain["styleUrl"] is None
    assert plain["liveUrl"] is None  # no push stream on this app: the viewer polls
    assert plain["energyUrl"] is None  # no energy API: no energy view

    app = _app(built, Settings(viewer_style_url="https://tiles.example.org/style.json"))

    @app.get(LIVE_PATH)
    async def live() -> dict:  # stands in for the live package's stream
        return {}

    @app.get(ENERGY_PATH)
    async def runs() -> dict:  # stands in for the energy package's runs
        return {"runs": []}

    configured = TestClient(app).get("/api/viewer/config").json()
    assert configured["styleUrl"] == "https://tiles.example.org/style.json"
    assert configured["liveUrl"] == LIVE_PATH.lstrip("/")
    assert configured["energyUrl"] == ENERGY_PATH.lstrip("/")


def test_the_config_says_which_city_the_platform_is_for(
    built: Path, settings: Settings, engine: Engine
) -> None:
    """The city's profile tells the viewer its name, languages, time zone, first view and which
    collections are its districts (and how they name population per year)."""
    assert TestClient(create_app(settings, engine)).get("/api/viewer/config").json()["city"] is None
    profile = parse_profile(
        {
            "name": "Musterstadt",
            "languages": ["de"],
            "time_zone": "Europe/Vienna",
            "extent": [13.0, 51.0, 13.5, 51.2],
            "attribution": "© Stadt Musterstadt",
            "districts": [
                {"collection": "stadtteile", "name_property": "STT", "population_property": "ew_{year}"}
            ],
        }
    )
    with for_writes(engine).begin() as connection:
        write_profile(connection, profile)
    city = TestClient(create_app(settings, engine)).get("/api/viewer/config").json()["city"]
    assert city == {
        "id": "musterstadt",
        "name": "Musterstadt",
        "languages": ["de"],
        "timeZone": "Europe/Vienna",
        "extent": [13.0, 51.0, 13.5, 51.2],
        "attribution": "© Stadt Musterstadt",
        "districts": [
            {
                "collection": "stadtteile",
                "nameProperty": "STT",
                "populationProperty": "ew_{year}",
                "label": {},
            }
        ],
    }


def test_the_platform_serves_the_build_its_settings_name(
    built: Path, settings: Settings, engine: Engine
) -> None:
    """`viewer_dir` points the whole app at another build; the suite's apps serve a tiny one, so `/`
    answers whether or not the real viewer has been built into the package."""
    answer = TestClient(create_app(settings.with_overrides(viewer_dir=str(built)), engine)).get("/")
    assert (answer.status_code, answer.text) == (200, INDEX)


def test_the_suites_apps_answer_at_the_root_without_the_real_build(anonymous: TestClient) -> None:
    answer = anonymous.get("/")
    assert (answer.status_code, answer.text) == (200, VIEWER_PAGE)
    assert anonymous.get("/assets/viewer-1a2b.js").status_code == 200
