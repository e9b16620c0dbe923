"""One scenario from buildings to KPIs: the pipeline the CLI, the bench and the tests share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from urbantwin.city_profile import NO_CITY
from urbantwin.energy import components, kpi, loads, model, strategies
from urbantwin.energy.pv import PVModel
from urbantwin.energy.scenario import Scenario
from urbantwin.energy.site import Site
from urbantwin.energy.weather import Weather, region4
from urbantwin.store.city import read_profile


@dataclass
class Run:
    """A simulated scenario: its buildings, demand, plant, result and KPIs."""

    scenario: Scenario
    buildings: model.Buildings
    demand: model.Demand
    plant: components.Plant
    result: strategies.Result
    #: Where it was simulated (the sun's path, holidays, legal time), with where that comes from.
    site: Site | None = None
    building_kpis: dict = field(default_factory=dict)
    block_kpis: dict = field(default_factory=dict)
    district_kpis: dict = field(default_factory=dict)
    #: Further properties of each building's feature (a plan's measures), one mapping per building.
    building_extra: list[dict] = field(default_factory=list)


def prepare(
    records: Sequence[model.BuildingRecord],
    scenario: Scenario,
    weather: Weather | None = None,
    pv_model: PVModel | None = None,
    site: Site | None = None,
) -> tuple[model.Buildings, model.Demand, components.Plant]:
    """The district model and the plant of a scenario on the given buildings, at `site` (None: the
    middle of the buildings, with the profile's default holidays and time zone; see `site.py`)."""
    weather = weather or region4()
    site = site or Site.of(NO_CITY, records)
    calendar = loads.calendar(scenario.scenario.year, site.region, site.time_zone)
    climate = loads.heating_season(weather)
    buildings = model.describe(records, scenario.buildings)
    need = model.demand(buildings, scenario, climate)
    if pv_model is None or pv_model.params != scenario.pv or pv_model.site != site.point:
        pv_model = PVModel(weather, scenario.pv, site=site.point, year=calendar.year)
    plant = components.equip(buildings, need, scenario, weather, calendar, pv_model)
    return buildings, need, plant


def simulate(
    records: Sequence[model.BuildingRecord],
    scenario: Scenario,
    progress: Callable[[int], None] | None = None,
    record: bool = False,
    weather: Weather | None = None,
    site: Site | None = None,
    watch: Callable[[model.Buildings], strategies.Watch] | None = None,
) -> Run:
    """Model, equip, simulate and evaluate a scenario on the given buildings (at `site`, see `prepare`);
    `watch` chooses, from the modelled buildings, groups whose flows the result keeps
    (`Result.watched`, see `engine.Watch`)."""
    site = site or Site.of(NO_CITY, records)
    buildings, need, plant = prepare(records, scenario, weather, site=site)
    result = strategies.simulate(
        plant,
        scenario.scenario.strategy,
        scenario.optimiser,
        record,
        progress,
        watch=watch(buildings) if watch is not None else None,
    )
    return Run(
        scenario=scenario,
        buildings=buildings,
        demand=need,
        plant=plant,
        result=result,
        site=site,
        building_kpis=kpi.buildings(result, scenario),
        block_kpis=kpi.groups(result, scenario, buildings.block),
        district_kpis=kpi.district(result, scenario),
    )


def store_buildings(engine: Engine, scenario: Scenario) -> tuple[Site, list[model.BuildingRecord]]:
    """The buildings of the store a scenario is about (its collection and area) and the site where the
    store's city profile says the city lies; a scenario without buildings is a ValueError naming them."""
    city = read_profile(engine)
    records = model.read_buildings(engine, scenario, city)
    if not records:
        info = scenario.scenario
        raise ValueError(
            f"no buildings in collection '{info.buildings_collection}'"
            + (f" within {', '.join(info.area)}" if info.area else "")
        )
    return Site.of(city, records), records


def from_store(engine: Engine, scenario: Scenario, progress: Callable[[int], None] | None = None) -> Run:
    """Simulate a scenario on the buildings of the store (collection and area of the scenario), where
    the store's city profile says the city lies."""
    site, records = store_buildings(engine, scenario)
    return simulate(records, scenario, progress, site=site)
