"""`urbantwin db backup` and `urbantwin db restore` on each backend: a store filled as the docs
fill one (SensorThings stations and their Observations, feature collections, the catalogue) is
backed up and restored into an empty store, and every table comes back row by row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tests.conftest import PG_ADMIN_URL, create_test_database, spare_database
from urbantwin.cli import app
from urbantwin.demo.catalog import publish_demo_catalogue
from urbantwin.settings import Settings
from urbantwin.store.backup import BackupError, pg_tool, restore, store_tables
from urbantwin.store.engine import head_revision, make_engine

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "docs" / "samples"
runner = CliRunner()


def cli(*arguments: str) -> str:
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def fill(url: str) -> None:
    """Stations with their Observations, a sensor's readings, two feature collections, the demo's
    catalogue: what `docs/imports.md` does, as a user would."""
    stations = str(SAMPLES / "stations.geojson")
    cli("import", "stations", str(SAMPLES / "stations_long.csv"), "--stations", stations,
        "--network", "LfULG", "--database-url", url)  # fmt: skip
    cli(
        "import",
        "sensor-community",
        str(SAMPLES / "2020-01-01_sds011_sensor_1001.csv"),
        "--database-url",
        url,
    )
    cli("import", "geojson", stations, "--collection", "aq-stations", "--id-property", "name",
        "--source", "LfULG station list (2014)", "--database-url", url)  # fmt: skip
    cli("import", "csv", str(SAMPLES / "charging_points.csv"), "--collection", "ev-charging",
        "--id-column", "Adresse", "--licence", "CC BY 4.0", "--database-url", url)  # fmt: skip
    engine = make_engine(Settings(database_url=url))
    try:
        publish_demo_catalogue(engine)
    finally:
        engine.dispose()


def contents(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table of the store, as text, in a stable order."""
    engine = make_engine(Settings(database_url=url))
    try:
        with engine.connect() as connection:
            return {
                table: sorted(
                    tuple(repr(value) for value in row)
                    for row in connection.execute(text(f'SELECT * FROM "{table}"'))
                )
                for table in store_tables(engine)
            }
    finally:
        engine.dispose()


@pytest.fixture
def stores(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The URL of a migrated empty store and of a database without any table, on the backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.sqlite'}", f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    session_url = request.getfixturevalue("postgres_url")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    empty = f"urbantwin_restore_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        create_test_database(connection, empty)
    try:
        with spare_database(session_url) as source:
            yield source, source.rsplit("/", 1)[0] + "/" + empty
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)'))
        admin.dispose()


def test_a_backup_restores_every_row_into_an_empty_store(stores: tuple[str, str], tmp_path: Path) -> None:
    source, target = stores
    fill(source)
    saved = contents(source)
    assert len(saved["observations"]) > 10 and saved["features"] and len(saved["datasets"]) > 2

    backup_file = tmp_path / "store.backup"
    assert "Backed up" in cli("db", "backup", str(backup_file), "--database-url", source)
    output = cli("db", "restore", str(backup_file), "--database-url", target)
    assert f"schema {head_revision()}" in output

    restored = contents(target)
    assert restored.keys() == saved.keys()
    for table, rows in saved.items():
        assert restored[table] == rows, table
    # The restored store goes on: new rows get new ids (the sequences came along), and an import
    # finds what it imported before.
    cli("import", "geojson", str(SAMPLES / "stations.geojson"), "--collection", "aq-stations-again",
        "--id-property", "name", "--database-url", target)  # fmt: skip
    cli(
        "import",
        "sensor-community",
        str(SAMPLES / "2020-01-01_sds011_sensor_1001.csv"),
        "--database-url",
        target,
    )
    again = contents(target)
    assert len(again["features"]) > len(saved["features"])
    assert len(again["observations"]) == len(saved["observations"])


def test_a_restore_refuses_a_store_with_tables_unless_forced(stores: tuple[str, str], tmp_path: Path) -> None:
    source, _ = stores
    cli("import", "geojson", str(SAMPLES / "stations.geojson"), "--collection", "aq-stations",
        "--id-property", "name", "--database-url", source)  # fmt: skip
    backup_file = tmp_path / "store.backup"
    cli("db", "backup", str(backup_file), "--database-url", source)
    before = contents(source)

    refused = runner.invoke(app, ["db", "restore", str(backup_file), "--database-url", source])
    assert refused.exit_code == 1
    assert "not empty" in refused.output and "--force" in refused.output

    cli("db", "restore", str(backup_file), "--force", "--database-url", source)
    assert contents(source) == before


def test_a_file_that_is_no_backup_is_refused_before_the_store_is_touched(
    stores: tuple[str, str], tmp_path: Path
) -> None:
    _, target = stores
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup\n")
    result = runner.invoke(app, ["db", "restore", str(junk), "--database-url", target])
    assert result.exit_code == 1 and "no " in result.output and "backup" in result.output
    missing = runner.invoke(app, ["db", "restore", str(tmp_path / "absent"), "--database-url", target])
    assert missing.exit_code == 1 and "no backup at" in missing.output
    engine = make_engine(Settings(database_url=target))
    try:
        assert store_tables(engine) == []
        with pytest.raises(BackupError, match="is no (SQLite|PostgreSQL) backup"):
            restore(engine, junk)
    finally:
        engine.dispose()


def test_the_postgresql_tools_are_found_or_named() -> None:
    try:
        tool = pg_tool("pg_dump")
    except BackupError as exc:
        assert "postgresql-client" in str(exc)
    else:
        assert tool.name == "pg_dump" and tool.exists()
