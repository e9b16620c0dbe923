"""Each kind of scenario on a tiny feed whose answers are computed by hand (SQLite and PostgreSQL):
it changes what it should and nothing else. Bad scenarios are refused naming the key.

The feed: bus line 1 (route R1) with six trips of exactly 10 km — block B1 at 08:00 and 09:00, block
B2 every 30 minutes from 20:00 to 21:30 — and tram line 2 (R2) with one trip of 10 km at 08:00, on
weekdays from 5 January to 31 July 2026. Baseline: 60 diesel bus-km (25.2 l), 10 tram-km (47 kWh).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.transit.conftest import write_feed
from urbantwin.access.gate import Access, Caller
from urbantwin.energy.pv import PVModel
from urbantwin.energy.weather import region4
from urbantwin.errors import BadRequest
from urbantwin.settings import Settings
from urbantwin.store.transit_schema import transit_trips
from urbantwin.transit import scenario as scenarios
from urbantwin.transit.energy import Coefficients, TransitEnergy
from urbantwin.transit.gtfs_import import import_gtfs

WINTER, SUMMER = "2026-01-05", "2026-07-06"  # Mondays
SITE = (50.0, 10.0, 0.0)
TRIPS = [
    ("R1", "T1", "B1", "08:00"),
    ("R1", "T2", "B1", "09:00"),
    ("R1", "T3", "B2", "20:00"),
    ("R1", "T4", "B2", "20:30"),
    ("R1", "T5", "B2", "21:00"),
    ("R1", "T6", "B2", "21:30"),
    ("R2", "U1", "", "08:00"),
]


def near(expected: float, abs: float = 1e-3) -> Any:  # noqa: A002 - as pytest.approx names it
    """Equal up to the KPIs' rounding (3 decimals)."""
    return pytest.approx(expected, abs=abs)


def _stop_times() -> str:
    rows = []
    for _, trip, _, start in TRIPS:
        hour, minute = (int(x) for x in start.split(":"))
        for n in range(4):
            t = f"{hour:02d}:{minute + 2 * n:02d}:00"
            rows.append(f"{trip},{t},{t},S{n + 1},{n + 1}\n")
    return "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n" + "".join(rows)


def tiny(tmp_path: Path, engine: Engine) -> None:
    """Import the feed with every trip exactly 10 km (the detour factor scaled so)."""
    path = write_feed(
        tmp_path / "tiny.zip",
        routes_txt="route_id,route_short_name,route_long_name,route_type\nR1,1,Bus one,3\nR2,2,Tram two,0\n",
        trips_txt="route_id,service_id,trip_id,direction_id,block_id\n"
        + "".join(f"{r},WK,{t},0,{b}\n" for r, t, b, _ in TRIPS),
        stop_times_txt=_stop_times(),
        calendar_txt="service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,"
        "end_date\nWK,1,1,1,1,1,0,0,20260105,20260731\n",
    )
    import_gtfs(engine, path, feed_id="tiny", detour_factor=1.0)
    with engine.connect() as connection:
        straight = connection.execute(select(transit_trips.c.distance_km).limit(1)).scalar_one()
    import_gtfs(engine, path, feed_id="tiny", detour_factor=10.0 / straight)


def outcome(engine: Engine, settings: Settings, day: str = WINTER, **tables: Any) -> dict[str, Any]:
    service = TransitEnergy(engine, Access.of(engine, settings))
    scenario = scenarios.parse({"scenario": {"feed": "tiny", "day": day}, **tables})
    feed = service.tables(Caller.system(), "tiny", day=day)
    result = scenarios.run(scenario, feed, Coefficients.load(), SITE)
    kpis = result.kpis
    kpis["lines"] = {row.line: row for row in result.result.lines.itertuples(index=False)}
    return kpis


UNCHANGED = (
    "vehicle_km",
    "electric_kwh",
    "diesel_l",
    "co2_ttw_kg",
    "co2_wtw_kg",
    "pv_kwh",
    "depot_charging_kwh",
)


def test_the_baseline_is_the_model(tmp_path: Path, engine: Engine, settings: Settings) -> None:
    tiny(tmp_path, engine)
    base = outcome(engine, settings)
    assert base["vehicle_km"] == near(70.0)
    assert base["diesel_l"] == near(25.2)
    assert base["electric_kwh"] == near(47.0)
    assert base["grid_kwh"] == near(47.0)
    assert base["co2_wtw_kg"] == near(25.2 * 3.24 + 47.0 * 0.38)
    assert base["pv_kwh"] == 0 and base["depot_charging_kwh"] == 0 and base["batteries"] == {}
    assert base["cost_eur"] is None


def test_electrifying_a_bus_line_sizes_its_batteries_and_charges_at_the_depot(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    tiny(tmp_path, engine)
    no_heating = {"battery_bus.heating_kwh_per_km_per_k": 0, "battery_bus.cooling_kwh_per_km_per_k": 0}
    base = outcome(engine, settings, coefficients=no_heating)
    run = outcome(engine, settings, coefficients=no_heating, electrify={"lines": ["1"]})
    per_km = 1.3 * (1 - 0.15)
    assert run["diesel_l"] == 0 and run["co2_ttw_kg"] == 0
    assert run["battery_bus_kwh"] == near(60 * per_km)
    assert run["electric_kwh"] == near(47.0 + 60 * per_km)
    # depot charging: the buses' energy over (1 − 10 % losses), in the night from 22:00
    assert run["depot_charging_kwh"] == near(60 * per_km / 0.9)
    assert run["charging_losses_kwh"] == near(60 * per_km / 0.9 - 60 * per_km)
    assert sum(run["hourly"]["electric_load_kwh"][22:30]) == near(60 * per_km / 0.9, abs=0.01)
    # battery: longest vehicle day is block B2 (4 × 10 km) × kWh/km × reserve 1.3
    battery = run["batteries"]["1"]
    assert battery["longest_vehicle_day_km"] == near(40.0)
    assert battery["battery_kwh"] == near(40 * per_km * 1.3, abs=0.05)
    # nothing else: vehicle-km and the tram are as before
    assert run["vehicle_km"] == base["vehicle_km"]
    assert run["lines"]["2"].energy_kwh == base["lines"]["2"].energy_kwh
    # in winter the temperature factor of the model makes the battery bigger
    cold = outcome(engine, settings, electrify={"lines": ["1"], "reserve_factor": 1.0})
    assert cold["batteries"]["1"]["kwh_per_km"] > per_km
    assert cold["batteries"]["1"]["battery_kwh"] == near(40 * cold["batteries"]["1"]["kwh_per_km"], abs=0.1)


def test_pv_at_depots_and_stop_roofs_offsets_the_traction_load_hour_by_hour(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    tiny(tmp_path, engine)
    base = outcome(engine, settings, day=SUMMER)
    run = outcome(
        engine, settings, day=SUMMER, pv={"depots": 1, "depot_kwp": 100, "stop_roofs": 10, "stop_roof_kwp": 2}
    )
    model = PVModel(region4(), site=SITE)
    day = (date(2023, 7, 6) - date(2023, 1, 1)).days * 24
    hours = len(run["hourly"]["pv_kwh"])
    rows = [day + h for h in range(hours)]  # the service day and the night after (to 06:00)
    pv = 100 * model.hourly(10.0, 180.0, "rack")[rows] + 20 * model.hourly(5.0, 180.0, "rack")[rows]
    assert run["pv_kwp"] == 120
    assert run["pv_kwh"] == near(float(pv.sum()), abs=0.01)
    # the tram draws its 47 kWh in hour 8: only PV of that hour is consumed, up to the load
    assert run["pv_self_consumed_kwh"] == near(min(float(pv[8]), 47.0), abs=0.01)
    assert run["pv_co2_saved_kg"] == near(run["pv_self_consumed_kwh"] * 0.38, abs=0.01)
    assert run["grid_kwh"] == near(47.0 - run["pv_self_consumed_kwh"], abs=0.01)
    assert run["co2_wtw_kg"] == near(base["co2_wtw_kg"] - run["pv_co2_saved_kg"], abs=0.01)
    for key in ("vehicle_km", "electric_kwh", "diesel_l", "co2_ttw_kg"):
        assert run[key] == base[key], key


def test_recuperation_and_energy_saving_driving_change_the_traction_energy(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    tiny(tmp_path, engine)
    base = outcome(engine, settings)
    recuperation = outcome(engine, settings, driving={"recuperation_share": {"tram": 0.3}})
    assert recuperation["electric_kwh"] == near(10 * 5.875 * 0.7)
    assert recuperation["diesel_l"] == base["diesel_l"] and recuperation["vehicle_km"] == base["vehicle_km"]
    saving = outcome(engine, settings, driving={"saving_share": 0.1, "vehicles": ["tram"]})
    assert saving["electric_kwh"] == near(47.0 * 0.9)
    assert saving["diesel_l"] == base["diesel_l"]
    both = outcome(engine, settings, driving={"saving_share": 0.1})
    assert both["diesel_l"] == near(25.2 * 0.9) and both["electric_kwh"] == near(47.0 * 0.9)


def test_a_longer_headway_in_chosen_hours_means_fewer_vehicle_km(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    tiny(tmp_path, engine)
    base = outcome(engine, settings)
    # line 1 runs every 30 min from 20:00 to 22:00 (4 runs); every 60 min: 2 runs, 20 km fewer
    run = outcome(
        engine, settings, timetable=[{"line": "1", "from": "20:00", "to": "22:00", "headway_min": 60}]
    )
    assert run["vehicle_km"] == near(50.0)
    assert run["diesel_l"] == near(40 * 0.42)
    assert run["lines"]["1"].runs == 4
    assert run["electric_kwh"] == base["electric_kwh"]
    assert run["lines"]["1"].vehicle_km == near(40.0)  # the morning block is untouched
    # a window without runs is refused naming it
    with pytest.raises(BadRequest, match=r"timetable\[0\]: line '1' has no run starting from 10:00 to 12:00"):
        outcome(
            engine, settings, timetable=[{"line": "1", "from": "10:00", "to": "12:00", "headway_min": 60}]
        )


def test_prices_give_a_cost(tmp_path: Path, engine: Engine, settings: Settings) -> None:
    tiny(tmp_path, engine)
    run = outcome(engine, settings, prices={"electricity_eur_per_kwh": 0.2, "diesel_eur_per_l": 1.5})
    assert run["cost_eur"] == near(47.0 * 0.2 + 25.2 * 1.5)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"electrify": {"lines": ["2"]}}, "electrify.lines: line '2' is a tram line, not a bus line"),
        ({"electrify": {"lines": ["9"]}}, "electrify.lines: the feed has no line '9'"),
        ({"electrify": {"lines": "1"}}, "electrify.lines: expected a list of line names"),
        ({"electrify": {"lines": ["1"], "reserve": 2}}, "electrify.reserve: unknown key"),
        (
            {"electrify": {"lines": ["1"], "charging_loss_share": 1.5}},
            "electrify.charging_loss_share: expected",
        ),
        ({"pv": {"depots": 2}}, "pv.depot_kwp: required with pv.depots"),
        ({"pv": {"depots": 1, "depot_kwp": "lots"}}, "pv.depot_kwp: expected a number, got 'lots'"),
        ({"driving": {"recuperation_share": {"diesel_bus": 0.2}}}, "driving.recuperation_share.diesel_bus"),
        ({"driving": {"saving_share": 1.0}}, "driving.saving_share: expected"),
        (
            {"timetable": [{"line": "1", "from": "8 pm", "to": "22:00", "headway_min": 10}]},
            r"timetable[0].from",
        ),
        (
            {"timetable": [{"line": "1", "from": "20:00", "to": "19:00", "headway_min": 10}]},
            r"timetable[0].to",
        ),
        (
            {"timetable": [{"line": "1", "from": "20:00", "to": "22:00"}]},
            "timetable[0].headway_min: required",
        ),
        ({"coefficients": {"tram.power": 3}}, "coefficients: coefficient 'tram.power': unknown"),
        ({"weather": {}}, "weather: unknown table"),
    ],
)
def test_bad_scenarios_are_refused_naming_the_key(
    tmp_path: Path, engine: Engine, settings: Settings, tables: dict[str, Any], message: str
) -> None:
    tiny(tmp_path, engine)
    with pytest.raises(BadRequest) as refused:
        outcome(engine, settings, **tables)
    assert message in refused.value.message


def test_a_scenario_file_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nfeed = "tiny"\n[pv]\ndepot_kwp = -5\n', encoding="utf-8")
    with pytest.raises(BadRequest, match=r"bad.toml: pv.depot_kwp: expected a number of at least 0"):
        scenarios.load(path)
    path.write_text('[scenario]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(BadRequest, match=r"scenario.feed: required"):
        scenarios.load(path)
    path.write_text("[scenario\n", encoding="utf-8")
    with pytest.raises(BadRequest, match=r"not TOML"):
        scenarios.load(path)
