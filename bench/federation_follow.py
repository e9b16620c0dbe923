"""Following a partner live: how long a partner's Observation takes to reach our store over MQTT.

The partner is a second urbantwin (`urbantwin serve`, SQLite, publishing to the machine's Mosquitto
under a topic prefix of the run's own) with one Datastream; the local twin is a store of this
process whose follower (`federation/follow.py`, as a server process runs it) follows the partner.
Each of `--count` Observations is POSTed to the partner one at a time; the latency is from before
the POST to the moment the local store holds it (the store is polled every 2 ms). At the end the
local store must hold exactly the partner's Observations (0 lost, 0 duplicated), and the follower
must have made one catch-up only (every Observation came live, none by a poll).

    .venv/bin/python bench/federation_follow.py              # 200 Observations
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from bulk_post import server, set_up
from host import describe
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from urbantwin.access.bootstrap import ensure_defaults  # noqa: E402
from urbantwin.access.gate import Access, Caller  # noqa: E402
from urbantwin.federation.follow import Followers  # noqa: E402
from urbantwin.federation.service import FederationService  # noqa: E402
from urbantwin.sensorthings.service import SensorThingsService  # noqa: E402
from urbantwin.settings import Settings  # noqa: E402
from urbantwin.store.engine import make_engine, upgrade  # noqa: E402
from urbantwin.store.schema import observations  # noqa: E402

BROKER = "mqtt://127.0.0.1:1883"
START = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}/"
    with tempfile.TemporaryDirectory() as folder:
        partner_settings = {"URBANTWIN_MQTT_URL": BROKER, "URBANTWIN_MQTT_TOPIC_PREFIX": prefix}
        with server(f"sqlite:///{folder}/partner.sqlite", 1, folder, partner_settings) as (base, token, _):
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:

                def post(path: str, document: dict[str, Any]) -> int:
                    answer = client.post(f"/{path}", content=orjson.dumps(document))
                    if answer.status_code != 201:
                        raise SystemExit(f"POST {path}: {answer.status_code} {answer.text[:300]}")
                    return int(answer.headers["location"].rsplit("(", 1)[1].rstrip(")"))

                [datastream], _feature = set_up(post, 1)
                settings = Settings(database_url=f"sqlite:///{folder}/local.sqlite", federation_follow=False)
                engine = make_engine(settings)
                upgrade(engine)
                ensure_defaults(engine, settings)
                access = Access.of(engine, settings)
                sensorthings = SensorThingsService(engine, settings, access)
                federation = FederationService(engine, settings, access, sensorthings)
                admin = Caller.system()
                federation.add(
                    admin,
                    {
                        "name": "partner",
                        "url": base,
                        "kind": "sensorthings",
                        "attribution": "p",
                        "licence": "l",
                    },
                )
                federation.mirror_request(
                    admin,
                    "partner",
                    {"datastreams": [datastream], "follow": True, "mqtt_url": f"{BROKER}/{prefix}"},
                )
                followers = Followers(engine, settings, sensorthings, federation.registry)
                followers.check_seconds = 0.2
                followers.start()
                deadline = time.monotonic() + 30
                while "partner" not in followers.running or not followers.running["partner"].connected:
                    if time.monotonic() > deadline:
                        raise SystemExit("the follower did not subscribe")
                    time.sleep(0.05)
                follower = followers.running["partner"]
                while follower.counts.catch_ups < 1:  # subscribed, then caught up: from here all is live
                    if time.monotonic() > deadline:
                        raise SystemExit("the follower did not catch up")
                    time.sleep(0.05)

                def stored() -> int:
                    with engine.connect() as connection:
                        return int(
                            connection.execute(select(func.count()).select_from(observations)).scalar_one()
                        )

                latencies = []
                for i in range(args.count):
                    before = stored()
                    at = (START + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
                    started = time.perf_counter()
                    post(
                        f"Datastreams({datastream})/Observations", {"phenomenonTime": at, "result": float(i)}
                    )
                    while stored() == before:
                        if time.perf_counter() - started > 30:
                            raise SystemExit(f"Observation {i} did not arrive within 30 s")
                        time.sleep(0.002)
                    latencies.append(time.perf_counter() - started)
                total = stored()
                counts = follower.counts
                followers.stop()
                engine.dispose()
    latencies.sort()
    print(f"{args.count} Observations, one at a time, partner POST -> our store over MQTT ({describe()})")
    print(
        f"latency median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    print(
        f"stored {total} of {args.count}; follower: received {counts.received}, stored {counts.stored}, "
        f"skipped {counts.skipped}, malformed {counts.malformed}, catch-ups {counts.catch_ups}"
    )
    print(f"load average {os.getloadavg()}")
    if total != args.count or counts.catch_ups != 1:
        raise SystemExit("lost, doubled, or not live")


if __name__ == "__main__":
    main()
