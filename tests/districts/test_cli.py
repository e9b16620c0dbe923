"""`urbantwin districts publish`: the profiles as a feature collection of their own."""

from __future__ import annotations

from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.districts.conftest import City
from urbantwin.cli import app as cli_app
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets
from urbantwin.store.features_schema import features


def _published(city: City) -> dict[str, dict]:
    with city.engine.connect() as connection:
        rows = connection.execute(
            select(features.c.feature_key, features.c.properties).where(
                features.c.collection_id == "quarters-profiles"
            )
        ).all()
    return {row.feature_key: row.properties for row in rows}


def test_publish_writes_the_profiles_as_features(city: City, settings: Settings) -> None:
    with city.engine.begin() as connection:
        connection.execute(
            update(datasets).where(datasets.c.id == "chargers").values(access_level="internal")
        )
    result = CliRunner().invoke(
        cli_app, ["districts", "publish", "quarters", "--database-url", settings.database_url]
    )
    assert result.exit_code == 0, result.output
    assert "Collection 'quarters-profiles': 3 inserted" in result.output
    west = _published(city)["west"]
    assert west["population"] == 1200 and west["trees"] == 3
    assert west["access_within_300m"] == 0.5 and west["access_class_B"] == 0.5
    # the collection is open data: the restricted charging points are not in it
    assert "charging" not in west
    # publishing again replaces, and an unknown collection is refused with a message
    again = CliRunner().invoke(
        cli_app, ["districts", "publish", "quarters", "--database-url", settings.database_url]
    )
    assert "3 unchanged" in again.output
    wrong = CliRunner().invoke(
        cli_app, ["districts", "publish", "houses", "--database-url", settings.database_url]
    )
    assert wrong.exit_code != 0 and "no district collection 'houses'" in wrong.output


def test_publish_landuse_writes_blocks_and_candidates(city: City, settings: Settings) -> None:
    from tests.districts.conftest import box, store

    store(city.engine, "baubloecke", ["blocks"], [("b1", box(100, 600, 200), {})])
    result = CliRunner().invoke(
        cli_app, ["districts", "publish-landuse", "quarters", "--database-url", settings.database_url]
    )
    assert result.exit_code == 0, result.output
    assert "Collection 'quarters-landuse-blocks': 1 inserted" in result.output
    assert "Collection 'quarters-infill': 1 inserted" in result.output
    with city.engine.connect() as connection:
        candidate = connection.execute(
            select(features.c.properties).where(features.c.collection_id == "quarters-infill")
        ).scalar_one()
    assert candidate["rank"] == 1 and candidate["gfz"] == 0.5
    assert candidate["reason_1_en"].startswith("GFZ 0.50, under 0.6")
