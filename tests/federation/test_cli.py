"""`urbantwin remote …` on a store of its own."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from urbantwin.cli import app


def test_a_partner_is_added_listed_refused_twice_and_removed(tmp_path: Path) -> None:
    store = ["--database-url", f"sqlite:///{tmp_path / 'twin.sqlite'}"]
    runner = CliRunner()
    add = [
        "remote", "add", "hamburg-sta", "https://iot.example.org/v1.1/", "--kind", "sensorthings",
        "--attribution", "Freie und Hansestadt Hamburg", "--licence", "dl-de/by-2-0", *store,
    ]  # fmt: skip
    added = runner.invoke(app, add)
    assert added.exit_code == 0, added.output
    assert "remote-hamburg-sta" in added.output

    listed = runner.invoke(app, ["remote", "list", "--json", *store])
    [remote] = json.loads(listed.output)
    assert remote == {
        "name": "hamburg-sta",
        "url": "https://iot.example.org/v1.1",
        "kind": "sensorthings",
        "title": "hamburg-sta",
        "attribution": "Freie und Hansestadt Hamburg",
        "licence": "dl-de/by-2-0",
        "dataset": "remote-hamburg-sta",
        "requests_per_second": 10.0,
        "health": "unknown",
        "last_checked": None,
        "last_sync": None,
        "last_error": None,
        "follow": False,
        "mqtt_url": None,
    }
    twice = runner.invoke(app, add)
    assert twice.exit_code == 1
    assert "registered already" in twice.output

    wrong = runner.invoke(app, ["remote", "harvest", "hamburg-sta", *store])
    assert wrong.exit_code == 1
    assert "not a DCAT catalogue" in wrong.output

    assert runner.invoke(app, ["remote", "remove", "hamburg-sta", *store]).exit_code == 0
    assert json.loads(runner.invoke(app, ["remote", "list", "--json", *store]).output) == []
