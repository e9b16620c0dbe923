"""The Leipzig base layers of the city model: districts, buildings, trees, stops, WLAN nodes, EV charging.

`load_feature_layers(engine)` imports the files of `data/` (origin and licence of each in
SOURCES.md) as collections through the importers of `urbantwin.ingest` (GeoJSON, CSV, CityJSON),
so loading twice changes nothing. What is derived rather than read (building heights, population
attached to districts, the LoD1 solids extruded from OSM footprints) says so in the features'
properties.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from urbantwin.infrastructure.sites import register
from urbantwin.ingest.cityjson import import_cityjson
from urbantwin.ingest.csvfile import read_csv
from urbantwin.ingest.geojson import CRS84, read_features
from urbantwin.ingest.heights import HeightEstimate, estimate_heights
from urbantwin.ingest.pipeline import CollectionInfo, ImportReport, crs_name, store_rows
from urbantwin.store.engine import for_writes

DATA = Path(__file__).parent / "data"
BUILDING_FILES = [
    f"osm_buildings_{name}-2025.geojson" for name in ("Plagwitz", "Lindenau", "Altlindenau", "Neulindenau")
]
POPULATION_FILE = "leipzig_einwohner_2000-2024.csv"
STREET_TREES_FILE = "street_trees_west_and_zentrum_2024-06-07.geojson"
LOD1_FILE = "plagwitz_lod1_derived.city.json"
POPULATION_SOURCE = "Stadt Leipzig, Amt für Statistik und Wahlen (residents per year, 2000-2024)"
#: Metres per storey and per roof storey when a building's height is derived from its levels.
STOREY_M, ROOF_STOREY_M = 3.0, 1.5

OSM = ("ODbL-1.0", "© OpenStreetMap contributors")
LAYERS: dict[str, CollectionInfo] = {
    "ortsteile": CollectionInfo(
        "ortsteile",
        "Leipzig Ortsteile",
        "The 63 Ortsteile (localities) of Leipzig with their official numbers, Stadtbezirk and area, "
        "and the residents per year 2000-2024 (`einwohner_<year>`). Zentrum's polygon is derived as the "
        "hole left by the other 62 (`geometry_derived`).",
        "MIT (Code for Leipzig); geometries most likely Stadt Leipzig open data (dl-de/by-2-0); "
        "population: no licence stated",
        "Stadt Leipzig; Code for Leipzig (CodeforLeipzig/Gentrification); population: " + POPULATION_SOURCE,
        ["Leipzig", "districts", "Ortsteile", "population"],
    ),
    "stadtbezirke": CollectionInfo(
        "stadtbezirke",
        "Leipzig Stadtbezirke",
        "The 10 Stadtbezirke (boroughs) of Leipzig, dissolved from the Ortsteile, with the residents per "
        "year 2000-2024 (`einwohner_<year>`).",
        "MIT (Code for Leipzig); geometries most likely Stadt Leipzig open data (dl-de/by-2-0); "
        "population: no licence stated",
        "Stadt Leipzig; Code for Leipzig; population: " + POPULATION_SOURCE,
        ["Leipzig", "districts", "Stadtbezirke", "population"],
    ),
    "city-boundary": CollectionInfo(
        "city-boundary",
        "Leipzig city boundary",
        "The boundary of the city of Leipzig (one MultiPolygon).",
        "MIT (greenbluelab, CodeforLeipzig/leipzig-giesst-treedata)",
        "Stadt Leipzig; greenbluelab / Code for Leipzig",
        ["Leipzig", "boundary"],
    ),
    "buildings": CollectionInfo(
        "buildings",
        "Buildings of Leipzig-West (OSM, 2025)",
        "OpenStreetMap building footprints of Plagwitz, Lindenau, Altlindenau and Neulindenau (state about "
        "2025-01-01) with their OSM tags. `height_m` is the OSM `height` where tagged, else derived as "
        f"building:levels × {STOREY_M:g} m + roof:levels × {ROOF_STOREY_M:g} m (`height_source` says which); "
        "without either it is null, and the height drawn is an estimate (`height_estimated`, "
        "`height_estimate_m`; `height_source` names the method: the median of the buildings of the same "
        "type, a typical one-storey height, or the median of the neighbours within 100 m).",
        *OSM,
        ["Leipzig", "buildings", "OpenStreetMap", "SPARCS"],
    ),
    "street_trees": CollectionInfo(
        "street_trees",
        "Street trees of Leipzig-West and Zentrum (2024-06-07)",
        "The 8,773 street trees of the Straßenbaumkataster (export of 2024-06-07) in the Ortsteile "
        "Plagwitz, Lindenau, Altlindenau, Neulindenau and Zentrum, Zentrum-Ost, -Südost, -Süd, -West, "
        "-Nordwest, -Nord: site number (`standortnr`, the feature id), Ortsteil, street, genus, "
        "botanical and German species name, planting year and age as the source gives it. Street trees "
        "only, no park or private trees; no crown, height or trunk sizes.",
        "none stated (Stadt Leipzig Straßenbaumkataster, usually dl-de/by-2-0; repository "
        "CodeforLeipzig/giessdeibohm MIT)",
        "Stadt Leipzig, Straßenbaumkataster; Code for Leipzig (OK Lab Leipzig, giessdeibohm)",
        ["Leipzig", "trees", "green", "Straßenbaumkataster"],
    ),
    "buildings_lod1_plagwitz": CollectionInfo(
        "buildings_lod1_plagwitz",
        "LoD1 buildings of Plagwitz (derived from OSM, 2025)",
        "The 1,482 buildings of Plagwitz as LoD1 solids (CityJSON 2.0, EPSG:25833), extruded from the "
        "OpenStreetMap footprints of about 2025-01-01 — NOT an official 3D city model. Height "
        "(`measuredHeight`, `height_m`): OSM `height`, else building:levels × 3 m + roof:levels × 1.5 m, "
        "else 3 m for small buildings and 9 m otherwise (`height_source` says which); base z = 0 (no "
        "terrain). The geometry is the footprint; each feature keeps its solid in `cityjson`.",
        *OSM,
        ["Leipzig", "buildings", "3D", "LoD1", "CityJSON", "OpenStreetMap", "SPARCS"],
    ),
    "lvb-stops": CollectionInfo(
        "lvb-stops",
        "LVB public transport stops (2018)",
        "The 765 stops of the Leipziger Verkehrsbetriebe timetable 2017/2018 (GTFS stops), with the Ortsteil "
        "each lies in (null outside the city).",
        "none stated (LVB GTFS from the Stadt Leipzig open-data portal; repository Apache-2.0)",
        "Leipziger Verkehrsbetriebe (LVB) via opendata.leipzig.de; LeipzigData/Tools",
        ["Leipzig", "public transport", "stops", "GTFS"],
    ),
    "freifunk-nodes": CollectionInfo(
        "freifunk-nodes",
        "Freifunk Leipzig WLAN nodes (2020-03-03)",
        "The 209 located nodes of the Freifunk Leipzig community mesh network at 2020-03-03 14:26 CET, with "
        "their client counts; personal fields (owner, hostname, MAC, addresses) removed.",
        "none stated (Freifunk Leipzig meshviewer; repository mwarning/meshnet-lab MIT)",
        "Freifunk Leipzig community",
        ["Leipzig", "WLAN", "Freifunk", "digital infrastructure"],
    ),
    "ev-charging": CollectionInfo(
        "ev-charging",
        "Public EV charging stations in Leipzig (2019-07-19)",
        "The 77 public charging stations in Leipzig of the Bundesnetzagentur's Ladesäulenregister "
        "(Stand 19.07.2019), as points from their coordinates.",
        "CC-BY-4.0",
        "Bundesnetzagentur, Ladesäulenregister (Stand 19.07.2019)",
        ["Leipzig", "e-mobility", "charging"],
    ),
}


def load_feature_layers(engine: Engine, progress: bool = True) -> list[ImportReport]:
    """Import every base layer into the store (idempotent); one report per collection."""
    population = _population()
    reports = []

    def districts(level: str, key_field: str):  # noqa: ANN202 - a Prepare hook
        def prepare(properties: dict[str, Any]) -> tuple[dict[str, Any], None, None, None]:
            figures = population.get((level, str(properties.get(key_field))), {})
            if figures:
                properties = {**properties, **figures, "population_source": POPULATION_SOURCE}
            return properties, None, None, None

        return prepare

    for collection, file, prepare, id_property in (
        ("ortsteile", "leipzig_ortsteile.geojson", districts("ortsteil", "ot_nr"), None),
        (
            "stadtbezirke",
            "leipzig_stadtbezirke_dissolved.geojson",
            districts("stadtbezirk", "stadtbezirk_nr"),
            None,
        ),
        ("city-boundary", "leipzig_city_boundary.geojson", None, None),
        ("lvb-stops", "lvb_stops_2018.geojson", None, "stop_id"),
        ("freifunk-nodes", "freifunk_leipzig_nodes_2020-03-03.geojson", None, None),
    ):
        crs, rows = read_features(DATA / file, id_property, prepare)
        reports.append(
            store_rows(engine, rows, LAYERS[collection], crs_name(crs), progress=progress, label=file)
        )
    reports.append(_buildings(engine, progress))
    crs, rows = read_features(DATA / STREET_TREES_FILE, "standortnr")
    reports.append(
        store_rows(
            engine, rows, LAYERS["street_trees"], crs_name(crs), progress=progress, label=STREET_TREES_FILE
        )
    )
    reports.append(
        import_cityjson(engine, DATA / LOD1_FILE, LAYERS["buildings_lod1_plagwitz"], progress=progress)
    )
    reports.append(_ev_charging(engine, progress))
    _freifunk_sites(engine)
    return reports


def _freifunk_sites(engine: Engine) -> None:
    """The Freifunk nodes are the demo's WLAN sites (`/api/infrastructure/sites`): the collection is
    registered as a site registry whose sites are Wi-Fi hotspots of the community, named by node id
    (`sensorthings.py` loads their client counts at the snapshot, keyed as the Freifunk importer
    keys them)."""
    with for_writes(engine).begin() as connection:
        register(
            connection,
            "freifunk-nodes",
            "Freifunk Leipzig",
            "freifunk",
            {
                "technology": "wlan",
                "id_property": "node_id",
                "keep": ["is_online", "is_gateway", "clients", "model", "inside_leipzig_city"],
            },
        )


def _population() -> dict[tuple[str, str], dict[str, int]]:
    """Residents per year by (level, number): `einwohner_2000` … `einwohner_2024`."""
    figures: dict[tuple[str, str], dict[str, int]] = {}
    with (DATA / POPULATION_FILE).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["ebene"] == "ortsteil":
                key = ("ortsteil", row["ot_nr"])
            elif row["ebene"] == "stadtbezirk":
                key = ("stadtbezirk", row["stadtbezirk_nr"])
            else:
                continue
            figures.setdefault(key, {})[f"einwohner_{row['jahr']}"] = int(row["einwohner"])
    return figures


def building_height(properties: dict[str, Any]) -> tuple[dict[str, Any], float | None, None, None]:
    """The building's height: OSM `height` if tagged, else derived from its levels (labelled so)."""
    height: float | None = None
    source = None
    tagged = _number(properties.get("height"))
    levels = _number(properties.get("building:levels"))
    roof = _number(properties.get("roof:levels")) or 0.0
    if tagged is not None and tagged > 0:
        height, source = tagged, "osm:height"
    elif levels is not None and levels > 0:
        height = levels * STOREY_M + roof * ROOF_STOREY_M
        source = f"derived: building:levels × {STOREY_M:g} m + roof:levels × {ROOF_STOREY_M:g} m"
    extra = {"height_m": height, "height_source": source, "levels": levels}
    return {**properties, **extra}, height, None, None


def _number(value: Any) -> float | None:
    """A number from an OSM tag such as "12", "12.5 m" or "3;4" (the first); None if there is none."""
    if value is None:
        return None
    match = re.match(r"\s*(\d+(?:[.,]\d+)?)", str(value))
    return float(match.group(1).replace(",", ".")) if match else None


def _buildings(engine: Engine, progress: bool) -> ImportReport:
    """The four Ortsteil files as one collection; a way in two files is kept once (the first)."""
    rows, seen, crs = [], set(), CRS84
    for file in BUILDING_FILES:
        crs, file_rows = read_features(DATA / file, "id", building_height)
        for row in file_rows:
            if row.key not in seen:
                seen.add(row.key)
                row.properties["source_file"] = file
                rows.append(row)
    # Over the four files at once: a building at a file's edge has its neighbours in the next one.
    estimated = estimate_heights(rows, HeightEstimate())
    report = store_rows(
        engine, rows, LAYERS["buildings"], crs_name(crs), progress=progress, label="buildings"
    )
    report.notes.append(estimated.summary())
    return report


def _ev_charging(engine: Engine, progress: bool) -> ImportReport:
    """The register's rows as points (CSV importer); the id is the row number of the (unchanging) file."""
    file = DATA / "ladesaeulen_leipzig_2019-07-19.csv"

    def prepare(properties: dict[str, Any]) -> tuple[dict[str, Any], None, datetime | None, None]:
        properties = dict(properties)
        for name in ("anschlussleistung_kw", "p1_kw", "p2_kw", "p3_kw", "p4_kw"):
            properties[name] = float(properties[name]) if properties.get(name) else None
        if properties.get("anzahl_ladepunkte"):
            properties["anzahl_ladepunkte"] = int(properties["anzahl_ladepunkte"])
        commissioned = properties.get("inbetriebnahme")
        # in service since commissioning
        valid_from = datetime.fromisoformat(commissioned).replace(tzinfo=UTC) if commissioned else None
        return properties, None, valid_from, None

    crs, rows = read_csv(file, x_column="lon", y_column="lat", infer_types=False, prepare=prepare)
    return store_rows(engine, rows, LAYERS["ev-charging"], crs_name(crs), progress=progress, label=file.name)
