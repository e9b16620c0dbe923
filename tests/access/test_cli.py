"""Setting up a city's access from the shell: organisations, users, groups, datasets, tokens."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF
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


def test_organisation_kinds_and_a_datasets_publisher_from_the_shell(tmp_path: Path) -> None:
    """Probes: every organisation of kind `administration` was a LocalAuthority in the catalogue,
    a state agency too; `dataset set` could not change a dataset's publisher."""
    url = f"sqlite:///{tmp_path / 'city.sqlite'}"

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, [*args, "--database-url", url])
        assert result.exit_code == code, result.output
        return result.output

    run("org", "add", "stadt", "--title", "Landeshauptstadt", "--kind", "local-authority")
    run("org", "add", "landesamt", "--title", "Landesamt für Umwelt", "--kind", "administration")
    run("org", "add", "bund", "--title", "Bundesnetzagentur", "--kind", "national-authority")
    # the former name is still taken, as the kind it stands for; a state agency is then told apart
    kinds = {org["id"]: org["kind"] for org in json.loads(run("org", "list"))}
    assert kinds == {
        "bund": "national-authority",
        "city": "local-authority",  # the platform's own, made at its start
        "landesamt": "local-authority",
        "stadt": "local-authority",
    }
    run("org", "set", "landesamt", "--kind", "regional-authority")
    refused = run("org", "add", "x", "--title", "X", "--kind", "state-agency", code=1)
    assert "kind must be one of local-authority, regional-authority, national-authority" in refused
    assert "not 'state-agency'" in refused
    assert "no organisation 'nobody'" in run("org", "set", "nobody", "--kind", "company", code=1)

    run("dataset", "add", "air", "--title", "Air", "--licence", "dl-by-de/2.0", "--publisher", "stadt")
    run("dataset", "set", "air", "--publisher", "landesamt")
    (air,) = [d for d in json.loads(run("dataset", "list")) if d["id"] == "air"]
    assert air["publisher_id"] == "landesamt"
    assert '"target": "update dataset air: publisher_id=landesamt"' in run("audit")
    assert "publisher_id: no organisation 'nobody'" in run(
        "dataset", "set", "air", "--publisher", "nobody", code=1
    )

    with TestClient(create_app(Settings(database_url=url))) as client:
        graph = Graph().parse(
            data=client.get("/catalog/datasets/air", params={"f": "ttl"}).text, format="turtle"
        )
    publisher = graph.value(URIRef("http://testserver/catalog/datasets/air"), DCTERMS.publisher)
    assert graph.value(publisher, FOAF.name) == Literal("Landesamt für Umwelt")
    assert graph.value(publisher, DCTERMS.type) == URIRef(
        "http://purl.org/adms/publishertype/RegionalAuthority"
    )
