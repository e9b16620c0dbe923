"""The demo's project portfolio: the projects of Leipzig's digital-city department as its own
description gives them (`portfolio/projects.json`, see SOURCES.md), each with its area on the map
made from the districts the text names (the Ortsteile of `data/leipzig_ortsteile.geojson`) or, for
a city-wide project, the city boundary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import shapely
from sqlalchemy import Engine

from urbantwin.access.gate import Access, Caller
from urbantwin.demo import DATA_DIR
from urbantwin.portfolio.service import PortfolioService
from urbantwin.settings import Settings

PROJECTS = Path(__file__).resolve().parent / "portfolio" / "projects.json"


def demo_projects() -> list[dict[str, Any]]:
    """The demo's projects, each with its area's geometry."""
    projects = json.loads(PROJECTS.read_text(encoding="utf-8"))["projects"]
    districts = {
        feature["properties"]["name"]: shapely.geometry.shape(feature["geometry"])
        for feature in json.loads((DATA_DIR / "leipzig_ortsteile.geojson").read_text(encoding="utf-8"))[
            "features"
        ]
    }
    boundary = shapely.union_all(
        [
            shapely.geometry.shape(feature["geometry"])
            for feature in json.loads(
                (DATA_DIR / "leipzig_city_boundary.geojson").read_text(encoding="utf-8")
            )["features"]
        ]
    )
    for project in projects:
        area = project["area"]
        if area.get("citywide"):
            geometry = boundary
        else:
            geometry = shapely.union_all([districts[name] for name in area["districts"]])
        area["geometry"] = orjson.loads(shapely.to_geojson(shapely.set_precision(geometry, 1e-6)))
    return projects


def load_demo_portfolio(engine: Engine, settings: Settings) -> int:
    """Store the demo's projects (replacing the portfolio); how many."""
    service = PortfolioService(engine, Access.of(engine, settings))
    return service.replace(Caller.system("urbantwin demo: portfolio"), demo_projects())
