"""The files of deploy/: every command they run is one the CLI accepts, every setting they set exists,
and systemd reads the units without a complaint."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from urbantwin.cli import app
from urbantwin.settings import Settings, load_settings

DEPLOY = Path(__file__).parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED = "/opt/urbantwin/venv/bin/urbantwin"


def parse_command(argv: list[str]) -> Any:
    """The click context `urbantwin <argv>` makes: raises if a command or an option does not exist."""
    command: Any = typer.main.get_command(app)
    context = command.make_context("urbantwin", list(argv))
    while hasattr(command, "resolve_command"):  # a group: go down to the command named
        remaining = [*getattr(context, "_protected_args", []), *context.args]
        if not remaining:
            break
        name, command, rest = command.resolve_command(context, remaining)
        context = command.make_context(name, rest, parent=context)
    return context


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_there_is_a_unit_for_the_server_and_one_for_the_scenario_worker() -> None:
    assert [path.name for path in UNITS] == ["urbantwin-worker.service", "urbantwin.service"]


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_each_unit_starts_a_command_the_cli_accepts(path: Path) -> None:
    binary, *argv = shlex.split(unit(path)["Service"]["ExecStart"])
    assert binary == INSTALLED
    context = parse_command(argv)
    assert context.command.name in ("serve", "worker")
    if context.command.name == "serve":
        assert context.params["workers"] > 1 and context.params["host"] == "127.0.0.1"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_systemd_reads_each_unit_without_a_complaint(path: Path, tmp_path: Path) -> None:
    # The unit as installed, with this environment's urbantwin where the deployment's would be.
    copy = tmp_path / path.name
    copy.write_text(path.read_text().replace(INSTALLED, str(Path(sys.executable).with_name("urbantwin"))))
    answer = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 0 and answer.stderr == "" and answer.stdout == "", answer.stderr


def _environment_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_environment_file_sets_real_settings_as_a_deployment_needs_them() -> None:
    environment = _environment_file(DEPLOY / "urbantwin.env")
    settings = load_settings(environ=environment)
    assert settings.scenario_worker == "separate" and settings.trusted_proxies == ("127.0.0.1",)
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.public_base_url.startswith("https://")


def test_every_urbantwin_variable_named_in_deploy_is_a_setting() -> None:
    known = {f"URBANTWIN_{name.upper()}" for name in Settings.__dataclass_fields__} | {"URBANTWIN_CONFIG"}
    named: set[str] = set()
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            named |= set(re.findall(r"\bURBANTWIN_[A-Z_]+[A-Z]\b", path.read_text()))
    assert named and named <= known, named - known


def test_the_compose_file_runs_the_api_and_the_worker_on_postgis_and_mosquitto() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "broker", "api", "worker"}
    assert services["db"]["image"].startswith("postgis/postgis:15")
    assert parse_command(services["api"]["command"][1:]).command.name == "serve"
    assert parse_command(services["worker"]["command"][1:]).command.name == "worker"
    for name in ("api", "worker"):
        environment = services[name]["environment"]
        assert environment["URBANTWIN_SCENARIO_WORKER"] == "separate"
        assert environment["URBANTWIN_DATABASE_URL"].startswith("postgresql+psycopg://urbantwin:")
    # Nothing is published beyond this host.
    ports = [port for service in services.values() for port in service.get("ports", [])]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports)


def test_the_containerfile_builds_the_viewer_into_the_wheel() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    assert "npm run build" in text and "pip wheel" in text
    command = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert command is not None
    assert parse_command(yaml.safe_load(command.group(1))[1:]).command.name == "serve"
