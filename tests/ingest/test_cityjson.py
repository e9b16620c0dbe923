"""CityJSON buildings: footprint, height, the solid kept and given back, versions, sequences, errors."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine

from tests.ingest.conftest import FOOTPRINT, assert_millimetres, count, items_in_25833, snapshot, stored
from urbantwin.ingest.cityjson import import_cityjson, read_cityjson, to_cityjson
from urbantwin.ingest.pipeline import CollectionInfo, ImportFailure

INFO = CollectionInfo("lod", "Gebäude LoD1/LoD2", "test buildings", "ODbL-1.0", "tests")
TRANSLATE = [315000.0, 5689000.0, 100.0]
SCALE = [0.001, 0.001, 0.001]
X0, Y0 = 315100.0, 5689100.0


class Model:
    """A CityJSON document under construction, with real coordinates quantised to millimetres."""

    def __init__(self) -> None:
        self.vertices: list[tuple[float, float, float]] = []

    def add(self, points: list[tuple[float, float, float]]) -> list[int]:
        start = len(self.vertices)
        self.vertices.extend(points)
        return list(range(start, start + len(points)))

    def prism(self, ring: list[tuple[float, float]], z0: float, z1: float) -> dict[str, Any]:
        """An LoD1 solid: the ring extruded from z0 to z1 (ground down, roof up, walls out)."""
        bottom = self.add([(x, y, z0) for x, y in ring])
        top = self.add([(x, y, z1) for x, y in ring])
        n = len(ring)
        faces = [[list(reversed(bottom))], [top]]
        faces += [[[bottom[i], bottom[(i + 1) % n], top[(i + 1) % n], top[i]]] for i in range(n)]
        return {"type": "Solid", "lod": "1", "boundaries": [faces]}

    def gabled(
        self, x0: float, y0: float, x1: float, y1: float, z0: float, eaves: float, ridge: float
    ) -> dict[str, Any]:
        """An LoD2 solid with a gable roof whose ridge runs along x, with semantics."""
        ym = (y0 + y1) / 2
        g = self.add([(x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)])
        e = self.add([(x0, y0, eaves), (x1, y0, eaves), (x1, y1, eaves), (x0, y1, eaves)])
        r = self.add([(x0, ym, ridge), (x1, ym, ridge)])
        faces = [
            [[g[0], g[3], g[2], g[1]]],  # ground
            [[g[0], g[1], e[1], e[0]]],  # walls
            [[g[2], g[3], e[3], e[2]]],
            [[g[1], g[2], e[2], r[1], e[1]]],
            [[g[3], g[0], e[0], r[0], e[3]]],
            [[e[0], e[1], r[1], r[0]]],  # roofs
            [[e[2], e[3], r[0], r[1]]],
        ]
        semantics = {
            "surfaces": [{"type": "GroundSurface"}, {"type": "WallSurface"}, {"type": "RoofSurface"}],
            "values": [[0, 1, 1, 1, 1, 2, 2]],
        }
        return {"type": "Solid", "lod": "2.2", "boundaries": [faces], "semantics": semantics}

    def document(self, city_objects: dict[str, Any], version: str = "2.0") -> dict[str, Any]:
        real = np.asarray(self.vertices)
        ints = np.rint((real - TRANSLATE) / SCALE).astype(int).tolist()
        return {
            "type": "CityJSON",
            "version": version,
            "transform": {"scale": SCALE, "translate": TRANSLATE},
            "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/25833"},
            "CityObjects": city_objects,
            "vertices": ints,
        }


def city(height_a: float = 9.5) -> dict[str, Any]:
    """Three buildings (one in two parts, one LoD1 + LoD2) and a tree that is not taken."""
    model = Model()
    ring_a = [(x, y) for x, y in FOOTPRINT]
    objects: dict[str, Any] = {
        "haus_a": {
            "type": "Building",
            "attributes": {"measuredHeight": height_a, "name": "Haus Käthe", "function": "Wohnen"},
            "geometry": [model.prism(ring_a, 100.0, 100.0 + height_a)],
        },
        "fabrik": {
            "type": "Building",
            "attributes": {"name": "Fabrik"},
            "children": ["fabrik_1", "fabrik_2"],
        },
        "fabrik_1": {
            "type": "BuildingPart",
            "parents": ["fabrik"],
            "geometry": [model.prism([(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0, Y0 + 10)], 101, 113)],
        },
        "fabrik_2": {
            "type": "BuildingPart",
            "parents": ["fabrik"],
            "geometry": [
                model.prism([(X0 + 10, Y0), (X0 + 20, Y0), (X0 + 20, Y0 + 5), (X0 + 10, Y0 + 5)], 101, 107)
            ],
        },
        "villa": {
            "type": "Building",
            "geometry": [
                model.prism([(X0, Y0 + 50), (X0 + 12, Y0 + 50), (X0 + 12, Y0 + 58), (X0, Y0 + 58)], 99, 106),
                model.gabled(X0, Y0 + 50, X0 + 12, Y0 + 58, 99.0, 105.0, 109.5),
            ],
        },
        "baum": {
            "type": "SolitaryVegetationObject",
            "geometry": [{"type": "MultiPoint", "lod": "1", "boundaries": model.add([(X0, Y0, 100.0)])}],
        },
    }
    return model.document(objects)


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(document))
    return path


def real_coordinates(document: dict[str, Any], object_id: str) -> list[list[tuple[float, ...]]]:
    """The object's geometries as real coordinates, whatever the vertex numbering."""
    transform = document.get("transform") or {"scale": [1, 1, 1], "translate": [0, 0, 0]}
    vertices = np.asarray(document["vertices"]) * transform["scale"] + transform["translate"]

    def walk(item: Any) -> Any:
        return tuple(np.round(vertices[item], 6)) if isinstance(item, int) else [walk(i) for i in item]

    return [walk(g["boundaries"]) for g in document["CityObjects"][object_id].get("geometry", [])]


def test_buildings_get_footprint_height_and_their_solid(
    anonymous: TestClient, engine: Engine, tmp_path: Path
) -> None:
    report = import_cityjson(engine, write(tmp_path / "stadt.city.json", city()), INFO, progress=False)
    assert (report.inserted, report.skipped) == (3, 1)  # the tree is not a Building
    buildings = stored(engine, "lod")
    assert set(buildings) == {"haus_a", "fabrik", "villa"}
    haus = buildings["haus_a"]
    assert haus["height"] == 9.5
    properties = haus["properties"]
    assert properties["name"] == "Haus Käthe" and properties["function"] == "Wohnen"
    assert properties["cityjson_type"] == "Building" and properties["lod"] == "1"
    assert properties["height_m"] == 9.5 and properties["height_m_from"] == "attributes.measuredHeight"
    kept = properties["cityjson"]
    assert kept["type"] == "CityJSONFeature" and kept["id"] == "haus_a"
    assert kept["transform"] == {"scale": SCALE, "translate": TRANSLATE}
    assert kept["referenceSystem"] == "https://www.opengis.net/def/crs/EPSG/0/25833"
    assert len(kept["vertices"]) == 8 and kept["CityObjects"]["haus_a"]["geometry"][0]["type"] == "Solid"
    # The parts' footprints unioned; the height is the z extent of the parts (no measuredHeight).
    fabrik = buildings["fabrik"]
    assert fabrik["height"] == pytest.approx(12.0)
    assert fabrik["properties"]["height_m_from"] == "z extent of the geometry"
    assert set(fabrik["properties"]["cityjson"]["CityObjects"]) == {"fabrik", "fabrik_1", "fabrik_2"}
    villa = buildings["villa"]["properties"]
    assert villa["lod"] == "2.2" and buildings["villa"]["height"] == pytest.approx(10.5)
    items = items_in_25833(anonymous, "lod")
    outline = shapely.geometry.shape(items["haus_a"]["geometry"])
    for corner in FOOTPRINT:
        nearest = min(
            outline.exterior.coords, key=lambda c: (c[0] - corner[0]) ** 2 + (c[1] - corner[1]) ** 2
        )
        assert_millimetres(list(nearest), corner)
    assert len(outline.exterior.coords) == 5
    expected = shapely.Polygon(
        [(X0, Y0), (X0 + 20, Y0), (X0 + 20, Y0 + 5), (X0 + 10, Y0 + 5), (X0 + 10, Y0 + 10), (X0, Y0 + 10)]
    )
    fabrik_outline = shapely.geometry.shape(items["fabrik"]["geometry"])
    assert fabrik_outline.geom_type == "Polygon"
    assert shapely.hausdorff_distance(fabrik_outline, expected) < 0.001
    assert abs(fabrik_outline.area - expected.area) < 0.05


def test_the_solids_round_trip_through_the_store(engine: Engine, tmp_path: Path) -> None:
    document = city()
    import_cityjson(engine, write(tmp_path / "stadt.city.json", document), INFO, progress=False)
    back = to_cityjson([b["properties"] for b in stored(engine, "lod").values()])
    assert back["type"] == "CityJSON" and back["version"] == "2.0"
    assert back["metadata"]["referenceSystem"] == document["metadata"]["referenceSystem"]
    assert set(back["CityObjects"]) == {"haus_a", "fabrik", "fabrik_1", "fabrik_2", "villa"}
    for object_id in back["CityObjects"]:
        assert real_coordinates(back, object_id) == real_coordinates(document, object_id)
        original = {k: v for k, v in document["CityObjects"][object_id].items() if k != "geometry"}
        assert {k: v for k, v in back["CityObjects"][object_id].items() if k != "geometry"} == original
    semantics = back["CityObjects"]["villa"]["geometry"][1]["semantics"]
    assert semantics == document["CityObjects"]["villa"]["geometry"][1]["semantics"]


def test_only_lod2_gives_the_projected_footprint(engine: Engine, tmp_path: Path) -> None:
    document = city()
    document["CityObjects"]["villa"]["geometry"].pop(0)  # no LoD1 left
    rows = read_cityjson(write(tmp_path / "lod2.city.json", document)).rows
    villa = next(r for r in rows if r.key == "villa")
    to_25833 = Transformer.from_crs(4326, 25833, always_xy=True)
    outline = shapely.transform(
        shapely.from_wkb(villa.wkb), lambda c: np.column_stack(to_25833.transform(*c.T))
    )
    expected = shapely.box(X0, Y0 + 50, X0 + 12, Y0 + 58)
    assert shapely.hausdorff_distance(outline, expected) < 0.001
    assert villa.height == pytest.approx(10.5)  # ground 99 to ridge 109.5


def test_importing_twice_changes_nothing_and_a_changed_file_updates_what_changed(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path / "stadt.city.json", city())
    import_cityjson(engine, path, INFO, progress=False)
    before = snapshot(engine)
    report = import_cityjson(engine, path, INFO, progress=False)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 3)
    assert snapshot(engine) == before
    report = import_cityjson(engine, write(path, city(height_a=12.0)), INFO, progress=False)
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 2)
    assert stored(engine, "lod")["haus_a"]["height"] == 12.0


def test_cityjson_1_0_without_transform_and_a_urn_crs(tmp_path: Path) -> None:
    document = city()
    real = np.asarray(document["vertices"]) * SCALE + TRANSLATE
    document.update(version="1.0", vertices=np.round(real, 3).tolist())
    del document["transform"]
    document["metadata"]["referenceSystem"] = "urn:ogc:def:crs:EPSG::25833"
    result = read_cityjson(write(tmp_path / "alt.json", document))
    new = read_cityjson(write(tmp_path / "neu.json", city()))
    assert {r.key: r.wkb for r in result.rows} == {r.key: r.wkb for r in new.rows}
    assert result.rows[0].properties["cityjson"]["transform"] is None


def test_a_compound_crs_gives_its_horizontal_part(tmp_path: Path) -> None:
    """EPSG:7415 (Amersfoort / RD New + NAP height), as Dutch 3D BAG files state it."""
    document = city()
    document["metadata"]["referenceSystem"] = "https://www.opengis.net/def/crs/EPSG/0/7415"
    document["transform"]["translate"] = [155000.0, 463000.0, 0.0]
    result = read_cityjson(write(tmp_path / "nl.city.json", document))
    assert result.crs.to_epsg() == 7415
    first = np.asarray(document["vertices"][0]) * SCALE + [155000.0, 463000.0, 0.0]
    lon, lat = Transformer.from_crs(28992, 4326, always_xy=True).transform(first[0], first[1])
    corners = shapely.get_coordinates(shapely.from_wkb(result.rows[0].wkb))
    assert np.min(np.hypot(corners[:, 0] - lon, corners[:, 1] - lat)) < 1e-9


def test_a_cityjson_sequence(engine: Engine, tmp_path: Path) -> None:
    document = city()
    header = {k: v for k, v in document.items() if k not in ("CityObjects", "vertices")}
    lines = [orjson.dumps({**header, "CityObjects": {}, "vertices": []})]
    for object_id in ("haus_a", "fabrik"):
        ids = [object_id, *document["CityObjects"][object_id].get("children", [])]
        part = to_cityjson([{"cityjson": {**_feature(document, ids), "transform": document["transform"]}}])
        lines.append(
            orjson.dumps(
                {
                    "type": "CityJSONFeature",
                    "id": object_id,
                    "CityObjects": part["CityObjects"],
                    "vertices": part["vertices"],
                }
            )
        )
    path = tmp_path / "stadt.city.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = import_cityjson(engine, path, INFO, progress=False)
    assert report.inserted == 2
    whole = read_cityjson(write(tmp_path / "stadt.city.json", city()))
    expected = {r.key: (r.wkb, r.height) for r in whole.rows if r.key in ("haus_a", "fabrik")}
    got = {
        k: (shapely.to_wkb(v["geometry"], output_dimension=2), v["height"])
        for k, v in stored(engine, "lod").items()
    }
    assert {
        k: shapely.from_wkb(w).equals_exact(shapely.from_wkb(got[k][0]), 1e-12)
        for k, (w, _) in expected.items()
    } == {
        "haus_a": True,
        "fabrik": True,
    }
    assert {k: h for k, (_, h) in got.items()} == {k: h for k, (_, h) in expected.items()}


def _feature(document: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """A stand-alone CityJSONFeature of the objects `ids`, with the document's vertex numbering."""
    return {
        "type": "CityJSONFeature",
        "CityObjects": {i: document["CityObjects"][i] for i in ids},
        "vertices": document["vertices"],
    }


def _mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    document = copy.deepcopy(city())
    change(document)
    return document


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _mutated(
                lambda d: d["CityObjects"]["villa"]["geometry"][0]["boundaries"][0][2][0].__setitem__(1, 999)
            ),
            "feature 4 (id 'villa'): field 'CityObjects.villa.geometry[0].boundaries': vertex 999 does not",
        ),
        (
            _mutated(lambda d: d["CityObjects"]["fabrik_2"]["geometry"][0].update(type="Blob")),
            "feature 1 (id 'fabrik'): field 'CityObjects.fabrik_2.geometry[0].type': not a CityJSON",
        ),
        (
            _mutated(lambda d: d["CityObjects"]["haus_a"]["attributes"].update(measuredHeight="hoch")),
            "feature 0 (id 'haus_a'): field 'CityObjects.haus_a.attributes.measuredHeight': not a number",
        ),
        (
            _mutated(lambda d: d["CityObjects"]["haus_a"]["geometry"][0].pop("lod")),
            "feature 0 (id 'haus_a'): field 'CityObjects.haus_a.geometry[0].lod': missing",
        ),
        (
            _mutated(lambda d: d["CityObjects"]["villa"].pop("type")),
            "feature 'villa': field 'CityObjects.villa.type': expected a city object with a type",
        ),
        (_mutated(lambda d: d.pop("metadata")), "field 'metadata.referenceSystem': the file states no CRS"),
        (
            _mutated(lambda d: d["metadata"].update(referenceSystem="EPSG:0")),
            "field 'metadata.referenceSystem': not a CRS pyproj knows",
        ),
        (_mutated(lambda d: d.update(version="3.0")), "field 'version': CityJSON 3.0 is not read"),
        (_mutated(lambda d: d.pop("transform")), "field 'transform': CityJSON 2.0 requires it"),
        (
            _mutated(lambda d: d.update(type="FeatureCollection")),
            "field 'type': expected a CityJSON document",
        ),
        (
            _mutated(lambda d: d["vertices"].__setitem__(3, [1, 2])),
            "field 'vertices': expected a list of [x, y, z]",
        ),
    ],
)
def test_errors_name_file_feature_and_field(
    engine: Engine, tmp_path: Path, document: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path / "kaputt.city.json", document)
    with pytest.raises(ImportFailure) as error:
        import_cityjson(engine, path, INFO, progress=False)
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)
    assert count(engine) == 0


def test_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "kaputt.city.json"
    path.write_text('{"type": "CityJSON",', encoding="utf-8")
    with pytest.raises(ImportFailure, match="kaputt.city.json: not valid JSON"):
        read_cityjson(path)
    path.write_text('{"type": "CityJSON"}\n{"type": "CityJSONFeature"\n', encoding="utf-8")
    with pytest.raises(ImportFailure, match="kaputt.city.json: line 2: not valid JSON"):
        read_cityjson(path)
    path.write_text(
        '{"type": "CityJSON", "version": "2.0", "transform": {"scale": [1, 1, 1], "translate": [0, 0, 0]},'
        ' "metadata": {"referenceSystem": "EPSG:25833"}, "CityObjects": {}, "vertices": []}\n'
        '{"type": "CityJSONFeature", "id": "a", "CityObjects": {"b": {"type": "Building"}},'
        ' "vertices": []}\n',
        encoding="utf-8",
    )
    with pytest.raises(ImportFailure, match="kaputt.city.json: line 2: field 'id': no city object 'a' in it"):
        read_cityjson(path)
