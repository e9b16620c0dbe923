"""`urbantwin import things`: a table's rows as Things with Locations and Datastreams, by a mapping.

The real register of charging points the demo ships (Bundesnetzagentur, 77 rows, some of them two
devices at one address) imports whole and once; the same rows as XLSX with German coordinate
columns, and a GeoJSON table, make the same Things; bad mappings and tables are named.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyproj import Transformer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from urbantwin.cli import app
from urbantwin.demo import DATA_DIR
from urbantwin.ingest.provenance import Provenance
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.ingest.things import import_things, read_mapping
from urbantwin.settings import Settings

REGISTER = DATA_DIR / "ladesaeulen_leipzig_2019-07-19.csv"
runner = CliRunner()

MAPPING = """
[thing]
namespace = "ev"
id = ["betreiber", "adresse"]
repeated = "number"
name = "Charging station {betreiber}, {adresse}"
description = "{art}, {anzahl_ladepunkte} charging points"
properties = ["betreiber", "plz", "anschlussleistung_kw"]

[[datastreams]]
id = "occupied"
name = "Occupied charging points at {adresse}"
observed_property = { name = "Occupied charging points", definition = "https://example.org/occupied" }
unit = { name = "count", symbol = "{points}" }
sensor = { id = "backend", name = "Operator backend" }
"""


@pytest.fixture
def sta(engine: Engine, settings: Settings) -> Iterator[LocalClient]:
    client = LocalClient(engine, settings)
    yield client
    client.close()


def mapping_file(tmp_path: Path, text: str = MAPPING, name: str = "ev.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(sta: LocalClient, path: str) -> int:
    return sta.get(path, {"$count": "true", "$top": "0"})["@iot.count"]


def thing(sta: LocalClient, name: str) -> dict[str, Any]:
    query = {
        "$filter": f"name eq '{name}'",
        "$expand": "Locations,Datastreams($expand=Sensor,ObservedProperty)",
    }
    found = sta.get("Things", query)["value"]
    assert len(found) == 1, (name, found)
    return found[0]


def test_the_real_register_imports_whole_and_once(sta: LocalClient, tmp_path: Path) -> None:
    mapping = read_mapping(mapping_file(tmp_path))
    report = import_things(
        sta, REGISTER, mapping, Provenance(source="Bundesnetzagentur", licence="CC BY 4.0")
    )

    assert report.rows == 77 and not report.problems
    assert report.created == {"Things": 77, "Sensors": 1, "ObservedProperties": 1, "Datastreams": 77}
    first = thing(sta, "Charging station Stadtwerke Leipzig GmbH, Kurt-Schumacher Straße 6")
    assert first["description"] == "Normalladeeinrichtung, 4 charging points"
    assert first["properties"] == {
        "betreiber": "Stadtwerke Leipzig GmbH",
        "plz": "04103",  # a leading zero keeps it text
        "anschlussleistung_kw": 44.0,
        "source": "Bundesnetzagentur",
        "licence": "CC BY 4.0",
        "import_key": "table:ev:Stadtwerke Leipzig GmbH Kurt-Schumacher Straße 6",
    }
    assert first["Locations"][0]["location"] == {"type": "Point", "coordinates": [12.379215, 51.344799]}
    stream = first["Datastreams"][0]
    assert stream["name"] == "Occupied charging points at Kurt-Schumacher Straße 6"
    assert stream["Sensor"]["name"] == "Operator backend"
    assert stream["ObservedProperty"]["definition"] == "https://example.org/occupied"
    # Two devices at one address: the second row's Thing is numbered.
    keys = [t["properties"]["import_key"] for t in sta.entities("Things", {"$top": "1000"})]
    assert sum(key.endswith(" #2") for key in keys) == 7

    again = import_things(sta, REGISTER, mapping)
    assert not again.created
    assert count(sta, "Things") == 77 and count(sta, "Datastreams") == 77


def test_a_repeated_id_is_refused_unless_numbered(sta: LocalClient, tmp_path: Path) -> None:
    strict = read_mapping(mapping_file(tmp_path, MAPPING.replace('repeated = "number"\n', "")))
    with pytest.raises(ValueError, match=r"row \d+: the id '.+' of row \d+ again; ids must be unique"):
        import_things(sta, REGISTER, strict)
    assert count(sta, "Things") == 0  # refused before anything was written


def register_rows() -> list[dict[str, str]]:
    with open(REGISTER, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))[:3]


def test_an_xlsx_table_with_german_coordinate_columns(sta: LocalClient, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Ladepunkte"
    sheet.append(["Ladeeinrichtungen, Stand 2019"])  # a line of text above the header, as registers have
    sheet.append(["betreiber", "adresse", "Breitengrad", "Längengrad", "art", "anzahl_ladepunkte"])
    for row in register_rows():
        sheet.append([row["betreiber"], row["adresse"], float(row["lat"]), float(row["lon"]), row["art"], 4])
    table = tmp_path / "register.xlsx"
    book.save(table)
    text = MAPPING.replace(
        'properties = ["betreiber", "plz", "anschlussleistung_kw"]', 'properties = ["betreiber"]'
    )
    text = '[table]\nsheet = "Ladepunkte"\nheader_line = 2\n' + text
    report = import_things(sta, table, read_mapping(mapping_file(tmp_path, text)))

    assert report.created["Things"] == 3
    first = thing(sta, "Charging station Stadtwerke Leipzig GmbH, Kurt-Schumacher Straße 6")
    assert first["Locations"][0]["location"] == {"type": "Point", "coordinates": [12.379215, 51.344799]}


def test_a_geojson_table_and_projected_csv_coordinates(sta: LocalClient, tmp_path: Path) -> None:
    table = tmp_path / "sites.geojson"
    table.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "S1", '
        '"name": "Site 1"}, "geometry": {"type": "Point", "coordinates": [13.74, 51.06]}}]}',
        encoding="utf-8",
    )
    text = '[thing]\nid = "id"\nname = "{name}"\n'
    import_things(sta, table, read_mapping(mapping_file(tmp_path, text, "sites.toml")))
    assert thing(sta, "Site 1")["Locations"][0]["location"]["coordinates"] == [13.74, 51.06]

    projected = tmp_path / "sites.csv"
    projected.write_text(
        "Nr;Bezeichnung;Rechtswert;Hochwert\nS2;Site 2;316000,123;5690000,456\n", encoding="utf-8"
    )
    text = '[table]\ncrs = "EPSG:25833"\n[thing]\nid = "Nr"\nname = "{Bezeichnung}"\n'
    import_things(sta, projected, read_mapping(mapping_file(tmp_path, text, "sites.toml")))
    lon, lat = thing(sta, "Site 2")["Locations"][0]["location"]["coordinates"]
    expected = Transformer.from_crs("EPSG:25833", "OGC:CRS84", always_xy=True).transform(
        316000.123, 5690000.456
    )
    assert (lon, lat) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[thing]\nname = "x"\n', r"\[thing.id\] expected the column"),
        ('[thing]\nid = "a"\nname = "x"\ncolour = 1\n', r"\[thing\] unknown key 'colour'"),
        (
            '[thing]\nid = "a"\nname = "x"\n[[datastreams]]\nid = "d"\nname = "n"\nunit = "furlong"\n'
            'observed_property = "no2"\nsensor = { name = "s" }\n',
            r"unknown unit 'furlong'",
        ),
        (
            '[thing]\nid = "a"\nname = "x"\n[[datastreams]]\nid = "d"\nname = "n"\nunit = "ug/m3"\n'
            'observed_property = "smog"\nsensor = { name = "s" }\n',
            r"unknown component 'smog'",
        ),
        ("[thing\n", r"not TOML"),
    ],
)
def test_a_bad_mapping_is_named(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        read_mapping(mapping_file(tmp_path, text))


def test_a_missing_column_is_named(sta: LocalClient, tmp_path: Path) -> None:
    text = MAPPING.replace('"adresse"]', '"strasse"]')
    with pytest.raises(ValueError, match=r"no column 'strasse' in ladesaeulen"):
        import_things(sta, REGISTER, read_mapping(mapping_file(tmp_path, text)))
    text = MAPPING.replace('{adresse}"\n', '{hausnummer}"\n', 1)
    with pytest.raises(ValueError, match=r"\[thing.name\]: no column 'hausnummer'"):
        import_things(sta, REGISTER, read_mapping(mapping_file(tmp_path, text)))


def test_the_command_with_provenance_dataset_and_features(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from urbantwin.store.access_schema import datasets
    from urbantwin.store.features_schema import collections, features
    from urbantwin.store.schema import things

    url = ["--database-url", settings.database_url]
    org = ["org", "add", "bnetza", "--title", "Bundesnetzagentur", "--kind", "administration"]
    assert runner.invoke(app, [*org, *url]).exit_code == 0
    mapping = mapping_file(tmp_path, MAPPING + '\n[features]\ncollection = "charging"\ntitle = "Charging"\n')
    args = ["import", "things", str(REGISTER), "--mapping", str(mapping), "--publisher", "bnetza"]
    args += ["--licence", "CC BY 4.0", "--source", "Ladesäulenregister", *url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Created: 77 Things" in result.output
    assert "Collection 'charging': 77 inserted" in result.output
    with engine.connect() as connection:
        record = connection.execute(select(datasets).where(datasets.c.id == "ev")).one()
        in_dataset = set(connection.execute(select(things.c.dataset_id)).scalars())
        stored = connection.execute(select(features.c.id).where(features.c.collection_id == "charging")).all()
        licence = connection.execute(
            select(collections.c.licence).where(collections.c.id == "charging")
        ).scalar()
    assert (record.publisher_id, record.licence) == ("bnetza", "cc-by/4.0") and in_dataset == {"ev"}
    assert len(stored) == 77 and licence == "CC BY 4.0"

    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "Created: nothing new." in again.output
    assert "0 inserted, 0 updated, 77 unchanged" in again.output

    bad = runner.invoke(
        app, ["import", "things", str(REGISTER), "--mapping", str(tmp_path / "none.toml"), *url]
    )
    assert bad.exit_code == 2
