"""The energy model on tiny hand-made feeds whose answers are computed by hand (SQLite and
PostgreSQL): a tram trip of 10 km, coupled units, a battery bus in winter and summer, diesel litres
and CO2, recuperation, green power, hourly spreading and times past 24:00; overrides refused with
the coefficient named."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select

from tests.transit.conftest import write_feed
from urbantwin.access.gate import Access, Caller
from urbantwin.energy.weather import region4
from urbantwin.errors import BadRequest, NotFound
from urbantwin.settings import Settings
from urbantwin.store.transit_schema import transit_trips
from urbantwin.transit.energy import EnergyResult, TransitEnergy, parse_set, temperatures
from urbantwin.transit.gtfs_import import import_gtfs

#: One trip (T1) of route R1 on weekdays from 5 January to 31 July 2026.
CALENDAR = (
    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "WK,1,1,1,1,1,0,0,20260105,20260731\n"
)


def one_trip(times: tuple[str, str, str, str] = ("08:00:00", "08:02:00", "08:04:00", "08:06:00")) -> str:
    rows = "".join(f"T1,{t},{t},S{n + 1},{n + 1}\n" for n, t in enumerate(times))
    return "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n" + rows


def ten_km_feed(tmp_path: Path, engine: Engine, route_type: int, **files: str) -> str:
    """Import a feed of one trip whose distance is exactly 10 km (the detour factor scaled so)."""
    content: dict[str, Any] = {
        "routes_txt": f"route_id,route_short_name,route_long_name,route_type\nR1,1,Line one,{route_type}\n",
        "trips_txt": "route_id,service_id,trip_id\nR1,WK,T1\n",
        "stop_times_txt": one_trip(),
        "calendar_txt": CALENDAR,
        **files,
    }
    path = write_feed(tmp_path / "tiny.zip", **content)
    import_gtfs(engine, path, feed_id="tiny", detour_factor=1.0)
    with engine.connect() as connection:
        straight = connection.execute(select(transit_trips.c.distance_km)).scalar_one()
    import_gtfs(engine, path, feed_id="tiny", detour_factor=10.0 / straight)
    return "tiny"


def model(engine: Engine, settings: Settings, **kwargs: Any) -> EnergyResult:
    service = TransitEnergy(engine, Access.of(engine, settings))
    overrides = parse_set(kwargs.pop("set", []))
    return service.energy(Caller.system(), "tiny", overrides=overrides, **kwargs)


def test_a_tram_trip_of_10_km_uses_47_kwh(tmp_path: Path, engine: Engine, settings: Settings) -> None:
    ten_km_feed(tmp_path, engine, route_type=0)
    result = model(engine, settings, day="2026-01-05")
    line = result.lines.iloc[0]
    assert line["vehicle_type"] == "tram"
    assert line["trip_km"] == pytest.approx(10.0)
    assert line["vehicle_km"] == pytest.approx(10.0)
    assert line["energy_kwh"] == pytest.approx(47.0)
    assert line["co2_ttw_kg"] == 0.0
    assert line["co2_wtw_kg"] == pytest.approx(47.0 * 0.380)
    assert result.trips.iloc[0]["energy_kwh"] == pytest.approx(47.0)
    document = result.document()
    assert document["model"] is True and "Modelled" in document["note"]
    # two coupled units (the line named by its short name) double vehicle-km and energy
    coupled = model(engine, settings, day="2026-01-05", set=["units.1=2"]).lines.iloc[0]
    assert coupled["vehicle_km"] == pytest.approx(20.0)
    assert coupled["energy_kwh"] == pytest.approx(94.0)
    # more recuperation, less energy; green power, no grid CO2
    recuperating = model(engine, settings, day="2026-01-05", set=["tram.recuperation_share=0.3"])
    assert recuperating.lines.iloc[0]["energy_kwh"] == pytest.approx(10 * 5.875 * 0.7)
    assert recuperating.lines.iloc[0]["energy_kwh"] < 47.0
    green = model(engine, settings, day="2026-01-05", set=["grid.green_share=1"]).lines.iloc[0]
    assert green["energy_kwh"] == pytest.approx(47.0)
    assert green["co2_wtw_kg"] == 0.0
    # a range counts every day with service: 5 weekdays of a week
    week = model(engine, settings, day="2026-01-05", until="2026-01-11")
    assert week.service_days == 5
    assert week.lines.iloc[0]["energy_kwh"] == pytest.approx(5 * 47.0)


def test_a_diesel_bus_burns_litres_with_co2_ttw_and_wtw(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    ten_km_feed(tmp_path, engine, route_type=3)
    line = model(engine, settings, day="2026-01-05").lines.iloc[0]
    assert line["vehicle_type"] == "diesel_bus"
    assert line["diesel_l"] == pytest.approx(4.2)
    assert line["energy_kwh"] == 0.0
    assert line["co2_ttw_kg"] == pytest.approx(4.2 * 2.67)
    assert line["co2_wtw_kg"] == pytest.approx(4.2 * 3.24)
    assert line["final_energy_kwh"] == pytest.approx(4.2 * 9.97)


def test_a_battery_bus_uses_more_in_january_than_in_july(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    ten_km_feed(tmp_path, engine, route_type=3)
    battery = ["vehicle.1=battery_bus"]
    january = model(engine, settings, day="2026-01-05", until="2026-01-30", set=battery).lines.iloc[0]
    july = model(engine, settings, day="2026-07-06", until="2026-07-31", set=battery).lines.iloc[0]
    traction = 20 * 10 * 1.3 * (1 - 0.15)  # 20 weekdays each
    assert january["vehicle_type"] == "battery_bus"
    assert january["diesel_l"] == 0.0
    assert january["heating_cooling_kwh"] > 0.0
    assert january["energy_kwh"] == pytest.approx(traction + january["heating_cooling_kwh"])
    assert january["energy_kwh"] > july["energy_kwh"] >= traction
    # the same with every bus line battery-electric
    assert (
        model(engine, settings, day="2026-01-05", set=["bus.vehicle=battery_bus"]).lines.iloc[0][
            "vehicle_type"
        ]
        == "battery_bus"
    )


def test_the_hours_a_trip_runs_share_its_km(tmp_path: Path, engine: Engine, settings: Settings) -> None:
    ten_km_feed(
        tmp_path,
        engine,
        route_type=0,
        stop_times_txt=one_trip(("08:30:00", "08:50:00", "09:10:00", "09:30:00")),
    )
    result = model(engine, settings, day="2026-01-05")
    hourly = result.hourly_vehicle_km[0]
    assert len(hourly) == 24
    assert hourly[8] == pytest.approx(5.0) and hourly[9] == pytest.approx(5.0)
    assert hourly.sum() == pytest.approx(10.0)
    assert result.hourly_energy_kwh[0][8] == pytest.approx(23.5)


def test_times_past_midnight_land_in_the_service_days_hours_24_and_on(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    ten_km_feed(
        tmp_path,
        engine,
        route_type=0,
        stop_times_txt=one_trip(("23:45:00", "23:55:00", "24:05:00", "24:15:00")),
    )
    result = model(engine, settings, day="2026-01-09")  # a Friday: the run ends on Saturday 00:15
    hourly = result.hourly_vehicle_km[0]
    assert result.hours == 25
    assert hourly[23] == pytest.approx(5.0) and hourly[24] == pytest.approx(5.0)
    # the hour after midnight takes the next calendar day's temperature
    weather = region4()
    grid = temperatures([date(2026, 1, 9)], 25, weather)
    assert grid[0, 24] == weather.temperature[9 * 24]  # 10 January, 00:00-01:00
    assert grid[0, 23] == weather.temperature[8 * 24 + 23]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("tram.kwh_per_vkm=lots", "coefficient 'tram.kwh_per_vkm': expected a number, got 'lots'"),
        (
            "tram.recuperation_share=1.5",
            "coefficient 'tram.recuperation_share': expected a share between 0 and 1",
        ),
        (
            "diesel_bus.l_per_100km=-3",
            "coefficient 'diesel_bus.l_per_100km': expected a number of at least 0",
        ),
        ("tram.speed=3", "coefficient 'tram.speed': unknown (known: battery_bus.cooling_above_c"),
        ("units.1=0", "coefficient 'units.1': expected a whole number of coupled units from 1 to 10"),
        ("units.99=2", "coefficient 'units.99': the feed 'tiny' has no line '99'"),
        ("vehicle.1=hovercraft", "coefficient 'vehicle.1': expected one of tram, light_rail"),
        ("vehicle.1=battery_bus", "coefficient 'vehicle.1': line '1' is a tram line"),
        ("bus.vehicle=tram", "coefficient 'bus.vehicle': expected one of diesel_bus, battery_bus"),
    ],
)
def test_bad_overrides_are_refused_by_name(
    tmp_path: Path, engine: Engine, settings: Settings, item: str, message: str
) -> None:
    ten_km_feed(tmp_path, engine, route_type=0)
    with pytest.raises(BadRequest) as refused:
        model(engine, settings, day="2026-01-05", set=[item])
    assert message in refused.value.message


def test_bad_periods_and_feeds_are_refused(tmp_path: Path, engine: Engine, settings: Settings) -> None:
    ten_km_feed(tmp_path, engine, route_type=0)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"day": "5.1.2026"}, "day: expected a date YYYY-MM-DD, got '5.1.2026'"),
        ({"day": "2026-01-05", "until": "2026-01-01"}, "until: 2026-01-01 is before day 2026-01-05"),
        ({"day": "2026-01-01", "until": "2027-06-01"}, "until: at most 366 days at a time"),
        ({"day": "2026-01-10"}, "day: the feed 'tiny' runs no service from 2026-01-10 to 2026-01-10"),
        ({"day": "2026-01-05", "weekday": True}, "day and weekday: give one of them"),
    ]
    for kwargs, message in cases:
        with pytest.raises(BadRequest) as refused:
            model(engine, settings, **kwargs)
        assert message in refused.value.message, kwargs
    with pytest.raises(BadRequest, match="expected name=value"):
        parse_set(["tram.kwh_per_vkm"])
    service = TransitEnergy(engine, Access.of(engine, settings))
    with pytest.raises(NotFound, match="no transit feed 'other'"):
        service.energy(Caller.system(), "other")
    # no day asked: the typical weekday
    typical = model(engine, settings)
    assert typical.period.label.startswith("typical weekday 2026-01-05")
    assert np.isclose(typical.lines.iloc[0]["energy_kwh"], 47.0)


def test_a_frequency_based_trip_counts_once_per_departure(
    tmp_path: Path, engine: Engine, settings: Settings
) -> None:
    frequencies = "trip_id,start_time,end_time,headway_secs,exact_times\nT1,08:00:00,09:00:00,1200,0\n"
    ten_km_feed(tmp_path, engine, route_type=0, frequencies_txt=frequencies)
    result = model(engine, settings, day="2026-01-05")
    line = result.lines.iloc[0]
    assert line["runs"] == 3  # 08:00, 08:20, 08:40
    assert line["energy_kwh"] == pytest.approx(3 * 47.0)
    assert result.hourly_vehicle_km[0][8] == pytest.approx(30.0)  # each runs 6 minutes within hour 8
    trip = result.trips.iloc[0]
    assert trip["trip_id"] == "T1" and trip["runs"] == 3 and trip["vehicle_km"] == pytest.approx(30.0)
