"""The SensorThings API driven by clients that others wrote: frost-sta-client and stapy.

Each test uses a client the way its own documentation does (its README and examples), against the
app served on a real port (`live_server`), on SQLite and on PostgreSQL. They double as examples:
connect, build the graph of a weather station, read it back with filters, expands and paging,
change it and delete it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import frost_sta_client as fsc
import pytest
import requests
import stapy
from fastapi import FastAPI
from geojson import Point
from sqlalchemy import Engine
from stapy import Delete, Entity, Patch, Post, Query
from stapy.sta.query import Expand

from tests.conftest import ADMIN_TOKEN
from urbantwin.app import create_app
from urbantwin.settings import Settings

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
TEMPERATURE = "http://vocab.nerc.ac.uk/collection/P07/current/CFSN0023/"
UCUM_CELSIUS = "http://unitsofmeasure.org/ucum.html#para-30"
#: Leipzig city centre: holds the station "Mitte" (12.3731, 51.3397), not "West" (12.3147, 51.3351).
CITY_CENTRE = "POLYGON((12.35 51.32, 12.40 51.32, 12.40 51.36, 12.35 51.36, 12.35 51.32))"


# --- frost-sta-client ----------------------------------------------------------------------------


@pytest.fixture
def service(live_server: str) -> fsc.SensorThingsService:
    """The client as its README connects it; the server takes the admin token as Basic password."""
    return fsc.SensorThingsService(
        f"{live_server}/v1.1", auth_handler=fsc.AuthHandler(username="admin", password=ADMIN_TOKEN)
    )


def celsius() -> fsc.UnitOfMeasurement:
    return fsc.UnitOfMeasurement(name="degree Celsius", symbol="°C", definition=UCUM_CELSIUS)


def located_thing(name: str, lon: float, lat: float) -> fsc.Thing:
    """A Thing with its Location, as in the client's README."""
    location = fsc.Location(
        name=f"{name} site",
        description="mast on a roof",
        location=Point((lon, lat)),
        encoding_type="application/geo+json",
    )
    thing = fsc.Thing(
        name=name, description=f"weather station {name}", properties={"owner": "city", "height": 30}
    )
    thing.locations = [location]
    return thing


def station(service: fsc.SensorThingsService, name: str, lon: float, lat: float, results: list[float]) -> int:
    """A whole station in one deep insert: Thing, Location, Datastream, Sensor, ObservedProperty and
    Observations; returns the Datastream's id."""
    thing = located_thing(name, lon, lat)
    thing.datastreams = [
        fsc.Datastream(
            name=f"{name} air temperature",
            description="2 m air temperature",
            observation_type=MEASUREMENT,
            unit_of_measurement=celsius(),
            sensor=fsc.Sensor(
                name=f"{name} thermometer",
                description="PT100",
                encoding_type="application/pdf",
                metadata="https://example.org/pt100.pdf",
            ),
            observed_property=fsc.ObservedProperty(
                name=f"{name} temperature", definition=TEMPERATURE, description="air temperature"
            ),
            observations=[
                fsc.Observation(result=value, phenomenon_time=f"2024-01-{day:02d}T12:00:00Z")
                for day, value in enumerate(results, start=1)
            ],
        )
    ]
    service.create(thing)
    (datastream,) = thing.get_datastreams().query().list()
    return datastream.id


def test_frost_creates_a_thing_with_its_location(service: fsc.SensorThingsService) -> None:
    thing = located_thing("Mitte", 12.3731, 51.3397)
    service.create(thing)

    assert isinstance(thing.id, int)
    found = service.things().find(thing.id)
    assert (found.name, found.description) == ("Mitte", "weather station Mitte")
    assert found.properties == {"owner": "city", "height": 30}
    (location,) = found.get_locations().query().list()
    assert location.name == "Mitte site"
    assert location.encoding_type == "application/geo+json"
    assert location.location == {"type": "Point", "coordinates": [12.3731, 51.3397]}
    (expanded,) = service.things().query().filter(f"id eq {thing.id}").expand("Locations").list()
    assert [loc.id for loc in expanded.locations] == [location.id]


def test_frost_links_a_graph_from_entities_it_read(service: fsc.SensorThingsService) -> None:
    """The usual frost-sta-client script: create the parts one by one, then link them by passing
    the entities read from the server (the client sends them whole, with their @iot.id)."""
    service.create(located_thing("Mitte", 12.3731, 51.3397))
    service.create(
        fsc.Sensor(
            name="thermometer",
            description="PT100",
            encoding_type="application/pdf",
            metadata="https://example.org/pt100.pdf",
        )
    )
    service.create(fsc.ObservedProperty(name="temperature", definition=TEMPERATURE, description="air"))
    service.create(
        fsc.FeatureOfInterest(
            name="roof",
            description="the roof of the station",
            encoding_type="application/geo+json",
            feature=Point((12.3731, 51.3397)),
        )
    )
    (thing,) = service.things().query().filter("name eq 'Mitte'").list()
    (sensor,) = service.sensors().query().list()
    (observed_property,) = service.observed_properties().query().list()
    (feature,) = service.features_of_interest().query().list()

    datastream = fsc.Datastream(
        name="air temperature",
        description="2 m air temperature",
        observation_type=MEASUREMENT,
        unit_of_measurement=celsius(),
        thing=thing,
        sensor=sensor,
        observed_property=observed_property,
    )
    service.create(datastream)
    datastream = service.datastreams().find(datastream.id)
    service.create(
        fsc.Observation(
            result=1.5,
            phenomenon_time="2024-01-01T12:00:00Z",
            datastream=datastream,
            feature_of_interest=feature,
        )
    )
    # Read again, the Datastream now carries its computed phenomenonTime and observedArea; sent
    # back whole, it is still only a link.
    datastream = service.datastreams().find(datastream.id)
    assert datastream.phenomenon_time.startswith("2024-01-01T12:00:00Z")
    for day, value in ((2, 3.0), (3, -2.0)):
        service.create(
            fsc.Observation(
                result=value,
                phenomenon_time=f"2024-01-0{day}T12:00:00Z",
                datastream=datastream,
                feature_of_interest=feature,
            )
        )

    # Nothing was created twice: the entities sent back were links.
    assert len(service.things().query().list().entities) == 1
    assert len(service.sensors().query().list().entities) == 1
    assert len(service.observed_properties().query().list().entities) == 1
    assert len(service.datastreams().query().list().entities) == 1
    assert len(service.features_of_interest().query().list().entities) == 1

    (linked,) = service.datastreams().query().expand("Thing,Sensor,ObservedProperty").list()
    assert (linked.thing.id, linked.sensor.id, linked.observed_property.id) == (
        thing.id,
        sensor.id,
        observed_property.id,
    )
    assert (linked.unit_of_measurement.symbol, linked.unit_of_measurement.name) == ("°C", "degree Celsius")
    assert linked.phenomenon_time == "2024-01-01T12:00:00Z/2024-01-03T12:00:00Z"
    observations = (
        datastream.get_observations().query().expand("FeatureOfInterest").orderby("phenomenonTime", "asc")
    ).list()
    assert [o.result for o in observations] == [1.5, 3.0, -2.0]
    assert {o.feature_of_interest.id for o in observations} == {feature.id}
    assert [o.phenomenon_time for o in observations] == [f"2024-01-0{d}T12:00:00Z" for d in (1, 2, 3)]


def test_frost_places_a_second_thing_at_a_location_it_read(service: fsc.SensorThingsService) -> None:
    service.create(located_thing("Mitte", 12.3731, 51.3397))
    (site,) = service.locations().query().list()

    backup = fsc.Thing(name="Mitte backup", description="the spare station", locations=[site])
    service.create(backup)

    assert len(service.locations().query().list().entities) == 1  # linked, not copied
    things_there = site.get_things().query().orderby("name", "asc").list()
    assert [t.name for t in things_there] == ["Mitte", "Mitte backup"]
    (placed,) = backup.get_historical_locations().query().expand("Locations").list()
    assert [loc.id for loc in placed.locations] == [site.id]


def test_frost_reads_without_credentials_and_needs_them_to_write(
    service: fsc.SensorThingsService, live_server: str
) -> None:
    station(service, "Mitte", 12.3731, 51.3397, [1.5])
    anonymous = fsc.SensorThingsService(f"{live_server}/v1.1")
    wrong = fsc.SensorThingsService(
        f"{live_server}/v1.1", auth_handler=fsc.AuthHandler(username="admin", password="not the token")
    )

    assert [t.name for t in anonymous.things().query().list()] == ["Mitte"]  # reading is open
    for client in (anonymous, wrong):
        with pytest.raises(requests.HTTPError) as refused:
            client.create(fsc.Thing(name="intruder", description="should not be stored"))
        assert refused.value.response.status_code == 401
    assert [t.name for t in service.things().query().list()] == ["Mitte"]


def test_frost_queries_with_filter_expand_orderby_and_top(service: fsc.SensorThingsService) -> None:
    mitte = station(service, "Mitte", 12.3731, 51.3397, [1.5, 3.0, -2.0])
    west = station(service, "West", 12.3147, 51.3351, [0.5, 4.5])

    things = (
        service.things()
        .query()
        .filter("properties/owner eq 'city'")
        .expand("Datastreams($expand=Observations($orderby=phenomenonTime asc))")
        .orderby("name", "asc")
        .top(10)
        .list()
    )
    assert [t.name for t in things] == ["Mitte", "West"]
    assert [[ds.id for ds in t.datastreams] for t in things] == [[mitte], [west]]
    assert [[o.result for o in t.datastreams.entities[0].observations] for t in things] == [
        [1.5, 3.0, -2.0],
        [0.5, 4.5],
    ]

    # orderby() sorts descending unless told otherwise (it sends "DESC").
    warmest = service.observations().query().orderby("result").top(2).list()
    assert [o.result for o in warmest.entities] == [4.5, 3.0]

    counted = service.observations().query().filter("result gt 1").count().top(1).list()
    assert counted.count == 3
    assert len(counted.entities) == 1

    selected = service.datastreams().query().select("name", "id").orderby("name", "asc").list()
    assert [(d.id, d.name) for d in selected] == [
        (mitte, "Mitte air temperature"),
        (west, "West air temperature"),
    ]
    assert selected.entities[0].description is None

    (mitte_ds,) = (
        service.things().query().filter("name eq 'Mitte'").list().entities[0].get_datastreams().query().list()
    )
    cold = mitte_ds.get_observations().query().filter("result lt 2").orderby("result", "asc").list()
    assert [o.result for o in cold] == [-2.0, 1.5]


def test_frost_iterates_across_pages(service: fsc.SensorThingsService) -> None:
    datastream = station(service, "Mitte", 12.3731, 51.3397, [float(n) for n in range(25)])

    loaded: list[int] = []
    pages = (
        service.observations()
        .query()
        .orderby("phenomenonTime", "asc")
        .top(10)
        .list(callback=loaded.append, step_size=10)
    )
    # list() loads the first page; iterating follows @iot.nextLink to the end.
    assert len(pages.entities) == 10
    assert pages.next_link is not None
    assert [o.result for o in pages] == [float(n) for n in range(25)]
    assert loaded == [0, 10, 20]
    assert len(pages.entities) == 25

    # The nextLinks keep the filter, also on a related collection.
    warm = (
        service.datastreams().find(datastream).get_observations().query().filter("result ge 5").top(7).list()
    )
    assert [o.result for o in warm] == [float(n) for n in range(5, 25)]


def test_frost_finds_updates_and_deletes(service: fsc.SensorThingsService) -> None:
    datastream_id = station(service, "Mitte", 12.3731, 51.3397, [1.5, 3.0])
    (thing,) = service.things().query().list()

    thing = service.things().find(thing.id)
    thing.name = "Mitte (moved)"
    thing.properties = {"owner": "university"}
    service.update(thing)
    changed = service.things().find(thing.id)
    assert (changed.name, changed.description, changed.properties) == (
        "Mitte (moved)",
        "weather station Mitte",
        {"owner": "university"},
    )

    datastream = service.datastreams().find(datastream_id)
    first, second = datastream.get_observations().query().orderby("phenomenonTime", "asc").list()
    first.result = 1.75
    service.update(first)
    assert service.observations().find(first.id).result == 1.75

    service.delete(second)
    with pytest.raises(requests.HTTPError) as missing:
        service.observations().find(second.id)
    assert missing.value.response.status_code == 404
    assert [o.id for o in datastream.get_observations().query().list()] == [first.id]

    service.delete(thing)
    assert service.things().query().list().entities == []
    assert service.datastreams().query().list().entities == []  # deleted with their Thing
    assert service.observations().query().list().entities == []


def test_frost_updates_a_datastream_it_read(service: fsc.SensorThingsService) -> None:
    datastream_id = station(service, "Mitte", 12.3731, 51.3397, [1.5, 3.0])

    datastream = service.datastreams().find(datastream_id)
    datastream.description = "air temperature at 2 m, ventilated"
    service.update(datastream)

    changed = service.datastreams().find(datastream_id)
    assert changed.description == "air temperature at 2 m, ventilated"
    assert changed.phenomenon_time == "2024-01-01T12:00:00Z/2024-01-02T12:00:00Z"  # still computed


def test_frost_patches_with_json_patch(service: fsc.SensorThingsService) -> None:
    thing = located_thing("Mitte", 12.3731, 51.3397)
    service.create(thing)

    service.patch(thing, [{"op": "replace", "path": "/name", "value": "Mitte 2"}])

    assert service.things().find(thing.id).name == "Mitte 2"


def test_frost_geo_filter(service: fsc.SensorThingsService) -> None:
    station(service, "Mitte", 12.3731, 51.3397, [1.5])
    station(service, "West", 12.3147, 51.3351, [0.5])

    inside = service.locations().query().filter(f"st_within(location, geography'{CITY_CENTRE}')").list()
    assert [loc.name for loc in inside] == ["Mitte site"]
    things = (
        service.things().query().filter(f"st_within(Locations/location, geography'{CITY_CENTRE}')").list()
    )
    assert [t.name for t in things] == ["Mitte"]
    near = (
        service.things()
        .query()
        .filter("geo.distance(Locations/location, geography'POINT(12.3147 51.3351)') lt 0.01")
        .list()
    )
    assert [t.name for t in near] == ["West"]
    # The FeatureOfInterest the server derived from each Thing's Location is in place too.
    observations = (
        service.observations()
        .query()
        .filter(f"st_within(FeatureOfInterest/feature, geography'{CITY_CENTRE}')")
        .list()
    )
    assert [o.result for o in observations] == [1.5]


def test_frost_filters_across_relations(service: fsc.SensorThingsService) -> None:
    station(service, "Mitte", 12.3731, 51.3397, [1.5, 3.0, -2.0])
    station(service, "West", 12.3147, 51.3351, [0.5, 4.5])

    mitte = (
        service.observations()
        .query()
        .filter("Datastream/Thing/name eq 'Mitte'")
        .orderby("phenomenonTime", "asc")
        .list()
    )
    assert [o.result for o in mitte] == [1.5, 3.0, -2.0]
    warm = service.things().query().filter("Datastreams/Observations/result gt 4").list()
    assert [t.name for t in warm] == ["West"]
    sensors = service.sensors().query().filter("Datastreams/Thing/properties/owner eq 'city'").list()
    assert sorted(s.name for s in sensors) == ["Mitte thermometer", "West thermometer"]


def test_frost_creates_observations_with_a_data_array(service: fsc.SensorThingsService) -> None:
    """The dataArray extension as in the client's README: one request for many Observations. The
    document goes through `service.observations().create(...)`, which answers the new Observations'
    selfLinks (`service.create(...)` takes only entities)."""
    datastream_id = station(service, "Mitte", 12.3731, 51.3397, [])
    service.create(
        fsc.FeatureOfInterest(
            name="roof",
            description="the roof of the station",
            encoding_type="application/geo+json",
            feature=Point((12.3731, 51.3397)),
        )
    )
    datastream = service.datastreams().find(datastream_id)
    (feature,) = service.features_of_interest().query().list()

    dav = fsc.DataArrayValue()
    dav.components = {
        dav.Property.PHENOMENON_TIME,
        dav.Property.RESULT,
        dav.Property.FEATURE_OF_INTEREST,
    }
    dav.datastream = datastream
    dav.add_observation(
        fsc.Observation(
            result=3,
            phenomenon_time="2022-12-19T10:00:00Z",
            datastream=datastream,
            feature_of_interest=feature,
        )
    )
    dav.add_observation(
        fsc.Observation(
            result=5,
            phenomenon_time="2022-12-19T10:00:00Z/2022-12-19T11:00:00Z",
            datastream=datastream,
            feature_of_interest=feature,
        )
    )
    dad = fsc.DataArrayDocument()
    dad.add_data_array_value(dav)
    created = service.observations().create(dad)

    assert len(created) == 2
    ids = [fsc.utils.extract_value(o.self_link) for o in created]
    first, second = (service.observations().find(i) for i in ids)
    assert (first.result, first.phenomenon_time) == (3, "2022-12-19T10:00:00Z")
    assert (second.result, second.phenomenon_time) == (5, "2022-12-19T10:00:00Z/2022-12-19T11:00:00Z")
    stored = datastream.get_observations().query().expand("FeatureOfInterest").list()
    assert {o.feature_of_interest.id for o in stored} == {feature.id}


def test_frost_sees_the_historical_locations_of_a_thing(service: fsc.SensorThingsService) -> None:
    thing = located_thing("Mitte", 12.3731, 51.3397)
    service.create(thing)
    (first,) = thing.get_historical_locations().query().expand("Locations").list()
    assert [loc.name for loc in first.locations] == ["Mitte site"]
    assert first.time is not None

    # The station moves: a new Location is created, and the Thing as read, linked to it, written
    # back (an update links related entities by id; it creates none inline).
    site = fsc.Location(
        name="Mitte new site",
        description="a new mast",
        encoding_type="application/geo+json",
        location=Point((12.3800, 51.3400)),
    )
    service.create(site)
    moved = service.things().find(thing.id)
    moved.locations = [site]
    service.update(moved)

    assert [loc.name for loc in thing.get_locations().query().list()] == ["Mitte new site"]
    history = thing.get_historical_locations().query().expand("Locations,Thing").orderby("time", "asc").list()
    assert [[loc.name for loc in h.locations] for h in history] == [["Mitte site"], ["Mitte new site"]]
    assert {h.thing.id for h in history} == {thing.id}
    assert datetime.fromisoformat(history.entities[0].time) < datetime.fromisoformat(history.entities[1].time)
    all_history = service.historical_locations().query().expand("Thing").list()
    assert [h.thing.name for h in all_history] == ["Mitte", "Mitte"]


def test_frost_moves_a_thing_by_creating_a_location_linked_to_it(service: fsc.SensorThingsService) -> None:
    thing = located_thing("Mitte", 12.3731, 51.3397)
    service.create(thing)

    moved = fsc.Location(
        name="Mitte new site",
        description="a new mast",
        encoding_type="application/geo+json",
        location=Point((12.3800, 51.3400)),
    )
    moved.things = [service.things().find(thing.id)]
    service.create(moved)

    assert [loc.name for loc in thing.get_locations().query().list()] == ["Mitte new site"]
    history = thing.get_historical_locations().query().expand("Locations").orderby("time", "asc").list()
    assert [[loc.name for loc in h.locations] for h in history] == [["Mitte site"], ["Mitte new site"]]


# --- stapy ---------------------------------------------------------------------------------------


@pytest.fixture
def sta(live_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """stapy as its README sets it up: `set_sta_url` and `set_credentials`. They save the settings in
    `.stapy.ini` in the working directory, so the test works in a directory of its own."""
    monkeypatch.chdir(tmp_path)
    url = f"{live_server}/v1.1"
    stapy.set_sta_url(url)
    stapy.set_credentials("admin", ADMIN_TOKEN)
    return url


UNIT = {"name": "degree Celsius", "symbol": "°C", "definition": UCUM_CELSIUS}


def stapy_station(name: str, lon: float, lat: float) -> dict[str, int]:
    """A station posted entity by entity, each linked by the id the previous POST answered."""
    point = {"type": "Point", "coordinates": [lon, lat]}
    ids = {"location": Post.location(f"{name} site", "mast on a roof", "application/geo+json", point)}
    ids["thing"] = Post.thing(name, f"weather station {name}", {"owner": "city"}, location_id=ids["location"])
    ids["sensor"] = Post.sensor(
        f"{name} thermometer", "PT100", "application/pdf", "https://example.org/pt100.pdf"
    )
    ids["observed_property"] = Post.observed_property(f"{name} temperature", "air temperature", TEMPERATURE)
    ids["datastream"] = Post.datastream(
        f"{name} air temperature",
        "2 m air temperature",
        UNIT,
        MEASUREMENT,
        ids["thing"],
        ids["observed_property"],
        ids["sensor"],
    )
    ids["feature"] = Post.feature_of_interest(f"{name} roof", "the roof", "application/geo+json", point)
    return ids


def test_stapy_posts_a_graph_and_queries_it(sta: str) -> None:
    mitte = stapy_station("Mitte", 12.3731, 51.3397)
    west = stapy_station("West", 12.3147, 51.3351)
    observations = [
        Post.observation(
            f"2024-01-0{day}T12:00:00Z",
            value,
            datastream_id=mitte["datastream"],
            feature_of_interest_id=mitte["feature"],
        )
        for day, value in ((1, 1.5), (2, 3.0), (3, -2.0), (4, 0.5))
    ]
    west_observation = Post.observation("2024-01-01T12:00:00Z", 4.5, datastream_id=west["datastream"])

    # stapy answers -1 when the server refuses; every POST gave a new id.
    assert all(i > 0 for i in [*mitte.values(), *west.values(), *observations, west_observation])
    assert mitte["thing"] != west["thing"] and len({*observations, west_observation}) == 5

    names, descriptions = (
        Query(Entity.Thing).select("name", "description").filter("name eq 'Mitte'").get_data_sets()
    )
    assert (names, descriptions) == ("Mitte", "weather station Mitte")

    # The README's example: results and times of a Datastream's Observations in order.
    results, times = (
        Query(Entity.Datastream)
        .entity_id(mitte["datastream"])
        .sub_entity(Entity.Observation)
        .select("result", "phenomenonTime")
        .order("phenomenonTime")
        .get_data_sets()
    )
    assert results == [1.5, 3.0, -2.0, 0.5]
    assert times == [f"2024-01-0{d}T12:00:00Z" for d in (1, 2, 3, 4)]

    # limit() sets the page size; get_data_sets follows the nextLinks to the end.
    ids = Query(Entity.Observation).select("@iot.id").order("result", asc=False).limit(2).get_data_sets()
    assert ids == [west_observation, *(observations[i] for i in (1, 0, 3, 2))]

    warm = (
        Query(Entity.Observation)
        .select("result")
        .filter("result gt 1 and Datastream/Thing/name eq 'Mitte'")
        .order("result")
        .get_data_sets()
    )
    assert warm == [1.5, 3.0]
    inside = (
        Query(Entity.Thing)
        .select("name")
        .filter(f"st_within(Locations/location, geography'{CITY_CENTRE}')")
        .get_data_sets()
    )
    assert inside == "Mitte"

    # An expand with its own options, built with stapy's Expand; dotted selectors reach into it.
    thing_names, datastreams, locations = (
        Query(Entity.Thing)
        .expand(Expand(Entity.Datastream).select(["name", "unitOfMeasurement"]).order("name").get_expand())
        .expand(Expand(Entity.Location).select(["location"]).get_expand())
        .select("name", "Datastreams", "Locations")
        .order("name")
        .get_data_sets()
    )
    assert thing_names == ["Mitte", "West"]
    assert datastreams == [
        [{"name": "Mitte air temperature", "unitOfMeasurement": UNIT}],
        [{"name": "West air temperature", "unitOfMeasurement": UNIT}],
    ]
    assert [loc[0]["location"]["coordinates"] for loc in locations] == [
        [12.3731, 51.3397],
        [12.3147, 51.3351],
    ]

    feature_names = (
        Query(Entity.Observation)
        .expand("FeatureOfInterest")
        .select("FeatureOfInterest.name")
        .filter("Datastream/Thing/name eq 'Mitte'")
        .get_data_sets()
    )
    assert feature_names == ["Mitte roof"] * 4
    # The West Observation was given no FeatureOfInterest: the server made one from the Location.
    derived = (
        Query(Entity.Observation)
        .expand("FeatureOfInterest")
        .select("FeatureOfInterest.name", "FeatureOfInterest.feature")
        .filter("Datastream/Thing/name eq 'West'")
        .get_data_sets()
    )
    assert derived == ("West site", {"type": "Point", "coordinates": [12.3147, 51.3351]})


def test_stapy_patches_and_deletes(sta: str) -> None:
    ids = stapy_station("Mitte", 12.3731, 51.3397)
    observations = [
        Post.observation(f"2024-01-0{day}T12:00:00Z", value, datastream_id=ids["datastream"])
        for day, value in ((1, 1.5), (2, -3.0), (3, -2.0))
    ]

    assert Patch.thing(ids["thing"], name="Mitte (moved)", properties={"owner": "university"}) == ids["thing"]
    assert Query(Entity.Thing).entity_id(ids["thing"]).select("name", "properties").get_data_sets() == (
        "Mitte (moved)",
        {"owner": "university"},
    )
    assert Patch.observation(observations[0], result=1.75) == observations[0]
    assert Query(Entity.Observation).entity_id(observations[0]).select("result").get_data_sets() == 1.75

    # Delete what a query finds, then an entity by id (with its Observations, as the standard says).
    Delete.query(f"Datastreams({ids['datastream']})/Observations?$filter=result lt 0")
    assert Query(Entity.Observation).select("@iot.id").get_data_sets() == observations[0]
    Delete.entity(Entity.Datastream, ids["datastream"])
    remaining = (
        Query(Entity.Thing)
        .entity_id(ids["thing"])
        .expand("Datastreams")
        .select("Datastreams")
        .get_data_sets()
    )
    assert remaining == []
    site_observations = (
        Query(Entity.FeatureOfInterest)
        .filter("name eq 'Mitte site'")  # the feature the server derived from the Location
        .expand("Observations")
        .select("Observations")
        .get_data_sets()
    )
    assert site_observations == []
    assert Query(Entity.Sensor).select("name").get_data_sets() == "Mitte thermometer"  # kept


def test_stapy_data_array_upload_sends_no_credentials(sta: str) -> None:
    """stapy's Post.observations (the dataArray extension) sends no credentials, unlike its other
    requests: a server that refuses anonymous writes, as this one does by default, stores nothing."""
    ids = stapy_station("Mitte", 12.3731, 51.3397)

    Post.observations([1.5, 3.0], ["2024-01-01T12:00:00Z", "2024-01-02T12:00:00Z"], ids["datastream"])

    observations = (
        Query(Entity.Datastream).entity_id(ids["datastream"]).expand("Observations").select("Observations")
    ).get_data_sets()
    assert observations == []


class TestStapyOnAServerOpenToAnonymousWrites:
    """Where anonymous writes are allowed (the demo), stapy's dataArray upload works."""

    @pytest.fixture
    def app(self, settings: Settings, engine: Engine) -> FastAPI:
        return create_app(settings.with_overrides(allow_anonymous_writes=True), engine)

    def test_data_array_upload(self, sta: str) -> None:
        ids = stapy_station("Mitte", 12.3731, 51.3397)

        Post.observations(
            [1.5, 3.0, -2.0],
            ["2024-01-01T12:00:00Z", "2024-01-02T12:00:00Z", "2024-01-03T12:00:00Z"],
            ids["datastream"],
            keys="quality",
            values=["good", "good", "doubtful"],
        )

        results, parameters = (
            Query(Entity.Datastream)
            .entity_id(ids["datastream"])
            .sub_entity(Entity.Observation)
            .select("result", "parameters")
            .order("phenomenonTime")
            .get_data_sets()
        )
        assert results == [1.5, 3.0, -2.0]
        assert parameters == [{"quality": "good"}, {"quality": "good"}, {"quality": "doubtful"}]
