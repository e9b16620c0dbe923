"""Setting up a city's access from the shell: organisations, users, groups, datasets, tokens."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from urbantwin.app import create_app
from urbantwin.cli import app
from urbantwin.settings import Settings


def test_a_city_sets_up_its_partners_from_the_shell(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'city.sqlite'}"
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--database-url", url])
        assert result.exit_code == 0, result.output
        return result.output

    run("org", "add", "stadt-leipzig", "--title", "Stadt Leipzig", "--kind", "administration")
    run("org", "add", "uni-leipzig", "--title", "Universität Leipzig", "--kind", "science")
    run("group", "add", "research", "--title", "Research partners", "--organisation", "uni-leipzig")
    run("user", "add", "prof", "--role", "reader", "--organisation", "uni-leipzig")
    run("group", "member", "research", "prof")
    run(
        "dataset", "add", "noise-2026", "--title", "Noise measurements", "--licence", "dl-by-de/2.0",
        "--access", "partner", "--publisher", "stadt-leipzig", "--read-group", "research", "--theme", "ENVI",
    )  # fmt: skip
    token = run("token", "issue", "prof", "--scope", "read", "--days", "30").splitlines()[1]
    assert token.startswith("ut_")

    refused = CliRunner().invoke(
        app, ["org", "add", "x", "--title", "X", "--kind", "club", "--database-url", url]
    )
    assert refused.exit_code == 1 and "kind must be one of" in refused.output
    for args, message in (
        (["token", "issue", "prof", "--scope", "admin"], "admin is beyond the role of 'prof' (reader)"),
        (
            ["dataset", "add", "x", "--title", "X", "--licence", "cc-by/4.0", "--read-group", "ghosts"],
            "read_groups: no group 'ghosts'",
        ),
        (["dataset", "set", "noise-2026", "--writer", "user:nobody"], "writers: no user 'nobody'"),
        (["dataset", "move", "noise-2026", "Things", "999"], "no Things 999"),
    ):
        refused = CliRunner().invoke(app, [*args, "--database-url", url])
        assert refused.exit_code == 1 and message in refused.output, refused.output

    with TestClient(create_app(Settings(database_url=url))) as client:
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["groups"] == ["research"] and me["scopes"] == ["read"]
    assert "noise-2026" in run("dataset", "list")
    assert '"target": "issue token for prof"' in run("audit")
