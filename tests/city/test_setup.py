"""`urbantwin city init`: an empty platform made a city's from its profile alone."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from urbantwin.app import create_app
from urbantwin.city.setup import init_city
from urbantwin.city_profile import parse_profile
from urbantwin.cli import app
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets, organisations
from urbantwin.store.city import read_profile

JSON = "application/json"
PROFILE = {
    "name": "Musterstadt",
    "time_zone": "Europe/Berlin",
    "crs": ["EPSG:25832"],
    "publisher": {
        "id": "stadt-musterstadt",
        "title": "Stadt Musterstadt",
        "kind": "local-authority",
        "email": "opendata@musterstadt.example",
    },
}


def test_init_stores_the_profile_and_makes_the_city_the_publisher(settings: Settings, engine: Engine) -> None:
    profile = parse_profile(PROFILE)
    done = init_city(engine, settings, profile)
    assert done.publisher_created
    assert read_profile(engine) == profile
    with engine.connect() as connection:
        city = connection.execute(
            select(organisations).where(organisations.c.id == "stadt-musterstadt")
        ).one()
        publisher = connection.execute(
            select(datasets.c.publisher_id).where(datasets.c.id == settings.default_dataset)
        ).scalar()
    assert (city.title, city.email) == ("Stadt Musterstadt", "opendata@musterstadt.example")
    assert publisher == "stadt-musterstadt"


def test_init_again_brings_the_platform_up_to_the_changed_profile(settings: Settings, engine: Engine) -> None:
    init_city(engine, settings, parse_profile(PROFILE))
    changed = {**PROFILE, "publisher": {**PROFILE["publisher"], "title": "Landeshauptstadt Musterstadt"}}
    done = init_city(engine, settings, parse_profile(changed))
    assert not done.publisher_created
    with engine.connect() as connection:
        titles = connection.execute(
            select(organisations.c.title).where(organisations.c.id == "stadt-musterstadt")
        )
        assert titles.scalars().all() == ["Landeshauptstadt Musterstadt"]


def test_a_platform_that_started_without_a_city_hands_its_default_dataset_over(
    settings: Settings, engine: Engine
) -> None:
    """A platform served before `city init` has its default dataset published by the placeholder
    organisation; init hands it to the city."""
    with TestClient(create_app(settings, engine)):
        pass
    done = init_city(engine, settings, parse_profile(PROFILE))
    assert done.default_dataset_moved
    with TestClient(create_app(settings, engine)) as client:
        record = client.get(
            f"/catalog/datasets/{settings.default_dataset}", headers={"Accept": "application/json"}
        )
        assert record.status_code == 200, record.text
        assert "stadt-musterstadt" in record.text


def test_city_init_from_the_shell(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'city.sqlite'}"
    profile = tmp_path / "city.toml"
    profile.write_text(
        '[city]\nname = "Musterstadt"\ncrs = ["EPSG:25832"]\n\n[publisher]\nid = "stadt-musterstadt"\n'
        'title = "Stadt Musterstadt"\nkind = "local-authority"\n',
        encoding="utf-8",
    )
    done = CliRunner().invoke(app, ["city", "init", str(profile), "--database-url", url])
    assert done.exit_code == 0, done.output
    assert "set up for Musterstadt" in done.output and "EPSG:25832" in done.output
    shown = CliRunner().invoke(app, ["city", "show", "--database-url", url])
    assert '"name": "Musterstadt"' in shown.output

    profile.write_text('[city]\nname = "Musterstadt"\ncrs = ["EPSG:1"]\n', encoding="utf-8")
    refused = CliRunner().invoke(app, ["city", "init", str(profile), "--database-url", url])
    assert refused.exit_code == 1 and "crs: 'EPSG:1' is not a CRS the platform knows" in refused.output
    profile.write_text('[city]\nname = "X"\n[publisher]\nkind = "club"\n', encoding="utf-8")
    refused = CliRunner().invoke(app, ["city", "init", str(profile), "--database-url", url])
    assert refused.exit_code == 1 and "publisher.kind: 'club' is not an organisation kind" in refused.output
