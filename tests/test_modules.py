"""The module registry: the app and the `urbantwin` command are composed from `MODULES`, and a module
registered in one line (here a tiny one of the test's own) shows up in the routes, the OpenAPI
document, the conformance listings, the viewer's configuration, the lifespan and the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from urbantwin.app import create_app
from urbantwin.cli import build_cli
from urbantwin.live.mqtt import CONFORMANCE_CREATE, CONFORMANCE_RECEIVE
from urbantwin.module import Conformance, Context, Module, Mounted
from urbantwin.modules import MODULES, checked, conformance, viewer_panels
from urbantwin.ogcapi.service import CONFORMANCE as FEATURES_CONFORMANCE
from urbantwin.sensorthings.service import CONFORMANCE as SENSORTHINGS_CONFORMANCE
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings

#: A path each module with routes serves (what the app must have mounted).
SERVED = {
    "sensorthings": "/v1.1/Things",
    "live": "/api/live/observations",
    "ogcapi": "/ogcapi/conformance",
    "catalog": "/catalog",
    "timeseries": "/api/timeseries/latest",
    "access": "/api/me",
    "energy": "/api/energy/runs",
    "transit": "/api/transit/feeds",
    "airquality": "/api/air/stations",
    "infrastructure": "/api/infrastructure/sites",
    "operations": "/ready",
    "districts": "/api/districts",
    "indicators": "/api/indicators",
    "federation": "/api/remotes",
    "portfolio": "/api/portfolio/projects",
    "participation": "/api/participation/ideas",
    "campus": "/api/campus/events",
}

FAKE_CLASS = "http://example.org/spec/fake/1.0/conf/core"
FAKE_EXTENSION = "http://example.org/spec/fake/1.0/conf/extension"


class FakeLife:
    """What the fake module's lifespan hooks did, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []


def fake_module(life: FakeLife) -> Module:
    """A module with one route, one conformance class per listing (one of them only when MQTT is
    on), a panel, a command and lifespan hooks: the whole recipe of docs/architecture.md."""

    def mount(context: Context) -> Mounted:
        router = APIRouter(prefix="/api/fake", tags=["Fake"])

        @router.get("/hello", summary="Say hello")
        async def hello() -> dict[str, str]:
            return {"hello": context.settings.default_dataset}

        return Mounted(
            routers=[router],
            start=lambda: life.events.append("start"),
            stop=lambda: life.events.append("stop"),
            state={"fake": life},
        )

    def commands(cli: typer.Typer) -> None:
        @cli.command("fake-hello")
        def fake_hello() -> None:
            """Say hello."""
            typer.echo("hello from the fake module")

    return Module(
        name="fake",
        summary="A module of the test's own",
        mount=mount,
        conformance=(
            Conformance(FAKE_CLASS, "ogcapi"),
            Conformance(FAKE_EXTENSION, "sensorthings", lambda settings: bool(settings.mqtt_url)),
        ),
        cli=commands,
        viewer_panels=("fake",),
    )


@pytest.fixture
def backend() -> str:
    """The registry composes the app the same way on either store: one backend is enough here."""
    return "sqlite"


@pytest.fixture
def life() -> FakeLife:
    return FakeLife()


@pytest.fixture
def with_fake(settings: Settings, engine: Engine, life: FakeLife) -> FastAPI:
    return create_app(settings.with_overrides(mqtt_url=""), engine, [*MODULES, fake_module(life)])


@pytest.fixture
def fake_client(with_fake: FastAPI) -> Iterator[TestClient]:
    with TestClient(with_fake) as client:
        yield client


def test_the_app_mounts_every_registered_module(client: TestClient) -> None:
    assert set(SERVED) == {module.name for module in MODULES if module.mount is not None}
    paths = client.get("/openapi.json").json()["paths"]
    for name, path in SERVED.items():
        assert path in paths, f"the {name} module's {path} is not mounted"


def test_every_module_s_routes_are_built_once_and_shared_by_every_app(
    settings: Settings, engine: Engine, app: FastAPI
) -> None:
    """FastAPI analyses each route's signature as it is added, which made much of an app's start: a
    module's routes close over nothing of one app and find its services through the request. (The
    viewer's three routes and the docs' two at the root are made per app, from its settings.)"""
    other = create_app(settings, engine)

    def parts(of: FastAPI) -> list[tuple[str, object]]:
        """Each included router of a module's API (FastAPI keeps it as such), by its path prefix."""
        routers = (getattr(route, "original_router", None) for route in of.router.routes)
        return [(router.prefix, router) for router in routers if router is not None and router.prefix]

    ours, theirs = parts(app), parts(other)
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    assert any(isinstance(part, APIRouter) for _, part in ours)
    rebuilt = [name for (name, mine), (_, its) in zip(ours, theirs, strict=True) if mine is not its]
    assert rebuilt == []


def test_the_service_root_lists_the_registered_sensorthings_classes(client: TestClient) -> None:
    listed = client.get("/v1.1/").json()["serverSettings"]["conformance"]
    assert listed == SENSORTHINGS_CONFORMANCE  # the test settings have no broker: no MQTT classes
    assert conformance("sensorthings", Settings()) == SENSORTHINGS_CONFORMANCE


def test_the_mqtt_classes_are_listed_only_when_mqtt_is_on() -> None:
    off = Settings(mqtt_url="", allow_anonymous_writes=True)
    receive_only = Settings(mqtt_url="mqtt://127.0.0.1:1883", mqtt_write_token="")
    both = Settings(mqtt_url="mqtt://127.0.0.1:1883", mqtt_write_token="secret")
    assert conformance("sensorthings", off) == SENSORTHINGS_CONFORMANCE
    assert conformance("sensorthings", receive_only) == [*SENSORTHINGS_CONFORMANCE, CONFORMANCE_RECEIVE]
    assert conformance("sensorthings", both) == [
        *SENSORTHINGS_CONFORMANCE,
        CONFORMANCE_RECEIVE,
        CONFORMANCE_CREATE,
    ]


def test_the_live_machinery_leaves_the_service_root_s_classes_alone(
    settings: Settings, engine: Engine
) -> None:
    """The live machinery used to append the MQTT classes to the service it was given, so each one
    built on a service (an app's lifespan run twice, a second app) listed them once more; the
    classes are now handed to the service at its birth, from the live module's declaration."""
    from urbantwin.access.authenticate import Authenticator
    from urbantwin.live import Live

    with_mqtt = settings.with_overrides(mqtt_url="mqtt://127.0.0.1:1883", mqtt_write_token="secret")
    listed = conformance("sensorthings", with_mqtt)
    service = SensorThingsService(engine, with_mqtt, conformance=listed)
    for _ in range(2):
        Live(with_mqtt, engine, service, service.access, Authenticator(with_mqtt, engine))
    assert service.service_root("/v1.1")["serverSettings"]["conformance"] == listed
    assert listed.count(CONFORMANCE_RECEIVE) == 1 and listed.count(CONFORMANCE_CREATE) == 1
    assert SensorThingsService(engine, settings).conformance == SENSORTHINGS_CONFORMANCE


def test_the_ogc_api_lists_the_registered_features_classes(client: TestClient) -> None:
    assert client.get("/ogcapi/conformance").json()["conformsTo"] == FEATURES_CONFORMANCE


def test_the_viewer_is_told_the_panels_of_the_registered_modules(
    client: TestClient, settings: Settings, engine: Engine
) -> None:
    assert client.get("/api/viewer/config").json()["panels"] == viewer_panels(MODULES)
    assert "energy" in viewer_panels(MODULES)
    without_energy = [module for module in MODULES if module.name != "energy"]
    with TestClient(create_app(settings, engine, without_energy)) as other:
        config = other.get("/api/viewer/config").json()
    assert "energy" not in config["panels"]
    assert config["energyUrl"] is None


def test_the_energy_runs_are_given_to_the_app_by_the_declaration(app: FastAPI) -> None:
    from urbantwin.energy.jobs import EnergyRuns

    assert isinstance(app.state.energy.runs, EnergyRuns)
    assert app.state.live is not None


def test_a_registered_module_has_its_route_and_openapi_entry(fake_client: TestClient) -> None:
    assert fake_client.get("/api/fake/hello").json() == {"hello": "sensorthings"}
    operation = fake_client.get("/openapi.json").json()["paths"]["/api/fake/hello"]["get"]
    assert operation["summary"] == "Say hello"


def test_a_registered_module_has_its_conformance_classes_listed(fake_client: TestClient) -> None:
    assert fake_client.get("/ogcapi/conformance").json()["conformsTo"] == [*FEATURES_CONFORMANCE, FAKE_CLASS]
    root = fake_client.get("/v1.1/").json()["serverSettings"]["conformance"]
    assert FAKE_EXTENSION not in root  # it applies only when MQTT is on, which it is not here


def test_a_registered_module_has_its_panel_and_lifespan(with_fake: FastAPI, life: FakeLife) -> None:
    assert with_fake.state.fake is life
    with TestClient(with_fake) as client:
        assert life.events == ["start"]
        assert client.get("/api/viewer/config").json()["panels"][-1] == "fake"
    assert life.events == ["start", "stop"]


def test_a_registered_module_has_its_commands(life: FakeLife) -> None:
    cli = build_cli([*MODULES, fake_module(life)])
    runner = CliRunner()
    assert runner.invoke(cli, ["fake-hello"]).output == "hello from the fake module\n"
    assert runner.invoke(build_cli(), ["fake-hello"]).exit_code != 0  # the registry's CLI has none


def test_the_cli_has_every_module_command() -> None:
    cli = typer.main.get_command(build_cli())
    expected = {"serve", "demo", "db", "import", "replay", "energy", "org", "user", "group", "token"}
    assert expected | {"dataset", "audit"} <= set(cli.commands)  # type: ignore[attr-defined]


def test_two_modules_of_one_name_or_a_setting_claimed_twice_are_refused(life: FakeLife) -> None:
    with pytest.raises(ValueError, match="registered twice: fake"):
        checked([fake_module(life), fake_module(life)])
    claims = Module(name="claims", summary="", settings=("mqtt_url",))
    with pytest.raises(ValueError, match="mqtt_url is declared by live and claims"):
        checked([*MODULES, claims])
    with pytest.raises(ValueError, match="not a setting"):
        checked([Module(name="typo", summary="", settings=("mqtt_ulr",))])


def test_every_declared_setting_and_panel_is_known() -> None:
    checked(MODULES)
    panels = viewer_panels(MODULES)
    assert len(panels) == len(set(panels))
