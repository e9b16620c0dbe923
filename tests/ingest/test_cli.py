"""`urbantwin import …` for every format: progress bar, idempotency, messages and exit codes."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.ingest.conftest import NAMES, TREES, write_ogr
from tests.ingest.test_cityjson import city
from tests.ingest.test_csvfile import german_csv
from urbantwin.ingest.cli import import_app
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def run(url: str, *args: str) -> Result:
    return runner.invoke(import_app, [*args, "--database-url", url, "--title", "Test", "--licence", "CC0"])


def names(url: str, collection: str) -> dict[str, str | None]:
    from tests.ingest.conftest import stored

    engine = make_engine(Settings(database_url=url))
    try:
        return {k: f["properties"].get("name") for k, f in stored(engine, collection).items()}
    finally:
        engine.dispose()


def test_help_names_every_format() -> None:
    answer = runner.invoke(import_app, ["--help"])
    assert answer.exit_code == 0
    for command in ("geojson", "gpkg", "shapefile", "csv", "cityjson"):
        assert command in answer.output
    for command, option in (("gpkg", "--layer"), ("shapefile", "--encoding"), ("csv", "--decimal")):
        assert option in runner.invoke(import_app, [command, "--help"]).output


def test_gpkg_with_layers_progress_and_idempotency(url: str, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "two.gpkg", layer="baeume")
    write_ogr(path, {"X-1": (318000.0, 5692000.0)}, layer="neu", append=True)
    args = ["gpkg", str(path), "--collection", "trees", "--id-field", "baum_id"]
    failed = run(url, *args)
    assert failed.exit_code == 1
    assert f"Import failed: {path}: field 'layer': the file has 2 layers (baeume, neu)" in failed.stderr
    first = run(url, *args, "--layer", "baeume")
    assert first.exit_code == 0, first.output
    assert "3 inserted, 0 updated, 0 unchanged" in first.stdout
    assert "100%" in first.stderr and "3/3" in first.stderr  # the progress bar
    second = run(url, *args, "--layer", "baeume")
    assert "0 inserted, 0 updated, 3 unchanged" in second.stdout
    assert names(url, "trees") == NAMES


def test_shapefile_with_an_encoding(url: str, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "dos.shp", driver="ESRI Shapefile", encoding="cp850")
    (tmp_path / "dos.cpg").unlink()
    answer = run(
        url, "shapefile", str(path), "--collection", "t", "--id-field", "baum_id", "--encoding", "cp850"
    )
    assert answer.exit_code == 0, answer.output
    assert names(url, "t") == NAMES


def test_csv_german_gzipped(url: str, tmp_path: Path) -> None:
    path = tmp_path / "baeume.csv.gz"
    path.write_bytes(gzip.compress(german_csv().encode("cp1252")))
    args = ["csv", str(path), "--collection", "t", "--crs", "EPSG:25833", "--delimiter", ";"]
    args += ["--decimal", ",", "--encoding", "cp1252", "--id-column", "Nummer", "--height-field", "Umfang_cm"]
    answer = run(url, *args)
    assert answer.exit_code == 0, answer.output
    assert "3 inserted" in answer.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(german_csv().replace("5695000,999", "x"), encoding="cp1252")
    failed = run(url, *[str(bad) if a == str(path) else a for a in args])
    assert failed.exit_code == 1
    assert f"{bad}: feature 2 (id 'B-3', line 4): field 'Hochwert': not a coordinate: 'x'" in failed.stderr


def test_cityjson_and_its_errors(url: str, tmp_path: Path) -> None:
    path = tmp_path / "stadt.city.json"
    path.write_bytes(orjson.dumps(city()))
    answer = run(url, "cityjson", str(path), "--collection", "lod")
    assert answer.exit_code == 0, answer.output
    assert "3 inserted, 0 updated, 0 unchanged, 1 skipped" in answer.stdout
    trees = run(url, "cityjson", str(path), "--collection", "baeume", "--type", "SolitaryVegetationObject")
    assert "1 inserted" in trees.stdout and "3 skipped" in trees.stdout
    document = city()
    document["CityObjects"]["haus_a"]["attributes"]["measuredHeight"] = "hoch"
    path.write_bytes(orjson.dumps(document))
    failed = run(url, "cityjson", str(path), "--collection", "lod")
    assert failed.exit_code == 1
    assert "feature 0 (id 'haus_a'): field 'CityObjects.haus_a.attributes.measuredHeight'" in failed.stderr


def test_geojson_delete_missing(url: str, tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "id": k,
            "properties": {"name": NAMES[k]},
            "geometry": {"type": "Point", "coordinates": xy},
        }
        for k, xy in TREES.items()
    ]
    crs = {"type": "name", "properties": {"name": "EPSG:25833"}}
    path = tmp_path / "t.geojson"
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "crs": crs, "features": features}))
    assert run(url, "geojson", str(path), "--collection", "t").exit_code == 0
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "crs": crs, "features": features[:1]}))
    answer = run(url, "geojson", str(path), "--collection", "t", "--delete-missing")
    assert "0 inserted, 0 updated, 1 unchanged, 2 deleted" in answer.stdout
    assert names(url, "t") == {"B-1": NAMES["B-1"]}


def test_a_missing_file_is_named(url: str, tmp_path: Path) -> None:
    for command in ("geojson", "gpkg", "shapefile", "csv", "cityjson"):
        path = tmp_path / f"nowhere.{command}"
        answer = run(url, command, str(path), "--collection", "t")
        assert answer.exit_code == 1, (command, answer.output)
        assert f"Import failed: {path}: cannot read the file" in answer.stderr


def test_every_format_takes_source_and_publisher(url: str, tmp_path: Path) -> None:
    """A new collection's dataset is published by the organisation named, with its source."""
    from sqlalchemy import select

    from urbantwin.cli import app
    from urbantwin.store.access_schema import datasets

    for command in ("geojson", "gpkg", "shapefile", "csv", "cityjson"):
        help_text = runner.invoke(import_app, [command, "--help"]).output
        assert "--source" in help_text and "--publisher" in help_text, command

    org = ["org", "add", "surveying-office", "--title", "Surveying office", "--kind", "administration"]
    assert runner.invoke(app, [*org, "--database-url", url]).exit_code == 0
    path = tmp_path / "trees.geojson"
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": []}))
    unknown = run(url, "geojson", str(path), "--collection", "t0", "--publisher", "nobody")
    assert unknown.exit_code == 1 and "no organisation 'nobody'" in unknown.output
    given = ["--publisher", "surveying-office", "--source", "Tree register 2024"]
    result = run(url, "geojson", str(path), "--collection", "trees", *given)
    assert result.exit_code == 0, result.output
    engine = make_engine(Settings(database_url=url))
    try:
        with engine.connect() as connection:
            record = connection.execute(select(datasets).where(datasets.c.id == "trees")).one()
            refused = connection.execute(select(datasets.c.id).where(datasets.c.id == "t0")).first()
    finally:
        engine.dispose()
    assert record.publisher_id == "surveying-office" and record.extra["source"] == "Tree register 2024"
    assert refused is None  # nothing of the refused import was written
