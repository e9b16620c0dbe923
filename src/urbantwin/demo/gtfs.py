"""The demo's public transport: a real GTFS feed of another city, Plzeň (CZ), since Leipzig's own
feed is not openly available (see SOURCES.md, `transit/`), and two scenario runs on it.

Everything shown of it says whose it is: the feed's title (its collections', the catalogue's and the
viewer's) names Plzeň and that it is not Leipzig's, and the runs' titles say "Plzeň". The runs are
model results (as every transit run), computed in a second or two each when the demo loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from urbantwin.access.gate import Access, Caller
from urbantwin.settings import Settings
from urbantwin.transit.energy import TransitEnergy
from urbantwin.transit.gtfs_import import import_gtfs
from urbantwin.transit.runs import TransitRuns

#: Plzeň's PMDP feed (CC BY 4.0), a byte-for-byte copy (SOURCES.md).
FEED_FILE = Path(__file__).resolve().parent / "transit" / "plzen_pmdp_2026-02.gtfs.zip"
FEED_ID = "plzen-pmdp-2026-02"
TITLE = "Plzeň (CZ), PMDP — another city's feed, not Leipzig's"
#: The organisation of the demo's catalogue that publishes the feed (demo/catalog.py).
PUBLISHER = "pmdp"
LICENCE = "CC BY 4.0"
ATTRIBUTION = "PMDP / Plzeň open data (CC BY 4.0)"
SOURCE = "https://opendata.plzen.eu/public/opendata/detail/187"

#: The demo's scenario runs on the feed (docs/transit.md, "Scenarios"), on its typical weekday.
SCENARIOS: tuple[dict[str, Any], ...] = (
    {
        "scenario": {
            "feed": FEED_ID,
            "name": "plzen-battery-buses",
            "title": "Plzeň: bus lines 30 and 33 with battery buses",
            "description": "Plzeň's bus lines 30 and 33 run with battery buses instead of diesel ones "
            "(a demo scenario on another city's feed).",
        },
        "electrify": {"lines": ["30", "33"], "vehicle_day_km": 250},
    },
    {
        "scenario": {
            "feed": FEED_ID,
            "name": "plzen-eco-driving",
            "title": "Plzeň: energy-saving driving (−8 %)",
            "description": "An energy-saving driving style in all of Plzeň's vehicles: 8 % less traction "
            "energy and diesel (a demo scenario on another city's feed).",
        },
        "driving": {"saving_share": 0.08},
    },
)


@dataclass(frozen=True)
class DemoTransit:
    feed_id: str
    routes: int
    trips: int
    runs: list[str]

    def summary(self) -> str:
        return (
            f"Imported the transit feed {self.feed_id!r} ({self.routes} routes, {self.trips} trips; "
            f"Plzeň's, as Leipzig's own feed is not open) and ran {len(self.runs)} scenarios on it."
        )


def load_demo_transit(engine: Engine, settings: Settings) -> DemoTransit:
    """Import the feed (nothing changes when it is there already) and run the demo's scenarios."""
    report = import_gtfs(
        engine,
        FEED_FILE,
        feed_id=FEED_ID,
        title=TITLE,
        source=SOURCE,
        licence=LICENCE,
        attribution=ATTRIBUTION,
        publisher=PUBLISHER,
    )
    access = Access.of(engine, settings)
    runs = TransitRuns(engine, TransitEnergy(engine, access))
    ids = [runs.submit(Caller.system(), scenario) for scenario in SCENARIOS]
    access.audit.flush()  # the reads' usage counts now, not from a timer after the command
    return DemoTransit(FEED_ID, report.summary["routes"], report.summary["trips"], ids)
