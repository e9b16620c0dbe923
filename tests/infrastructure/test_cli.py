"""`urbantwin infrastructure sites|freifunk|lorawan map|lorawan coverage` on a store of their own:
what they print, a bad argument's message and exit code."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from urbantwin.cli import app

runner = CliRunner()
DATA = Path(__file__).parent / "data"


def test_the_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    sites = runner.invoke(
        app,
        [
            "infrastructure",
            "sites",
            str(DATA / "sites_netco.csv"),
            "--mapping",
            str(DATA / "sites_netco.toml"),
            "--database-url",
            url,
        ],
    )
    assert sites.exit_code == 0, sites.output
    assert "Registry 'sites-netco': 3 inserted" in sites.stdout

    nodes = runner.invoke(
        app,
        [
            "infrastructure",
            "freifunk",
            str(DATA / "meshviewer.json"),
            "--registry",
            "ff",
            "--database-url",
            url,
        ],
    )
    assert nodes.exit_code == 0, nodes.output
    assert "3 nodes at 2020-03-03T13:26:09+00:00 (1 without position); sites: 2 inserted" in nodes.stdout
    assert "1 new client counts" in nodes.stdout

    mapped = runner.invoke(
        app, ["infrastructure", "lorawan", "map", "0004a30b001c0530", "clients=1", "--database-url", url]
    )
    assert mapped.exit_code == 0, mapped.output
    assert "0004A30B001C0530: clients -> Datastream 1" in mapped.stdout
    coverage = runner.invoke(app, ["infrastructure", "lorawan", "coverage", "--database-url", url])
    assert json.loads(coverage.stdout) == {"since": None, "devices": [], "single_gateway": []}

    bad = runner.invoke(
        app, ["infrastructure", "lorawan", "map", "0004a30b001c0530", "clients=x", "--database-url", url]
    )
    assert bad.exit_code == 2 and "expected FIELD=DATASTREAM_ID" in bad.output
    unknown = runner.invoke(
        app, ["infrastructure", "lorawan", "map", "0004a30b001c0530", "clients=99", "--database-url", url]
    )
    assert unknown.exit_code == 1 and "Error: fields.clients: no Datastream 99" in unknown.stderr
    missing = runner.invoke(
        app, ["infrastructure", "freifunk", str(tmp_path / "none.json"), "--database-url", url]
    )
    assert missing.exit_code == 1 and "none.json" in missing.stderr
