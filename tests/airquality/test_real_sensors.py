"""The sensor checks on real sensor.community files (tests/airquality/data/SOURCES.md), imported by
the archive's importer and checked on the store: the frozen sensor and the spikes are flagged in the
Observations' resultQuality, and the results stay as measured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from urbantwin.access.gate import Caller
from urbantwin.airquality.sensor_service import SensorChecks, Window
from urbantwin.airquality.service import AirService
from urbantwin.ingest.sensorcommunity import import_sensor_community
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.settings import Settings
from urbantwin.store.schema import datastreams, observations

DATA = Path(__file__).parent / "data"
FROZEN = DATA / "2019-03-14_sds011_sensor_22523.csv"
SPIKY = DATA / "2019-05-10_sds011_sensor_5331.csv"


@pytest.fixture
def sta(engine: Engine, settings: Settings) -> Iterator[LocalClient]:
    client = LocalClient(engine, settings)
    yield client
    client.close()


def flagged(engine: Engine, sensor_id: int, column: str) -> list[tuple[datetime, float, list[str]]]:
    """(time, result, flags) of the readings of the sensor's column (P1, P2) with a flag."""
    with engine.connect() as connection:
        stream = [
            row.id
            for row in connection.execute(select(datastreams.c.id, datastreams.c.properties))
            if (row.properties or {}).get("sensor_id") == sensor_id and row.properties.get("column") == column
        ]
        rows = connection.execute(
            select(
                observations.c.phenomenon_time_start,
                observations.c.result_number,
                observations.c.result_quality,
            )
            .where(observations.c.datastream_id == stream[0])
            .order_by(observations.c.phenomenon_time_start)
        ).all()
    return [(t, value, quality["flags"]) for t, value, quality in rows if quality and quality["flags"]]


def test_a_frozen_sensor_and_spikes_in_real_data(
    engine: Engine, settings: Settings, sta: LocalClient
) -> None:
    import_sensor_community(sta, [FROZEN, SPIKY], progress=False)
    checks = SensorChecks(AirService(engine, settings))
    system = Caller.system("test")
    for day in (datetime(2019, 3, 14, tzinfo=UTC), datetime(2019, 5, 10, tzinfo=UTC)):
        result = checks.run(system, Window(day, day.replace(day=day.day + 1)))
        assert all(s["nearestStation"] is None for s in result["sensors"])  # no official station here

    frozen = [(t, v) for t, v, flags in flagged(engine, 22523, "P2") if "stuck" in flags]
    # 87 readings of 0.00 in a row, 3 h 37 min; the raw results are kept
    assert len(frozen) >= 87 and {v for _, v in frozen} == {0.0}
    longest = max(frozen, key=lambda item: item[0])[0] - min(frozen, key=lambda item: item[0])[0]
    assert longest.total_seconds() >= 2 * 3600

    spikes = [v for _, v, flags in flagged(engine, 5331, "P2") if "spike" in flags]
    # the Argo test at 51.83 between 5.13 and 3.90: |51.83 - 4.515| - 0.615 = 46.70 > 40; at 100.33
    # between 14.77 and 7.80: |100.33 - 11.285| - 3.485 = 85.56 > 40
    assert spikes == [51.83, 100.33]
