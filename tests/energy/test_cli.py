"""`urbantwin energy run` on a small store: results as a collection (a catalogue dataset) and files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.energy.conftest import rectangle
from urbantwin.city_profile import parse_profile
from urbantwin.cli import app
from urbantwin.ingest.pipeline import CollectionInfo, Row, store_rows
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets
from urbantwin.store.city import write_profile
from urbantwin.store.features_schema import collections, features

runner = CliRunner()


def _row(key: str, geometry: shapely.Geometry, properties: dict) -> Row:
    bounds = tuple(float(v) for v in shapely.bounds(geometry))
    return Row(key, properties, shapely.to_wkb(geometry), bounds, None, None, None)  # type: ignore[arg-type]


#: A city whose districts name themselves in `STT_NAME` and count residents in `population_<year>`.
PROFILE = parse_profile(
    {
        "name": "Teststadt",
        "region": "DE-SN",
        "site": [12.34, 51.33, 110.0],
        "districts": [
            {
                "collection": "stadtteile",
                "name_property": "STT_NAME",
                "population_property": "population_{year}",
            }
        ],
    }
)


def load_small_quarter(engine: Engine) -> None:
    """Seven buildings, six of them in the district 'Testviertel' (120 residents), one outside; the
    city profile says where the districts are and how they are read."""
    buildings = [
        ("1", rectangle(0, 0, 40, 14), {"building": "apartments", "building:levels": "4"}),
        (
            "2",
            rectangle(40, 0, 30, 14),
            {"building": "apartments", "building:levels": "5", "start_date": "1996"},
        ),
        ("3", rectangle(70, 0, 20, 14), {"building": "yes", "addr:housenumber": "12"}),
        ("4", rectangle(0, 60, 10, 9), {"building": "house"}),
        ("5", rectangle(20, 60, 6, 3), {"building": "garage"}),
        ("6", rectangle(0, 120, 30, 20), {"building": "office", "roof:shape": "flat"}),
        ("7", rectangle(2000, 0, 20, 20), {"building": "apartments"}),
    ]
    rows = [_row(key, geometry, tags) for key, geometry, tags in buildings]
    store_rows(engine, rows, CollectionInfo("buildings", "Buildings"), "OGC:CRS84", progress=False)
    area = rectangle(-10, -10, 200, 200)
    district = _row("99", area, {"STT_NAME": "Testviertel", "population_2023": 100, "population_2024": 120})
    store_rows(engine, [district], CollectionInfo("stadtteile", "Stadtteile"), "OGC:CRS84", progress=False)
    with engine.begin() as connection:
        write_profile(connection, PROFILE)


@pytest.mark.long  # a whole energy run
def test_energy_run_stores_and_writes_labelled_results(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_small_quarter(engine)
    out = tmp_path / "results"
    result = runner.invoke(
        app,
        [
            "energy",
            "run",
            "baseline",
            "pv_hp_ev_optimised",
            "--area",
            "Testviertel",
            "--strategy",
            "rule_based",
            "--out",
            str(out),
            "--database-url",
            settings.database_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "6 buildings" in result.output
    assert "Against the SPARCS targets (baseline 'baseline')" in result.output
    assert "| pv_hp_ev_optimised |" in result.output
    assert "First year each target is met on the grid's path (2023-2045)" in result.output
    # The per-building KPIs are a collection, published as an open dataset of the catalogue.
    with engine.connect() as connection:
        stored = connection.execute(
            select(features.c.feature_key, features.c.properties).where(
                features.c.collection_id == "energy-pv_hp_ev_optimised"
            )
        ).all()
        dataset = connection.execute(
            select(collections.c.dataset_id).where(collections.c.id == "energy-pv_hp_ev_optimised")
        ).scalar_one()
        access = connection.execute(
            select(datasets.c.access_level).where(datasets.c.id == dataset)
        ).scalar_one()
    assert access == "open"
    assert sorted(key for key, _ in stored) == ["1", "2", "3", "4", "5", "6"]
    first = dict(stored)["1"]
    assert first["simulated"] is True and "SIMULATED" in first["note"]
    assert first["heat_pump"] in (True, False) and "self_sufficiency" in first and "co2_kg" in first
    assert "roof" in first["assumed"] and first["age_source"].startswith("assumed:")
    assert first["dwellings_source"].startswith("derived: calibrated to the residents of Testviertel")
    # The files: buildings GeoJSON, blocks CSV, district KPIs with the parameters, the 15-minute series.
    folder = out / "pv_hp_ev_optimised"
    collection = json.loads((folder / "buildings.geojson").read_text(encoding="utf-8"))
    assert len(collection["features"]) == 6
    district = json.loads((folder / "district.json").read_text(encoding="utf-8"))
    assert district["strategy"] == "rule_based" and district["kpis"]["strategy"] == "rule_based"
    assert district["kpis"]["buildings"] == 6 and district["kpis"]["heat_pumps"] >= 1
    assumed = {p["parameter"] for p in district["parameters"] if p["assumed"]}
    assert "pv.kwp_per_m2" in assumed
    lines = (folder / "timeseries.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# SIMULATED")
    assert lines[1].startswith("time,pv,load")
    assert len(lines) == 2 + 35040
    assert lines[2].startswith("2025-01-01T00:00:00+01:00,")
    assert (out / "targets.md").exists() and (out / "baseline" / "blocks.csv").exists()
    districts = (folder / "districts.csv").read_text(encoding="utf-8").splitlines()
    assert districts[0].startswith("district,buildings,pv_kwh") and districts[1].startswith("Testviertel,6,")
    assert first["district"] == "Testviertel"
    # Where it was simulated: the profile's site and holidays.
    assert district["site"]["latitude"] == 51.33 and district["site"]["region"] == "DE-SN"
    # Running again changes nothing in the store.
    again = runner.invoke(
        app,
        ["energy", "run", "baseline", "--area", "Testviertel", "--strategy", "rule_based", "--out", str(out)]
        + ["--database-url", settings.database_url],
    )
    assert again.exit_code == 0, again.output
    assert "0 inserted, 0 updated, 6 unchanged" in again.output


def test_energy_run_names_what_is_wrong(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    load_small_quarter(engine)
    url = settings.database_url
    unknown = runner.invoke(app, ["energy", "run", "baseline", "--area", "Atlantis", "--database-url", url])
    assert unknown.exit_code == 1
    assert "no district named atlantis in collection 'stadtteile'" in unknown.output
    bad = runner.invoke(app, ["energy", "run", "baseline", "--set", "pv.adoption=2", "--database-url", url])
    assert bad.exit_code == 2 and "pv.adoption: 2.0 is not between 0 and 1" in bad.output
    listed = runner.invoke(app, ["energy", "scenarios"])
    assert "pv_hp_ev_optimised" in listed.output and "[optimised]" in listed.output
    shown = runner.invoke(app, ["energy", "parameters", "baseline"])
    assert "grid.co2_g_per_kwh = 380.0" in shown.output and "ASSUMED" in shown.output


@pytest.mark.long  # a planning run: baseline, potentials, programme and simulations
def test_energy_plan_finds_what_it_takes_and_stores_it_building_by_building(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    load_small_quarter(engine)
    out = tmp_path / "results"
    result = runner.invoke(
        app,
        ["energy", "plan", "baseline", "--area", "Testviertel", "--out", str(out)]
        + ["--database-url", settings.database_url],
    )
    assert result.exit_code == 0, result.output
    assert "# What it takes (against 'baseline')" in result.output
    assert "The targets are met" in result.output
    folder = out / "baseline-plan"
    plan = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    assert plan["met"] is True and plan["measures"]["buildings"] == 6
    assert all(abs(value) <= 0.02 for value in plan["deviation"].values())
    assert {p["parameter"] for p in plan["parameters"]} >= {"pv_eur_per_kwp", "budget_eur"}
    with engine.connect() as connection:
        stored = dict(
            connection.execute(
                select(features.c.feature_key, features.c.properties).where(
                    features.c.collection_id == "energy-baseline-plan"
                )
            ).all()
        )
    assert sorted(stored) == ["1", "2", "3", "4", "5", "6"]
    assert stored["1"]["plan_heating"] in ("gas", "heat_pump")
    assert stored["1"]["simulated"] is True and "plan_investment_eur" in stored["1"]
    assert stored["5"]["plan_investment_eur"] == 0  # the garage


def test_energy_plan_names_what_is_wrong(engine: Engine, settings: Settings) -> None:
    load_small_quarter(engine)
    url = settings.database_url
    target = runner.invoke(app, ["energy", "plan", "--target", "noise=-0.5", "--database-url", url])
    assert target.exit_code == 2 and "unknown target(s) ['noise']" in target.output
    shape = runner.invoke(app, ["energy", "plan", "--target", "co2", "--database-url", url])
    assert shape.exit_code == 2 and "expected KEY=CHANGE" in shape.output
    year = runner.invoke(app, ["energy", "plan", "--year", "2099", "--database-url", url])
    assert year.exit_code == 2 and "year 2099 is outside the grid path (2023–2045)" in year.output
