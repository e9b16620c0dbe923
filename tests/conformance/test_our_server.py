"""The checker against our own server, served for real on both backends with MQTT on: every class
the server claims in `serverSettings` and `/conformance` that the checker covers passes, a read-only
run changes nothing, and the command writes its reports."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import ADMIN_TOKEN
from urbantwin.cli import app as cli_app
from urbantwin.conformance.core import Options
from urbantwin.conformance.runner import CHECKS, Report, run


def failures(report: Report) -> str:
    lines = [f"{r.check.id}: {r.reason}" for r in report.results if r.verdict == "fail"]
    return "\n".join(report.problems + report.left_behind + lines)


def counts(base: str) -> dict[str, int]:
    return {
        name: httpx.get(f"{base}/v1.1/{name}", params={"$count": "true", "$top": "0"}).json()["@iot.count"]
        for name in ("Things", "Locations", "Datastreams", "Sensors", "ObservedProperties", "Observations")
    }


def test_every_class_our_server_claims_passes(live_server: str, prefix: str) -> None:
    options = Options(write=True, token=ADMIN_TOKEN, mqtt_topic_prefix=prefix)
    before = counts(live_server)
    report = run(live_server, options)
    assert report.sensorthings == f"{live_server}/v1.1"
    assert report.features == f"{live_server}/ogcapi"
    assert report.ok, failures(report)
    covered = {check.cls for check in CHECKS}
    claimed = [uri for uris in report.claimed.values() for uri in uris if uri in covered]
    # MQTT on, creation by MQTT on: the checker covers 11 SensorThings classes and 15 of Features
    assert len(claimed) == 26
    verdicts = {row["class"]: row["verdict"] for row in report.classes()}
    assert {uri: verdicts[uri] for uri in claimed} == dict.fromkeys(claimed, "pass")
    skipped = [(r.check.id, r.reason) for r in report.results if r.verdict == "skip"]
    assert skipped == [("features.core.datetime", "the collection has no temporal extent")]
    # Everything the run made is gone again (the Observations it made over MQTT went with its Thing).
    assert counts(live_server) == before


def test_a_read_only_run_writes_nothing_and_skips_the_write_checks(live_server: str, backend: str) -> None:
    if backend == "postgresql":
        pytest.skip("the reading checks are the same on both backends; the run above covers PostgreSQL")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    from tests.live.helpers import sensor_world

    with httpx.Client(base_url=live_server, headers=headers) as client:
        world = sensor_world(client)
        for minute, value in enumerate((1.5, 2.5, 3.5)):
            made = client.post(
                f"/v1.1/Datastreams({world['datastream']})/Observations",
                json={"result": value, "phenomenonTime": f"2024-01-01T10:0{minute}:00Z"},
            )
            assert made.status_code == 201
    before = counts(live_server)
    report = run(live_server, Options())
    assert report.ok, failures(report)
    assert counts(live_server) == before
    writes = [r for r in report.results if r.check.writes]
    assert writes and {r.verdict for r in writes} == {"skip"}
    assert all("read-only" in r.reason for r in writes)
    reads = [r for r in report.results if not r.check.writes and r.check.id != "features.core.datetime"]
    assert {r.verdict for r in reads} == {"pass"}, [
        (r.check.id, r.reason) for r in reads if r.verdict != "pass"
    ]


def test_the_command_writes_the_json_and_html_reports(live_server: str, backend: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        pytest.skip("the reports do not depend on the backend")
    result = CliRunner().invoke(
        cli_app,
        [
            "check",
            f"{live_server}/ogcapi",
            "--json",
            str(tmp_path / "report.json"),
            "--html",
            str(tmp_path / "report.html"),
            "--lang",
            "de",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
    document = json.loads((tmp_path / "report.json").read_text())
    assert document["ok"] is True
    assert document["endpoints"] == {"sensorthings": None, "features": f"{live_server}/ogcapi"}
    first = document["checks"][0]
    assert first["requirement"] == "http://www.opengis.net/spec/ogcapi-features-1/1.0/req/core/root-success"
    assert first["verdict"] == "pass"
    assert first["evidence"][0]["method"] == "GET"
    assert first["evidence"][0]["status"] == 200
    assert first["title"].startswith("Die Startseite")
    page = (tmp_path / "report.html").read_text()
    assert page.startswith('<!doctype html><html lang="de">')
    assert "Konformitätsbericht" in page and "bestanden" in page
    assert "<script" not in page and "<link" not in page  # self-contained


def test_the_command_refuses_to_write_without_a_token() -> None:
    result = CliRunner().invoke(cli_app, ["check", "http://127.0.0.1:9/", "--write"])
    assert result.exit_code == 2
    assert "token" in result.output


def test_a_url_with_no_api_behind_it_is_an_error_of_the_run(live_server: str, backend: str) -> None:
    if backend == "postgresql":
        pytest.skip("no store is asked")
    result = CliRunner().invoke(cli_app, ["check", f"{live_server}/api/nothing-here"])
    assert result.exit_code == 1
    assert "is neither a SensorThings service root nor an OGC API landing page" in result.output
