"""`/api/transit/` on the real Plzeň feed (tram, trolleybus, bus), SQLite and PostgreSQL: the feeds
listed, the model per line with its hourly profile, a stop's departures per hour, 400 naming a bad
parameter, 404 for a feed or stop unknown or a feed restricted."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.transit.conftest import BASE, PLZEN, write_feed
from urbantwin.transit.gtfs_import import import_gtfs

FEED = "plzen-pmdp-2026-02"


def test_the_energy_of_a_real_feed_per_line_and_hour(
    client: TestClient, anonymous: TestClient, engine: Engine
) -> None:
    import_gtfs(engine, PLZEN, licence="CC BY 4.0")
    feeds = anonymous.get("/api/transit/feeds").json()["feeds"]
    assert [f["id"] for f in feeds] == [FEED]
    assert feeds[0]["summary"]["routes"] == 54

    answer = anonymous.get(f"/api/transit/feeds/{FEED}/energy", params={"day": "2026-05-04"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] is True and body["period"]["service_days"] == 1
    assert {t["vehicle_type"] for t in body["vehicle_types"]} == {"tram", "trolleybus", "diesel_bus"}
    lines = {line["line"]: line for line in body["lines"]}
    tram = lines["4"]
    assert tram["mode"] == "tram" and tram["vehicle_type"] == "tram"
    assert len(tram["hourly"]["vehicle_km"]) >= 24
    assert sum(tram["hourly"]["vehicle_km"]) == pytest.approx(tram["vehicle_km"], abs=0.1)
    assert tram["energy_kwh"] == pytest.approx(tram["vehicle_km"] * 4.7, abs=0.01)
    assert lines["16"]["vehicle_type"] == "trolleybus" and lines["16"]["energy_kwh"] > 0
    assert body["totals"]["diesel_l"] > 0 and body["totals"]["co2_wtw_kg"] > body["totals"]["co2_ttw_kg"]
    # coupled units on line 4 double its vehicle-km; the line is named by its short name
    coupled = anonymous.get(
        f"/api/transit/feeds/{FEED}/energy", params={"day": "2026-05-04", "set": ["units.4=2"]}
    ).json()
    assert {line["line"]: line for line in coupled["lines"]}["4"]["vehicle_km"] == round(
        2 * tram["vehicle_km"], 3
    )

    for params, message in [
        ({"day": "May 4"}, "day: expected a date YYYY-MM-DD, got 'May 4'"),
        ({"day": "2026-05-04", "set": "tram.power=3"}, "coefficient 'tram.power': unknown"),
        ({"day": "2026-05-04", "set": "grid.green_share=2"}, "expected a share between 0 and 1"),
        ({"day": "2026-05-04", "set": "units.4"}, "set 'units.4': expected name=value"),
        ({"day": "2030-01-01"}, "runs no service from 2030-01-01"),
    ]:
        refused = anonymous.get(f"/api/transit/feeds/{FEED}/energy", params=params)
        assert refused.status_code == 400, (params, refused.text)
        assert message in refused.json()["message"]
    unknown = anonymous.get("/api/transit/feeds/nowhere/energy")
    assert unknown.status_code == 404 and unknown.json()["message"] == "no transit feed 'nowhere'"

    # a feed whose lines are internal is neither listed nor answered to whom may not read it
    assert client.patch(f"/api/datasets/{FEED}-lines", json={"access_level": "internal"}).status_code == 204
    assert anonymous.get("/api/transit/feeds").json()["feeds"] == []
    hidden = anonymous.get(f"/api/transit/feeds/{FEED}/energy")
    assert hidden.status_code == 404 and hidden.json()["message"] == f"no transit feed {FEED!r}"
    assert client.get(f"/api/transit/feeds/{FEED}/energy").status_code == 200


def test_a_stops_departures_per_hour(client: TestClient, anonymous: TestClient, engine: Engine) -> None:
    import_gtfs(engine, PLZEN, licence="CC BY 4.0", title="Plzeň (CZ), PMDP")
    assert anonymous.get("/api/transit/feeds").json()["feeds"][0]["title"] == "Plzeň (CZ), PMDP"
    url = f"/api/transit/feeds/{FEED}/stops/194/departures"
    answer = anonymous.get(url, params={"day": "2026-05-04"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["stop"] == "194" and body["hours"] >= 24 and len(body["hourly"]) == body["hours"]
    assert body["departures"] == sum(body["hourly"]) == sum(line["departures"] for line in body["lines"]) > 0
    assert {line["line"] for line in body["lines"]} >= {"16"}
    assert (
        "summary"
        in anonymous.get("/openapi.json").json()["paths"][
            "/api/transit/feeds/{feed_id}/stops/{stop_id}/departures"
        ]["get"]
    )

    for params, message in [
        ({"day": "4 May"}, "day: expected a date YYYY-MM-DD, got '4 May'"),
        ({"day": "2026-05-04", "until": "2026-05-01"}, "until: 2026-05-01 is before day 2026-05-04"),
    ]:
        refused = anonymous.get(url, params=params)
        assert refused.status_code == 400, (params, refused.text)
        assert message in refused.json()["message"]
    missing = anonymous.get(f"/api/transit/feeds/{FEED}/stops/nowhere/departures")
    assert missing.status_code == 404 and "no stop 'nowhere'" in missing.json()["message"]
    assert anonymous.get("/api/transit/feeds/nowhere/stops/194/departures").status_code == 404

    # a feed whose lines are internal: its stops' departures are not answered to whom may not read it
    assert client.patch(f"/api/datasets/{FEED}-lines", json={"access_level": "internal"}).status_code == 204
    assert anonymous.get(url).status_code == 404
    assert client.get(url).status_code == 200


def test_a_stop_id_with_a_slash(anonymous: TestClient, engine: Engine, tmp_path: Path) -> None:
    feed = {
        name.removesuffix(".txt") + "_txt": BASE[name].replace("S1", "S/1")
        for name in ("stops.txt", "stop_times.txt")
    }
    import_gtfs(engine, write_feed(tmp_path / "feed.zip", **feed), feed_id="slash")
    answer = anonymous.get("/api/transit/feeds/slash/stops/S%2F1/departures")
    assert answer.status_code == 200, answer.text
    assert answer.json()["stop"] == "S/1" and answer.json()["departures"] == 1
