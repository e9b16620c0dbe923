"""Upgrades keep what a store holds: a store made by every earlier schema version, filled with the data
that version could hold, is upgraded to the newest schema with nothing lost and every API answering;
going back is refused, and says what to do instead.

Each version's store is filled through its own tables (reflected from the store at that version, with
the value types of today's schema), with the rows of `SAMPLES` whose tables exist then: a sensor with
three Observations, a feature collection, an organisation, user and dataset, an energy run, a
public-transport feed and run, an infrastructure registry. After the upgrade every row is read back
column by column, and the APIs serve it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Column, Engine, MetaData, Table, create_engine, inspect, select, text

from tests.conftest import (
    ADMIN_TOKEN,
    PG_ADMIN_URL,
    _postgres_available,
    backend_missing,
    create_test_database,
)
from urbantwin.app import create_app
from urbantwin.settings import Settings
from urbantwin.store.engine import SchemaRefused, make_engine, revisions, store_revision, upgrade
from urbantwin.store.schema import metadata

T0 = datetime(2019, 6, 1, 8, tzinfo=UTC)
POINT = shapely.to_wkb(shapely.Point(12.3747, 51.3397))
GEOJSON_POINT = {"type": "Point", "coordinates": [12.3747, 51.3397]}

#: Rows per table, in the order they are written; `{"ref": (table, index)}` stands for the id of an
#: earlier row (ids are given by the store, so its sequences stay right for what the APIs write later).
SAMPLES: dict[str, list[dict[str, Any]]] = {
    "things": [
        {"name": "Wetterstation Markt", "description": "a weather station", "properties": {"owner": "city"}}
    ],
    "locations": [
        {
            "name": "Markt",
            "description": "the square",
            "encoding_type": "application/geo+json",
            "location": GEOJSON_POINT,
            "geom": POINT,
        }
    ],
    "thing_locations": [{"thing_id": {"ref": ("things", 0)}, "location_id": {"ref": ("locations", 0)}}],
    "historical_locations": [{"time": T0, "thing_id": {"ref": ("things", 0)}}],
    "location_historical_locations": [
        {
            "location_id": {"ref": ("locations", 0)},
            "historical_location_id": {"ref": ("historical_locations", 0)},
        }
    ],
    "sensors": [
        {"name": "thermometer", "description": "PT100", "encoding_type": "text/plain", "metadata": "none"}
    ],
    "observed_properties": [
        {
            "name": "air temperature",
            "definition": "http://vocab.nerc.ac.uk/standard_name/air_temperature/",
            "description": "temperature of the air",
        }
    ],  # fmt: skip
    "datastreams": [
        {
            "name": "air temperature at Markt",
            "description": "every ten minutes",
            "observation_type": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
            "unit_of_measurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
            "thing_id": {"ref": ("things", 0)},
            "sensor_id": {"ref": ("sensors", 0)},
            "observed_property_id": {"ref": ("observed_properties", 0)},
        }
    ],
    "features_of_interest": [
        {
            "name": "Markt",
            "description": "the square",
            "encoding_type": "application/geo+json",
            "feature": GEOJSON_POINT,
            "geom": POINT,
        }
    ],  # fmt: skip
    "observations": [
        {
            "phenomenon_time_start": T0.replace(minute=10 * k),
            "result_time": T0.replace(minute=10 * k),
            "result_type": 0,
            "result_number": 18.5 + k,
            "datastream_id": {"ref": ("datastreams", 0)},
            "feature_of_interest_id": {"ref": ("features_of_interest", 0)},
        }
        for k in range(3)
    ],
    "collections": [
        {
            "id": "places",
            "title": "Places",
            "description": "squares of the city",
            "keywords": ["squares"],
            "created": T0,
            "updated": T0,
        }
    ],  # fmt: skip
    "features": [
        {"collection_id": "places", "feature_key": "markt", "properties": {"name": "Markt"}, "geom": POINT}
    ],
    "organisations": [{"id": "stadtwerke", "title": "Stadtwerke", "kind": "company", "created": T0}],
    "users": [
        {
            "name": "anna",
            "organisation_id": "stadtwerke",
            "role": "data_steward",
            "active": True,
            "created": T0,
        }
    ],
    "datasets": [
        {
            "id": "stadtwerke-meters",
            "title": "Meters of the utility",
            "description": "partners only",
            "publisher_id": "stadtwerke",
            "themes": ["ENER"],
            "keywords": ["meters"],
            "licence": "dl-de/by-2-0",
            "access_level": "restricted",
            "read_groups": ["partners"],
            "writers": ["user:anna"],
            "update_frequency": "DAILY",
            "created": T0,
            "modified": T0,
        }
    ],  # fmt: skip
    "groups": [
        {
            "id": "partners",
            "title": "Partners",
            "description": "",
            "organisation_id": "stadtwerke",
            "created": T0,
        }
    ],
    "group_members": [{"group_id": "partners", "user_id": {"ref": ("users", 0)}}],
    "api_tokens": [
        {
            "user_id": {"ref": ("users", 0)},
            "token_hash": "0" * 64,
            "prefix": "ut_0000",
            "name": "meter upload",
            "scopes": [],
            "created": T0,
        }
    ],  # fmt: skip
    "energy_runs": [
        {
            "id": "0123456789abcdef0123456789abcdef",
            "scenario": "baseline",
            "title": "Baseline",
            "description": "today's quarter",
            "strategy": "none",
            "overrides": {},
            "collection": "energy-baseline",
            "status": "failed",
            "progress": 0.5,
            "error": "interrupted",
            "submitted_by": "admin",
            "created": T0,
            "heartbeat": T0,
        }
    ],
    "transit_feeds": [
        {
            "id": "plzen",
            "digest": "0" * 64,
            "detour_factor": 1.0,
            "imported": T0,
            "summary": {"routes": 1, "trips": 1, "stops": 2},
        }
    ],  # fmt: skip
    "transit_routes": [
        {
            "feed_id": "plzen",
            "route_id": "1",
            "short_name": "1",
            "long_name": "Bolevec – Slovany",
            "route_type": 0,
            "mode": "tram",
        }
    ],  # fmt: skip
    "indicators": [
        {
            "id": "no2-annual-mean",
            "dataset_id": "indicators",
            "position": 1,
            "updated": T0,
            "document": {"title": {"en": "NO2 annual mean", "de": "NO2-Jahresmittel"}, "unit": "µg/m³"},
        }
    ],  # fmt: skip
    "indicator_values": [
        {
            "indicator_id": "no2-annual-mean",
            "year": 2019,
            "value": 31.5,
            "origin": "entered",
            "recorded_by": "anna",
            "recorded": T0,
        }
    ],  # fmt: skip
    "remotes": [
        {
            "name": "hamburg",
            "url": "https://iot.hamburg.de/v1.1",
            "kind": "sensorthings",
            "title": "Hamburg",
            "attribution": "Freie und Hansestadt Hamburg",
            "licence": "dl-de/by-2-0",
            "dataset_id": "remote-hamburg",
            "requests_per_second": 5.0,
            "created": T0,
            "health": "unknown",
        }
    ],  # fmt: skip
    "remote_mirrors": [
        {
            "remote": "hamburg",
            "remote_id": "1234",
            "remote_link": "https://iot.hamburg.de/v1.1/Datastreams(1234)",
            "datastream_id": {"ref": ("datastreams", 0)},
            "cursor_field": "phenomenonTime",
            "cursor_time": T0,
            "observations": 3,
            "updated": T0,
        }
    ],  # fmt: skip
    "harvested_records": [
        {
            "remote": "hamburg",
            "iri": "https://example.org/dataset/1",
            "title": "Trees",
            "description": "street trees",
            "details": {"keywords": ["trees"]},
            "modified": "2019-05-01",
            "harvested": T0,
        }
    ],  # fmt: skip
    "portfolio_projects": [
        {"id": "sparcs", "status": "running", "updated": T0, "document": {"title": {"en": "SPARCS"}}}
    ],
    "ideas": [
        {
            "title": "More benches",
            "text": "at the square",
            "category": "public-space",
            "status": "received",
            "contact": "someone@example.org",
            "fingerprint": "f1",
            "created": T0,
            "updated": T0,
        }
    ],  # fmt: skip
    "procedures": [
        {
            "id": "markt-2019",
            "title": "The square",
            "description": "what should change",
            "start": T0,
            "end": T0,
            "area": GEOJSON_POINT,
            "questions": [],
            "categories": ["idea"],
            "synthetic": 1,
            "created": T0,
        }
    ],  # fmt: skip
    "contributions": [
        {
            "procedure_id": "markt-2019",
            "category": "idea",
            "text": "a fountain",
            "geometry": GEOJSON_POINT,
            "min_lon": 12.3747,
            "min_lat": 51.3397,
            "max_lon": 12.3747,
            "max_lat": 51.3397,
            "status": "published",
            "fingerprint": "f2",
            "created": T0,
            "updated": T0,
        }
    ],  # fmt: skip
    "contribution_comments": [
        {
            "contribution_id": {"ref": ("contributions", 0)},
            "text": "yes please",
            "status": "published",
            "created": T0,
        }
    ],
    "contribution_supports": [
        {"contribution_id": {"ref": ("contributions", 0)}, "voter": "v1", "created": T0}
    ],
    "campus_events": [
        {"id": "lxdx-2019", "document": {"title": {"en": "LXDX"}}, "start": T0, "end": T0, "updated": T0}
    ],
    "energy_sweeps": [
        {
            "id": "fedcba9876543210fedcba9876543210",
            "status": "ended",
            "request": {"scenarios": ["baseline"], "areas": [["Altstadt"]]},
            "submitted_by": "admin",
            "created": T0,
            "heartbeat": T0,
        }
    ],
}

#: Tables whose rows are derived from others (counters, rollups, logs, a feed's trips and departures
#: from its file, a registry's defaults from its import, an uplink's records) or written by the
#: platform at start (the city profile, the policy version): no sample of their own is needed.
DERIVED = {
    "observation_counts", "observation_rollups", "observation_rollup_state", "observation_hour_years",
    "policy_version",
    "audit_log", "dataset_usage", "city_profile", "energy_run_series", "transit_service_days",
    "transit_trips", "transit_runs", "transit_stop_departures",
    "infrastructure_registries", "lorawan_streams", "lorawan_uplinks", "lorawan_receptions",
    "mqtt_ingest_marks",
}  # fmt: skip

#: Values a migration changes on purpose, by the version that does: (table, column) → the new value.
CHANGED_ON_PURPOSE = {
    # 0014 counts departures per stop, which feeds imported before lack: their digest is cleared, so
    # the next import of the same file imports it anew (rows kept until then).
    "0014": {("transit_feeds", "digest"): ""},
}

VERSIONS = revisions()


def test_every_table_of_the_newest_schema_has_a_sample_or_is_derived() -> None:
    """A new migration's tables get a sample here (or are named derived), so the next upgrade test
    carries their data too."""
    assert set(metadata.tables) == set(SAMPLES) | DERIVED


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def blank(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A function giving the URL of an empty store, of each backend in turn (one PostgreSQL database
    per module, emptied between tests: dropping a database makes the server write a checkpoint)."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("upgrades")
        yield lambda: f"sqlite:///{folder / (uuid.uuid4().hex + '.sqlite')}"
        return
    problem = _postgres_available()
    if problem:
        backend_missing(problem)
    name = f"urbantwin_upgrades_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        create_test_database(connection, name)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def empty() -> str:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url

    yield empty
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fill(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Write the samples whose tables exist in the store now, into the columns that exist now; the
    rows as written (with the ids the store gave them), per table."""
    present = inspect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as connection:
        for name, rows in SAMPLES.items():
            if not present.has_table(name):
                continue
            columns = {column["name"] for column in present.get_columns(name)}
            today = metadata.tables[name]
            # Today's value types (time, geometry, JSON per backend) on the columns the version has.
            table = Table(
                name, MetaData(), *(Column(c.name, c.type, key=c.name) for c in today.c if c.name in columns)
            )
            for row in rows:
                values = {key: _resolve(value, written) for key, value in row.items() if key in columns}
                if "id" in table.c and "id" not in values:
                    values["id"] = connection.execute(
                        table.insert().values(values).returning(table.c.id)
                    ).scalar_one()
                else:
                    connection.execute(table.insert().values(values))
                written.setdefault(name, []).append(values)
    return written


def _resolve(value: Any, written: dict[str, list[dict[str, Any]]]) -> Any:
    if isinstance(value, dict) and set(value) == {"ref"}:
        table, index = value["ref"]
        return written[table][index]["id"]
    return value


def kept(engine: Engine, written: dict[str, list[dict[str, Any]]], version: str) -> None:
    """Every row written at `version` is in the upgraded store with every value it was written with,
    but those a later migration changes on purpose."""
    changes = {
        key: value
        for changed_by, changed in CHANGED_ON_PURPOSE.items()
        if VERSIONS.index(changed_by) > VERSIONS.index(version)
        for key, value in changed.items()
    }
    with engine.connect() as connection:
        for name, rows in written.items():
            table = metadata.tables[name]
            stored = [dict(row._mapping) for row in connection.execute(select(table))]
            for written_row in rows:
                row = {key: changes.get((name, key), value) for key, value in written_row.items()}
                matches = [s for s in stored if all(_same(s[key], value) for key, value in row.items())]
                assert matches, f"{name}: the row {row} is gone or changed after the upgrade"


def _same(stored: Any, written: Any) -> bool:
    if isinstance(written, bytes):  # WKB: the same geometry, however the backend writes it back
        return shapely.from_wkb(stored).equals(shapely.from_wkb(written))
    return stored == written


def serves(engine: Engine, url: str, written: dict[str, list[dict[str, Any]]], tmp_viewer: Any) -> None:
    """The APIs answer on the upgraded store, with what it held."""
    settings = Settings(database_url=url, admin_token=ADMIN_TOKEN, viewer_dir=str(tmp_viewer))
    with TestClient(
        create_app(settings, engine=engine), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        assert client.get("/ready").json()["status"] == "ready"
        thing = written["things"][0]
        answer = client.get(f"/v1.1/Things({thing['id']})?$expand=Locations,Datastreams/Observations")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["name"] == "Wetterstation Markt" and body["Locations"][0]["location"] == GEOJSON_POINT
        results = [o["result"] for o in body["Datastreams"][0]["Observations"]]
        assert sorted(results) == [18.5, 19.5, 20.5]
        # What an upgraded store is used for next: a new Observation is written beside the old ones.
        datastream = written["datastreams"][0]["id"]
        posted = client.post(f"/v1.1/Datastreams({datastream})/Observations", json={"result": 21.5})
        assert posted.status_code == 201, posted.text
        assert (
            client.get(f"/v1.1/Datastreams({datastream})/Observations?$count=true").json()["@iot.count"] == 4
        )
        if "features" in written:
            feature = client.get("/ogcapi/collections/places/items/markt")
            assert feature.status_code == 200 and feature.json()["properties"]["name"] == "Markt"
            assert client.get("/catalog").status_code == 200
        if "users" in written:
            assert "anna" in client.get("/api/admin/users").text
        if "energy_runs" in written:
            run = client.get(f"/api/energy/runs/{written['energy_runs'][0]['id']}")
            assert run.status_code == 200 and run.json()["status"] == "failed", run.text
        if "remotes" in written:
            remotes = client.get("/api/remotes")
            assert remotes.status_code == 200 and "hamburg" in remotes.text, remotes.text
        if "transit_feeds" in written:
            feeds = client.get("/api/transit/feeds")
            assert feeds.status_code == 200 and "plzen" in feeds.text, feeds.text


@pytest.mark.parametrize("version", VERSIONS[:-1])
def test_a_store_of_each_earlier_version_upgrades_with_its_data(
    version: str, blank: Any, viewer_dir: Any
) -> None:
    url = blank()
    engine = make_engine(Settings(database_url=url))
    try:
        upgrade(engine, version)
        with engine.connect() as connection:
            assert store_revision(connection) == version
        written = fill(engine)
        assert "observations" in written
        upgrade(engine)
        with engine.connect() as connection:
            assert store_revision(connection) == VERSIONS[-1]
        kept(engine, written, version)
        serves(engine, url, written, viewer_dir)
    finally:
        engine.dispose()


def test_a_downgrade_is_refused_naming_what_to_do_instead(blank: Any) -> None:
    engine = make_engine(Settings(database_url=blank()))
    try:
        upgrade(engine)
        with pytest.raises(SchemaRefused, match="downgrades are refused.*Restore a backup"):
            upgrade(engine, VERSIONS[0])
        with pytest.raises(SchemaRefused, match="no schema revision 'yesterday'"):
            upgrade(engine, "yesterday")
        with engine.connect() as connection:
            assert store_revision(connection) == VERSIONS[-1]  # nothing was touched
    finally:
        engine.dispose()


def test_a_store_of_a_newer_version_is_refused_not_touched(blank: Any) -> None:
    engine = make_engine(Settings(database_url=blank()))
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        with pytest.raises(
            SchemaRefused, match="'9999_from_the_future', which this version of urbantwin does not"
        ):
            upgrade(engine)
    finally:
        engine.dispose()


def test_the_cli_says_why_it_refuses_a_downgrade(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from urbantwin.cli import app

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    answer = runner.invoke(app, ["db", "upgrade", VERSIONS[0], "--database-url", url])
    assert answer.exit_code == 1
    assert answer.output.startswith(f"Error: the store's schema is at {VERSIONS[-1]!r}, newer than")
