"""The GeoJSON importer: CRS of the file to WGS 84, idempotent by feature id, errors that say where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.ogcapi.conftest import INFO, POINTS, SQUARE, city_geojson, write
from urbantwin.cli import app
from urbantwin.ingest.geojson import ImportFailure, import_geojson
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine
from urbantwin.store.features_schema import collections, features


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(features)).scalar_one()


def test_imports_a_25833_file_into_wgs84(engine: Engine, tmp_path: Path) -> None:
    report = import_geojson(engine, write(tmp_path / "c.geojson", city_geojson()), INFO, progress=False)
    assert (report.inserted, report.updated, report.unchanged) == (4, 0, 0)
    with engine.connect() as connection:
        row = connection.execute(select(features.c.geom).where(features.c.feature_key == "a")).one()
        meta = connection.execute(select(collections).where(collections.c.id == "city")).one()._mapping
    lon, lat = Transformer.from_crs(25833, 4326, always_xy=True).transform(*POINTS["a"])
    point = shapely.from_wkb(row.geom)
    assert point.x == pytest.approx(lon, abs=1e-12) and point.y == pytest.approx(lat, abs=1e-12)
    assert meta["title"] == "A small city" and meta["licence"] == "CC-BY-4.0"
    assert meta["source_crs"] == "EPSG:25833"
    assert meta["item_schema"]["properties"]["rank"] == {"type": "integer"}
    assert meta["extent_bbox"][0] < lon < meta["extent_bbox"][2]


def test_importing_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "c.geojson", city_geojson())
    import_geojson(engine, path, INFO, progress=False)
    with engine.connect() as connection:
        before = connection.execute(select(features).order_by(features.c.id)).all()
        updated = connection.execute(select(collections.c.updated)).scalar_one()
    report = import_geojson(engine, path, INFO, progress=False)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 4)
    with engine.connect() as connection:
        assert connection.execute(select(features).order_by(features.c.id)).all() == before
        assert connection.execute(select(collections.c.updated)).scalar_one() == updated


def test_a_changed_file_updates_only_what_changed(engine: Engine, tmp_path: Path) -> None:
    import_geojson(engine, write(tmp_path / "c.geojson", city_geojson()), INFO, progress=False)
    moved = {**POINTS, "b": (317600.0, 5691000.0), "d": (318000.0, 5692000.0)}
    report = import_geojson(engine, write(tmp_path / "c2.geojson", city_geojson(moved)), INFO, progress=False)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 3)
    assert _count(engine) == 5


def test_a_feature_moved_inward_by_an_import_shrinks_the_extent(
    engine: Engine, client: TestClient, tmp_path: Path
) -> None:
    """Probe: a re-import that moved the far stop next to the others kept the extent that reached it."""
    import_geojson(engine, write(tmp_path / "c.geojson", city_geojson()), INFO, progress=False)
    moved = {**POINTS, "c": POINTS["b"]}
    import_geojson(engine, write(tmp_path / "c2.geojson", city_geojson(moved)), INFO, progress=False)
    to_crs84 = Transformer.from_crs(25833, 4326, always_xy=True)
    xs, ys = zip(*(to_crs84.transform(*xy) for xy in (*moved.values(), *SQUARE)), strict=True)
    extent = client.get("/ogcapi/collections/city").json()["extent"]["spatial"]["bbox"][0]
    assert extent == pytest.approx([min(xs), min(ys), max(xs), max(ys)], abs=1e-9)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["features"][1].update(geometry={"type": "Point", "coordinates": "x"}),
            "feature 1 (id 'b'): field 'geometry'",
        ),
        (lambda d: d["features"][2].update(type="Thing"), "feature 2: field 'type'"),
        (lambda d: d["features"][0].update(properties=[1]), "feature 0: field 'properties'"),
        (
            lambda d: d["features"][3].update(id="a"),
            "feature 3 (id 'a'): field 'id': the same id as feature 0",
        ),
        (lambda d: d["features"][0].update(id={"x": 1}), "feature 0: field 'id'"),
        (lambda d: d.update(crs={"type": "name", "properties": {"name": "EPSG:999999"}}), "field 'crs'"),
        (lambda d: d.update(type="Feature"), "field 'type': expected a GeoJSON FeatureCollection"),
    ],
)
def test_a_bad_feature_is_named_with_file_feature_and_field(
    engine: Engine,
    tmp_path: Path,
    mutate,
    expected: str,  # noqa: ANN001
) -> None:
    document = city_geojson()
    mutate(document)
    path = write(tmp_path / "bad.geojson", document)
    with pytest.raises(ImportFailure) as error:
        import_geojson(engine, path, INFO, progress=False)
    assert str(path) in str(error.value) and expected in str(error.value)
    assert _count(engine) == 0


def test_not_json_is_named(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ImportFailure, match="broken.geojson: not valid JSON"):
        import_geojson(engine, path, INFO, progress=False)


def test_cli_import_is_idempotent_and_names_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    path = write(tmp_path / "c.geojson", city_geojson())
    command = [
        "import",
        "geojson",
        str(path),
        "--collection",
        "city",
        "--title",
        "City",
        "--database-url",
        url,
    ]
    command += ["--licence", "CC-BY-4.0", "--attribution", "tests"]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    assert "4 inserted, 0 updated, 0 unchanged" in first.output
    second = runner.invoke(app, command)
    assert "0 inserted, 0 updated, 4 unchanged" in second.output
    bad = city_geojson()
    bad["features"][1]["geometry"] = {"type": "Polygon", "coordinates": [[1, 2]]}
    write(path, bad)
    failed = runner.invoke(app, command)
    assert failed.exit_code == 1
    assert "feature 1 (id 'b'): field 'geometry'" in failed.output
    engine = make_engine(Settings(database_url=url))
    assert _count(engine) == 4
    engine.dispose()


def test_the_file_keeps_its_json_types(engine: Engine, tmp_path: Path) -> None:
    document = city_geojson()
    document["features"][0]["properties"]["nested"] = {"levels": [1, 2.5, None]}
    import_geojson(engine, write(tmp_path / "c.geojson", document), INFO, progress=False)
    with engine.connect() as connection:
        properties = connection.execute(
            select(features.c.properties).where(features.c.feature_key == "a")
        ).scalar()
    assert properties == json.loads(json.dumps(document["features"][0]["properties"]))
