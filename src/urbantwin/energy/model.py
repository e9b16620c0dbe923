"""The district model: buildings of the twin with use, floor area, age, roof, demand and equipment.

Input is any building collection of the store (OSM footprints with their tags, as the demo's
`buildings`), read through the `features` table, so any city's buildings work; tests pass in-memory
`BuildingRecord`s. Every attribute the model uses says whether it was read or assumed
(`*_source` = `osm:<tag>`, `derived: …` or `assumed: …`), and the outputs carry those labels.

- **Footprint** area in m² in the UTM zone the buildings lie in (`metric_crs`: ETRS89 / UTM, e.g.
  EPSG:25833 east of 12° E, EPSG:25832 west of it, in Europe; WGS 84 / UTM elsewhere).
- **Levels**: `building:levels` (+ `roof_storey_share` × `roof:levels`), else `height` / storey height,
  else a default by use (assumed).
- **Use** from the OSM `building` tag (`USES`); `building=yes` is residential with an address,
  an unheated ancillary building below `ancillary_max_m2`, else commercial (assumed, labelled).
- **Age class** (TABULA) from `start_date` / `building:year` / `construction_date`, else a default
  by use (assumed, labelled).
- **Heated area** A_N = 0.32 m⁻¹ × heated gross volume (footprint × levels × storey height), the
  GEG/EnEV definition; ancillary buildings are unheated.
- **Roof**: `roof:shape` when tagged, else flat for commercial/industrial and pitched otherwise
  (assumed). Flat roof area = footprint; a pitched roof (`roof_pitch_deg`, 35° assumed) has two
  planes of footprint/2/cos(pitch), the
  ridge along the long side of the footprint's minimum rotated rectangle; PV goes on the plane that
  faces more to the south.
- **Size class** (TABULA): houses SFH, terraced/semi-detached TH, other residential MFH (TABULA's
  German MFH examples have 3-4 storeys), AB from 5 levels on (its AB examples have 5 and more).
- **Block**: footprints closer than 1 m to each other form one block (perimeter blocks of closed
  rows), a derived grouping for KPIs between building and district.
- **District**: the district of the city profile's districts collection the building lies in
  (`[[districts]]`: which property holds its name, which its population per year).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import Engine, select

from urbantwin.city_profile import CityProfile, Districts
from urbantwin.energy import loads
from urbantwin.energy.pv import azimuth_bin
from urbantwin.energy.scenario import BuildingParams, Scenario
from urbantwin.geometry import metric_crs
from urbantwin.store.city import read_profile
from urbantwin.store.features_schema import features

#: OSM `building` values by the use the model gives them.
USES: dict[str, tuple[str, ...]] = {
    "house": ("house", "detached", "bungalow", "farm", "cabin"),
    "terrace": ("terrace", "semidetached_house"),
    "residential": ("apartments", "residential", "dormitory"),
    "commercial": (
        "commercial",
        "office",
        "retail",
        "supermarket",
        "hotel",
        "service",
        "kiosk",
        "shop",
        "restaurant",
    ),
    "public": (
        "school",
        "kindergarten",
        "hospital",
        "civic",
        "public",
        "university",
        "college",
        "church",
        "chapel",
        "mosque",
        "sports_centre",
        "sport_hall",
        "sports_hall",
        "government",
        "fire_station",
        "train_station",
        "transportation",
    ),
    "industrial": ("industrial", "warehouse", "manufacture", "factory"),
    "agricultural": ("barn", "farm_auxiliary", "stable", "greenhouse", "cowshed"),
    "ancillary": (
        "garage",
        "garages",
        "shed",
        "roof",
        "hut",
        "carport",
        "allotment_house",
        "construction",
        "ruins",
        "bridge",
        "parking",
        "transformer_tower",
        "pavilion",
        "grandstand",
        "container",
        "toilets",
        "bunker",
    ),
}
USE_OF_TAG = {tag: use for use, tags in USES.items() for tag in tags}
RESIDENTIAL = ("house", "terrace", "residential")
#: Electricity profile of each use (BDEW 2025): households H25, trade G25, agriculture L25.
PROFILE_OF_USE = {
    "house": "H25",
    "terrace": "H25",
    "residential": "H25",
    "commercial": "G25",
    "public": "G25",
    "industrial": "G25",
    "agricultural": "L25",
    "ancillary": "G25",
}
PROFILES = ("H25", "G25", "L25")
FLAT_ROOF_USES = ("commercial", "industrial", "public")
PITCHED = {
    "gabled",
    "hipped",
    "double_saltbox",
    "gambrel",
    "saltbox",
    "quadruple_saltbox",
    "mansard",
    "half-hipped",
    "side_hipped",
    "pyramidal",
    "skillion",
    "many",
    "round",
    "dome",
}
#: Heat need of a refurbished non-residential building relative to its existing state (variant 2, 3):
#: about the ratio TABULA gives for German MFH/AB of 1860-1978 (variant 2 ≈ 0.4-0.5, variant 3 ≈ 0.2-0.3).
NONRESIDENTIAL_REFURBISHMENT = {1: 1.0, 2: 0.5, 3: 0.25}
BLOCK_GAP_M = 1.0
#: Property `read_buildings` gives a building: its district's name.
DISTRICT = "_district"
#: Property `read_buildings` gives a building: the latest population of its district (the profile's
#: population property of the newest year with a value).
RESIDENTS = "_district_residents"


@dataclass
class BuildingRecord:
    """A building as the store holds it: its key, OSM-style properties and WGS 84 footprint."""

    key: str
    properties: dict[str, Any]
    geometry: Any = None
    #: Footprint area [m²] when no geometry is given (tests); else measured from the geometry.
    footprint_m2: float | None = None


@dataclass
class Buildings:
    """The district's buildings as arrays (one entry per building), with what is assumed labelled."""

    keys: list[str]
    geometries: list[Any]
    use: list[str]
    use_source: list[str]
    footprint_m2: np.ndarray
    levels: np.ndarray
    levels_source: list[str]
    year: list[int | None]
    age_class: list[str]
    age_source: list[str]
    size_class: list[str | None]
    heated_area_m2: np.ndarray
    dwellings: np.ndarray
    roof_type: list[str]
    roof_source: list[str]
    roof_area_m2: np.ndarray
    #: Azimuth [°, 180 = south] of the plane PV goes on (pitched) or 180 (flat, racked to the south).
    pv_azimuth: np.ndarray
    pv_area_m2: np.ndarray
    block: list[str]
    district: list[str | None]
    street: list[str | None] = field(default_factory=list)
    dwellings_source: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)


def stable_uniform(seed: int, salt: str, keys: Sequence[str]) -> np.ndarray:
    """A uniform number in [0, 1) per key that depends only on seed, salt and key.

    Adoption draws use it, so a building that gets PV at 40 % adoption keeps it at 80 %, and the
    same building is chosen in every scenario with the same seed.
    """
    out = np.empty(len(keys))
    for i, key in enumerate(keys):
        digest = hashlib.blake2b(f"{seed}:{salt}:{key}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") / 2.0**64
    return out


def districts_of(scenario: Scenario, city: CityProfile) -> Districts | None:
    """The districts the scenario's `area` names: `scenario.districts_collection`, else the city
    profile's first districts collection, read as the profile says (name and population properties);
    None when neither names one."""
    collection = scenario.scenario.districts_collection
    if not collection:
        return city.districts[0] if city.districts else None
    return city.districts_of(collection) or Districts(collection)


def read_buildings(
    engine: Engine, scenario: Scenario, city: CityProfile | None = None
) -> list[BuildingRecord]:
    """The buildings of the scenario's area from the store (collection rows, geometry as WKB).

    `scenario.area` names districts (see `districts_of`; `city` defaults to the store's profile);
    buildings whose representative point lies in one of them are taken, each with its district's
    name and latest population. With an empty area, all buildings of the collection are taken.
    """
    info = scenario.scenario
    with engine.connect() as connection:
        rows = connection.execute(
            select(features.c.feature_key, features.c.properties, features.c.geom)
            .where(features.c.collection_id == info.buildings_collection)
            .order_by(features.c.id)
        ).all()
    records = [
        BuildingRecord(str(key), dict(properties or {}), shapely.from_wkb(geom) if geom else None)
        for key, properties, geom in rows
    ]
    if not info.area or not records:
        return records
    city = city if city is not None else read_profile(engine)
    districts = districts_of(scenario, city)
    if districts is None:
        raise ValueError(
            f"area: {', '.join(info.area)} names districts, but the city profile names no districts "
            "collection ([[districts]]) and the scenario none (scenario.districts_collection)"
        )
    with engine.connect() as connection:
        areas = connection.execute(
            select(features.c.properties, features.c.geom).where(
                features.c.collection_id == districts.collection
            )
        ).all()
    if not areas:
        raise ValueError(f"area: the districts collection '{districts.collection}' has no districts")
    wanted = {name.casefold() for name in info.area}
    polygons = {}
    residents: dict[str, int] = {}
    for properties, geom in areas:
        name = str((properties or {}).get(districts.name_property, ""))
        if name.casefold() in wanted and geom:
            polygons[name] = shapely.from_wkb(geom)
            count = latest_population(properties or {}, districts)
            if count:
                residents[name] = count
    missing = wanted - {n.casefold() for n in polygons}
    if missing:
        raise ValueError(
            f"area: no district named {', '.join(sorted(missing))} in collection '{districts.collection}'"
        )
    kept = []
    points = shapely.point_on_surface(np.array([r.geometry for r in records], dtype=object))
    for record, point in zip(records, points, strict=True):
        for name, polygon in polygons.items():
            if point is not None and polygon.contains(point):
                record.properties = {**record.properties, DISTRICT: name}
                if name in residents:
                    record.properties[RESIDENTS] = residents[name]
                kept.append(record)
                break
    return kept


def latest_population(properties: dict[str, Any], districts: Districts) -> int | None:
    """The population of a district in the newest year its properties give one (None: none given)."""
    counts = []
    for key, value in properties.items():
        year = districts.population_year(key)
        if year is not None and isinstance(value, int | float) and not isinstance(value, bool) and value:
            counts.append((year, int(value)))
    return max(counts)[1] if counts else None


def _number(value: Any) -> float | None:
    """A number from an OSM tag such as "4", "12.5 m" or "3;4" (the first), else None."""
    if value is None:
        return None
    match = re.match(r"\s*(\d+(?:[.,]\d+)?)", str(value))
    return float(match.group(1).replace(",", ".")) if match else None


def _year(properties: dict[str, Any]) -> tuple[int | None, str]:
    for tag in ("start_date", "building:year", "construction_date", "year_of_construction"):
        match = re.search(r"(1[5-9]\d\d|20\d\d)", str(properties.get(tag) or ""))
        if match:
            return int(match.group(1)), f"osm:{tag}"
    return None, ""


def _metric(geometries: list[Any]) -> np.ndarray:
    west, south, east, north = shapely.total_bounds(np.array(geometries, dtype=object))
    crs = metric_crs((west + east) / 2.0, (south + north) / 2.0)
    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    array = np.array(geometries, dtype=object)
    return shapely.transform(array, project) if len(array) else array


def _ridge_planes(metric: np.ndarray) -> np.ndarray:
    """The azimuth [°] of the more southern roof plane, the ridge along the footprint's long side."""
    out = np.full(len(metric), 180.0)
    for i, geometry in enumerate(metric):
        if geometry is None or geometry.is_empty:
            continue
        rectangle = shapely.oriented_envelope(geometry)
        coords = np.asarray(rectangle.exterior.coords) if rectangle.geom_type == "Polygon" else None
        if coords is None or len(coords) < 4:
            continue
        edges = np.diff(coords[:3], axis=0)
        long_edge = edges[np.argmax(np.hypot(edges[:, 0], edges[:, 1]))]
        bearing = math.degrees(math.atan2(long_edge[0], long_edge[1])) % 180.0
        planes = ((bearing + 90.0) % 360.0, (bearing + 270.0) % 360.0)
        out[i] = min(planes, key=lambda a: abs(a - 180.0))
    return out


def _blocks(metric: np.ndarray, keys: Sequence[str]) -> list[str]:
    """Connected groups of footprints closer than `BLOCK_GAP_M`, named after their first key."""
    n = len(metric)
    if n == 0:
        return []
    valid = np.array([g is not None and not g.is_empty for g in metric])
    shown: Any = np.where(valid, metric, None)  # type: ignore[call-overload]  # numpy's stubs know no object arrays
    tree = shapely.STRtree(shown)
    left, right = tree.query(shown, predicate="dwithin", distance=BLOCK_GAP_M)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    first: dict[int, str] = {}
    for label, key in zip(labels, keys, strict=True):
        first.setdefault(int(label), key)
    return [f"block-{first[int(label)]}" for label in labels]


def describe(records: Sequence[BuildingRecord], params: BuildingParams | None = None) -> Buildings:
    """Use, floor area, age class, heated area, roof and block of each building (see module doc)."""
    p = params or BuildingParams()
    keys = [r.key for r in records]
    geometries = [r.geometry for r in records]
    has_geometry = all(g is not None for g in geometries) and len(records) > 0
    metric = _metric(geometries) if has_geometry else np.array([None] * len(records), dtype=object)
    areas = np.array(
        [
            float(r.footprint_m2)
            if r.footprint_m2 is not None
            else float(shapely.area(m))
            if m is not None
            else 0.0
            for r, m in zip(records, metric, strict=True)
        ]
    )
    ridge = _ridge_planes(metric) if has_geometry else np.full(len(records), 180.0)
    blocks = _blocks(metric, keys) if has_geometry else [f"block-{k}" for k in keys]
    out = Buildings(
        keys=keys,
        geometries=geometries,
        use=[],
        use_source=[],
        footprint_m2=areas,
        levels=np.zeros(len(records)),
        levels_source=[],
        year=[],
        age_class=[],
        age_source=[],
        size_class=[],
        heated_area_m2=np.zeros(len(records)),
        dwellings=np.zeros(len(records)),
        roof_type=[],
        roof_source=[],
        roof_area_m2=np.zeros(len(records)),
        pv_azimuth=np.zeros(len(records)),
        pv_area_m2=np.zeros(len(records)),
        block=blocks,
        district=[],
        street=[],
    )
    tilt = math.radians(p.roof_pitch_deg)
    for i, record in enumerate(records):
        props = record.properties
        tag = str(props.get("building") or "yes")
        if tag in USE_OF_TAG:
            use, use_source = USE_OF_TAG[tag], f"osm:building={tag}"
        elif tag == "yes" and props.get("addr:housenumber"):
            use, use_source = "residential", "assumed: building=yes with an address is residential"
        elif tag == "yes" and areas[i] < p.ancillary_max_m2:
            use, use_source = (
                "ancillary",
                f"assumed: building=yes under {p.ancillary_max_m2:g} m² is ancillary",
            )
        elif tag == "yes":
            use, use_source = "commercial", "assumed: building=yes without an address is commercial"
        else:
            use, use_source = "commercial", f"assumed: building={tag} treated as commercial"
        levels = _number(props.get("building:levels"))
        roof_levels = _number(props.get("roof:levels")) or 0.0
        height = _number(props.get("height")) or _number(props.get("height_m"))
        if levels is not None and levels > 0:
            level_count = levels + p.roof_storey_share * roof_levels
            levels_source = "osm:building:levels" + (" + roof:levels" if roof_levels else "")
        elif height is not None and height > 0:
            level_count = max(1.0, round(height / p.storey_height_m))
            levels_source = f"derived: height / {p.storey_height_m:g} m"
        else:
            level_count = {
                "residential": p.levels_apartments,
                "house": p.levels_house,
                "terrace": p.levels_house,
                "industrial": p.levels_industrial,
                "ancillary": 1.0,
            }.get(use, p.levels_other)
            levels_source = f"assumed: {level_count:g} levels for {use}"
        year, year_source = _year(props)
        if year is not None:
            age_class, age_source = loads.age_class_of(year), year_source
        else:
            default = (
                p.age_residential
                if use == "residential"
                else p.age_house
                if use in ("house", "terrace")
                else p.age_nonresidential
            )
            age_class, age_source = default, f"assumed: {default} for {use} without a date"
        heated = (
            0.0 if use == "ancillary" else p.heated_volume_factor * areas[i] * level_count * p.storey_height_m
        )
        dwellings = 0.0
        size_class = None
        if use in RESIDENTIAL:
            dwellings = max(1.0, round(heated * p.living_area_share / p.dwelling_m2))
            if use == "house":
                size_class, dwellings = "SFH", min(dwellings, 2.0)
            elif use == "terrace":
                size_class, dwellings = "TH", min(dwellings, 2.0)
            else:
                size_class = "AB" if level_count >= 5 else "MFH"
        shape = str(props.get("roof:shape") or "")
        if shape == "flat":
            roof, roof_source = "flat", "osm:roof:shape=flat"
        elif shape in PITCHED:
            roof, roof_source = "pitched", f"osm:roof:shape={shape}"
        elif use in FLAT_ROOF_USES:
            roof, roof_source = "flat", f"assumed: flat roof for {use}"
        else:
            roof, roof_source = "pitched", f"assumed: pitched roof for {use}"
        if roof == "flat":
            roof_area = areas[i]
            azimuth = 180.0
        else:
            roof_area = areas[i] / math.cos(tilt)
            azimuth = azimuth_bin(float(ridge[i]))
        out.use.append(use)
        out.use_source.append(use_source)
        out.levels[i] = level_count
        out.levels_source.append(levels_source)
        out.year.append(year)
        out.age_class.append(age_class)
        out.age_source.append(age_source)
        out.size_class.append(size_class)
        out.heated_area_m2[i] = heated
        out.dwellings[i] = dwellings
        out.roof_type.append(roof)
        out.roof_source.append(roof_source)
        out.roof_area_m2[i] = roof_area
        out.pv_azimuth[i] = azimuth
        out.district.append(props.get(DISTRICT))
        out.street.append(props.get("addr:street"))
    out.dwellings_source = ["derived: living area / dwelling size"] * len(records)
    if p.calibrate_to_residents:
        _calibrate_dwellings(out, records, p)
    return out


def _calibrate_dwellings(out: Buildings, records: Sequence[BuildingRecord], p: BuildingParams) -> None:
    """Scale the flats of multi-family buildings so each district houses its residents.

    Floor areas from footprints × levels overestimate living space (stairs, walls, shops on the ground
    floor, attics); the district's residents (the population property the city profile names for the
    districts collection) divided by the persons per household give the number of households, which
    the multi-family buildings of the district share in proportion to their estimated flats. Houses
    keep theirs.
    """
    groups: dict[str, list[int]] = {}
    residents: dict[str, int] = {}
    for i, record in enumerate(records):
        name = out.district[i]
        count = record.properties.get(RESIDENTS)
        if name and count and out.use[i] in RESIDENTIAL:
            groups.setdefault(name, []).append(i)
            residents[name] = int(count)
    for name, members in groups.items():
        index = np.array(members)
        flats = np.array([out.use[i] == "residential" for i in members])
        households = residents[name] / p.persons_per_household
        fixed = out.dwellings[index[~flats]].sum()
        estimated = out.dwellings[index[flats]].sum()
        if estimated <= 0 or households <= fixed:
            continue
        factor = (households - fixed) / estimated
        out.dwellings[index[flats]] = np.maximum(out.dwellings[index[flats]] * factor, 1.0)
        for i in index[flats]:
            out.dwellings_source[i] = f"derived: calibrated to the residents of {name} ({residents[name]})"


def refurbishment_state(buildings: Buildings, scenario: Scenario) -> np.ndarray:
    """TABULA variant (1 existing, 2 usual, 3 advanced refurbishment) of each building (seeded draw)."""
    b = scenario.buildings
    draw = stable_uniform(scenario.scenario.seed, "refurbishment", buildings.keys)
    state = np.ones(len(buildings), dtype=int)
    state[draw < b.refurbished_share + b.advanced_refurbished_share] = 2
    state[draw < b.advanced_refurbished_share] = 3
    return state


@dataclass
class Demand:
    """Annual demand per building, with the typology used (labelled)."""

    electricity_kwh: np.ndarray
    #: Index into `model.PROFILES` of each building's BDEW profile.
    profile: np.ndarray
    space_heat_kwh: np.ndarray
    hot_water_kwh: np.ndarray
    typology: list[str]
    variant: np.ndarray
    #: Internal heat capacity [kWh/K] (TABULA c_m × A_N), the thermal mass usable as storage.
    heat_capacity_kwh_per_k: np.ndarray


def demand(buildings: Buildings, scenario: Scenario, climate: loads.Climate) -> Demand:
    """Electricity (BDEW annual figures) and heat (TABULA) per building, per year."""
    b = scenario.buildings
    table = loads.typologies(climate, b.east_german_types)
    variant = refurbishment_state(buildings, scenario)
    n = len(buildings)
    out = Demand(
        electricity_kwh=np.zeros(n),
        profile=np.zeros(n, dtype=int),
        space_heat_kwh=np.zeros(n),
        hot_water_kwh=np.zeros(n),
        typology=[],
        variant=variant,
        heat_capacity_kwh_per_k=np.zeros(n),
    )
    for i in range(n):
        use = buildings.use[i]
        area = buildings.heated_area_m2[i]
        out.profile[i] = PROFILES.index(PROFILE_OF_USE[use])
        if use in RESIDENTIAL:
            typology = loads.lookup(
                table, buildings.size_class[i] or "MFH", buildings.age_class[i], int(variant[i])
            )
            out.electricity_kwh[i] = buildings.dwellings[i] * b.electricity_kwh_per_dwelling
            out.space_heat_kwh[i] = typology.q_heating * area
            out.hot_water_kwh[i] = typology.q_hot_water * area
            out.heat_capacity_kwh_per_k[i] = typology.c_m * area / 1000.0
            out.typology.append(typology.code)
        elif use == "ancillary":
            out.typology.append("")
            variant[i] = 1
        else:
            heat = b.nonresidential_heat_kwh_m2.get(use, b.nonresidential_heat_kwh_m2.get("commercial", 0.0))
            factor = NONRESIDENTIAL_REFURBISHMENT[int(variant[i])]
            out.space_heat_kwh[i] = heat * factor * area
            out.hot_water_kwh[i] = b.nonresidential_hot_water_kwh_m2 * area
            out.electricity_kwh[i] = b.nonresidential_electricity_kwh_m2.get(use, 0.0) * area
            # TABULA's c_m of 45 Wh/(m²K) for every German type; taken for non-residential too.
            out.heat_capacity_kwh_per_k[i] = 45.0 * area / 1000.0
            out.typology.append(f"assumed: {use} {heat:g} kWh/m²a × {factor:g} (refurbishment state)")
    return out


def records_from_features(rows: Iterable[tuple[str, dict[str, Any], bytes | None]]) -> list[BuildingRecord]:
    """Records from (key, properties, WKB) triples, as `read_buildings` makes them."""
    return [BuildingRecord(k, dict(p or {}), shapely.from_wkb(g) if g else None) for k, p, g in rows]
