"""`urbantwin replay`: stored history POSTed again, timestamped now, at a chosen pace.

A small history (two Datastreams of one Thing, 9 hourly values over 5 hours) is replayed at speed
factors that make it last a second or two; the replayed Observations must arrive in the order of
the history, each labelled with where and when it came from.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from urbantwin.cli import app
from urbantwin.ingest.replay import ReplayOptions, replay, select_datastreams
from urbantwin.ingest.sta_client import LocalClient, parse_iso
from urbantwin.settings import Settings

UNIT = {
    "name": "microgram per cubic metre",
    "symbol": "µg/m³",
    "definition": "https://qudt.org/vocab/unit/MicroGM-PER-M3",
}
T0 = datetime(2014, 10, 1, tzinfo=UTC)
runner = CliRunner()


def _datastream(name: str, observations: list[tuple[datetime, float]]) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name} (replay test)",
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "unitOfMeasurement": UNIT,
        "Sensor": {
            "name": f"{name} sensor",
            "description": "analyser",
            "encodingType": "text/html",
            "metadata": "x",
        },
        "ObservedProperty": {
            "name": f"{name} property",
            "definition": f"urn:test:{name}",
            "description": "d",
        },
        "Observations": [
            {
                "phenomenonTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "result": value,
                "parameters": {"flag": "ok"},
            }
            for moment, value in observations
        ],
    }


@pytest.fixture
def sta(engine: Engine, settings: Settings) -> Iterator[LocalClient]:
    client = LocalClient(engine, settings)
    yield client
    client.close()


@pytest.fixture
def history(sta: LocalClient) -> dict[str, int]:
    """A Thing with NO2 (hourly, 00:00 to 05:00) and O3 (00:30, 02:30, 04:30), and a spare
    Datastream without observations as a replay target."""
    thing = sta.post(
        "Things",
        {
            "name": "Replay station",
            "description": "a station with a short history",
            "Locations": [
                {
                    "name": "site",
                    "description": "site",
                    "encodingType": "application/geo+json",
                    "location": {"type": "Point", "coordinates": [12.37, 51.34]},
                }
            ],
            "Datastreams": [
                _datastream("NO2", [(T0 + timedelta(hours=h), 10.0 + h) for h in range(6)]),
                _datastream("O3", [(T0 + timedelta(hours=h, minutes=30), 50.0 + h) for h in (0, 2, 4)]),
                _datastream("NO2 demo target", []),
            ],
        },
    )
    ids = {d["name"]: d["@iot.id"] for d in sta.entities(f"Things({thing['@iot.id']})/Datastreams")}
    return {"thing": thing["@iot.id"], "no2": ids["NO2"], "o3": ids["O3"], "target": ids["NO2 demo target"]}


def replayed(sta: LocalClient, datastream: int | None = None) -> list[dict[str, Any]]:
    path = f"Datastreams({datastream})/Observations" if datastream else "Observations"
    query = {"$filter": "parameters/synthetic eq true", "$orderby": "id asc", "$top": "1000"}
    return list(sta.entities(path, query))


def test_a_fast_replay_keeps_the_order_of_the_history_and_labels_every_value(
    sta: LocalClient, history: dict[str, int]
) -> None:
    began = datetime.now(UTC)
    # Five hours of history in 1.5 s.
    options = ReplayOptions(speed=5 * 3600 / 1.5)
    report = replay(sta, [history["no2"], history["o3"]], options)
    ended = datetime.now(UTC)

    assert report.posted == 9 and not report.interrupted
    assert 1.3 <= report.elapsed < 6, report.elapsed
    values = replayed(sta)
    originals = [parse_iso(v["parameters"]["replay"]["originalPhenomenonTime"]) for v in values]
    assert originals == sorted(originals)
    assert [v["result"] for v in values] == [10.0, 50.0, 11.0, 12.0, 52.0, 13.0, 14.0, 54.0, 15.0]
    times = [parse_iso(v["phenomenonTime"]) for v in values]
    assert times == sorted(times)
    assert began <= times[0] and times[-1] <= ended
    # Paced like the history: 5 h of history took 1.5 s, the first 2.5 h about half of that.
    assert 1.2 <= (times[-1] - times[0]).total_seconds() <= 3.0
    assert 0.5 <= (times[4] - times[0]).total_seconds() <= 1.5
    for value in values:
        label = value["parameters"]
        assert label["synthetic"] is True and label["flag"] == "ok"  # the original parameters kept
        assert label["replay"]["speed"] == options.speed
        assert label["replay"]["sourceDatastream"] in (history["no2"], history["o3"])
    no2 = replayed(sta, history["no2"])
    assert [v["parameters"]["replay"]["originalPhenomenonTime"] for v in no2] == [
        f"2014-10-01T0{h}:00:00Z" for h in range(6)
    ]
    assert all(v["parameters"]["replay"]["sourceDatastream"] == history["no2"] for v in no2)


def test_replays_are_not_replayed_again(sta: LocalClient, history: dict[str, int]) -> None:
    replay(sta, [history["no2"]], ReplayOptions(rate=1000))
    second = replay(sta, [history["no2"]], ReplayOptions(rate=1000))
    assert second.posted == 6 and second.skipped == 6
    assert len(replayed(sta, history["no2"])) == 12


def test_a_window_a_target_a_fixed_rate_and_a_loop(sta: LocalClient, history: dict[str, int]) -> None:
    options = ReplayOptions(
        start=T0 + timedelta(hours=1),
        end=T0 + timedelta(hours=4),
        rate=50,
        targets={history["no2"]: history["target"]},
        loop=True,
        limit=5,
    )
    report = replay(sta, [history["no2"]], options)

    assert report.posted == 5 and report.passes == 2  # 3 values in the window, then from the start
    into_target = replayed(sta, history["target"])
    assert [v["parameters"]["replay"]["originalPhenomenonTime"][11:13] for v in into_target] == [
        "01",
        "02",
        "03",
        "01",
        "02",
    ]
    assert all(v["parameters"]["replay"]["rate"] == 50 for v in into_target)
    assert replayed(sta, history["no2"]) == []  # the source is left as it was
    assert 0.05 <= report.elapsed < 3


def test_an_interval_keeps_its_length_and_ends_now(sta: LocalClient, history: dict[str, int]) -> None:
    sta.post(
        f"Datastreams({history['o3']})/Observations",
        {"phenomenonTime": "2014-10-02T22:00:00Z/2014-10-03T22:00:00Z", "result": 5.5},
    )
    replay(sta, [history["o3"]], ReplayOptions(start=T0 + timedelta(days=1), rate=1000))
    (value,) = replayed(sta, history["o3"])
    start, _, end = value["phenomenonTime"].partition("/")
    assert parse_iso(end) - parse_iso(start) == timedelta(days=1)
    assert abs((parse_iso(end) - datetime.now(UTC)).total_seconds()) < 5


def test_stopping_and_ctrl_c(sta: LocalClient, history: dict[str, int]) -> None:
    # At real speed the next value is an hour away: the stop event ends the wait at once.
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    report = replay(sta, [history["no2"]], ReplayOptions(speed=1), stop=stop)
    assert report.posted == 1 and report.interrupted and report.elapsed < 3

    def interrupt(_: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    report = replay(sta, [history["no2"]], ReplayOptions(rate=1000), on_posted=interrupt)
    assert report.posted == 1 and report.interrupted


def test_selecting_datastreams(sta: LocalClient, history: dict[str, int]) -> None:
    assert select_datastreams(sta, things=[history["thing"]]) == [
        history["no2"],
        history["o3"],
        history["target"],
    ]
    assert select_datastreams(sta, [history["o3"], history["o3"]]) == [history["o3"]]
    assert len(select_datastreams(sta, everything=True)) == 3
    with pytest.raises(ValueError, match="no Datastreams"):
        select_datastreams(sta, [999])


def test_the_command_on_the_local_store(engine: Engine, settings: Settings, history: dict[str, int]) -> None:
    result = runner.invoke(
        app,
        [
            "replay",
            "--thing",
            str(history["thing"]),
            "--speed",
            "1e9",
            "--database-url",
            settings.database_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Replaying 3 Datastream(s) into the local store" in result.output
    assert "Replay finished: 9 observations posted into 3 Datastream(s)" in result.output

    missing = runner.invoke(app, ["replay", "--database-url", settings.database_url])
    assert missing.exit_code != 0
    assert "--datastream ID, --thing ID or --all" in missing.output


def test_the_command_against_a_running_server(
    sta: LocalClient, settings: Settings, history: dict[str, int], live_server: str
) -> None:
    args = ["replay", "-d", str(history["no2"]), "--target", f"{history['no2']}={history['target']}"]
    result = runner.invoke(
        app, [*args, "--rate", "200", "--url", live_server, "--token", settings.admin_token]
    )
    assert result.exit_code == 0, result.output
    assert f"into {live_server}/v1.1" in result.output
    assert "6 observations posted" in result.output
    assert len(replayed(sta, history["target"])) == 6

    refused = runner.invoke(app, [*args, "--url", live_server, "--token", "wrong"])
    assert refused.exit_code == 1
    assert "401" in refused.output
