"""The energy API's documents as models, for its OpenAPI description: the bodies of its POST routes
and the plan's document.

The bodies are read by `read_json` and checked by the services (`jobs.parse_submission`,
`sweeps.parse_sweep`, `plans.parse_plan`), which name every problem in a 400 as the platform's
errors do; the models here only describe them, through `json_body`, the one place that writes a
POST route's `requestBody`. The plan's document is checked against `PlanDocument` in the tests, so
description and answer cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from urbantwin.energy.kpi import TARGETS


def json_body(model: type[BaseModel], example: Any) -> dict[str, Any]:
    """The `openapi_extra` of a POST route whose JSON body `model` describes, with an example."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(), "example": example}},
        }
    }


class RunRequest(BaseModel):
    """A scenario run: a bundled scenario with optional changes."""

    model_config = ConfigDict(extra="forbid")
    scenario: str = Field(description="a bundled scenario (GET /api/energy/scenarios)")
    area: list[str] | None = Field(None, description="districts of the city profile to simulate")
    strategy: str | None = Field(None, description="baseline, rule_based or optimised")
    overrides: dict[str, Any] | None = Field(None, description='parameters as "section.key": value')


class SweepRequest(BaseModel):
    """Every scenario asked × every area asked, as runs on the Dask cluster."""

    model_config = ConfigDict(extra="forbid")
    scenarios: list[str] | Literal["all"]
    areas: list[list[str]] | Literal["each"] | None = Field(
        None, description='areas, each a list of districts, or "each" district on its own'
    )
    strategy: str | None = None
    overrides: dict[str, Any] | None = None


class PlanRequest(BaseModel):
    """What it takes: the least-cost portfolio of measures that meets the targets within a budget."""

    model_config = ConfigDict(extra="forbid")
    baseline: str = Field(
        "baseline", description="the scenario the portfolio starts from and the targets are measured against"
    )
    targets: dict[str, float] = Field(
        default_factory=lambda: dict(TARGETS),
        description="target → change against the baseline (co2, renewable, final_energy; any of them); "
        "default the SPARCS three",
    )
    budget_eur: float = Field(0.0, ge=0, description="investment budget in €; 0: no limit")
    year: int = Field(0, description="plan on the grid of this year (2023-2045); 0: the scenario's grid")
    area: list[str] | None = Field(None, description="districts of the city profile to plan")
    district_heating_areas: list[str] | None = Field(
        None, description="districts where a heat network is assumed"
    )
    overrides: dict[str, Any] | None = Field(
        None, description="plan parameters (costs, effects, solver; see docs/energy.md), e.g. pv_eur_per_kwp"
    )


PLAN_EXAMPLE = {
    "targets": {"co2": -0.64, "renewable": 0.65, "final_energy": -0.53},
    "budget_eur": 150_000_000,
    "year": 2030,
    "overrides": {"pv_eur_per_kwp": 1100},
}


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rel: str
    href: str
    type: str


class PlanTarget(BaseModel):
    """One target: its goal, the change the programme claims and the simulation shows, met or by how
    much it is missed (a share of the baseline's value, as the simulation shows it)."""

    model_config = ConfigDict(extra="forbid")
    target: str
    label: str
    goal: float
    programme: float | None
    simulated: float | None
    met: bool
    miss: float


class PlanBinding(BaseModel):
    """A constraint holding the portfolio back: budget, refurbishment, heat_supply, pv,
    quarter_storage or effects (no portfolio of the measures reaches the targets)."""

    model_config = ConfigDict(extra="forbid")
    key: str
    text: str


class PlanKpi(BaseModel):
    model_config = ConfigDict(extra="forbid")
    programme: float | None
    simulated: float | None
    baseline: float | None
    deviation: float | None


class PlanPortfolio(BaseModel):
    """The portfolio of a finished plan."""

    model_config = ConfigDict(extra="forbid")
    met: bool
    investment_eur: float
    annual_cost_eur: float
    budget_eur: float | None
    targets: list[PlanTarget]
    binding: list[PlanBinding]
    kpis: dict[str, PlanKpi]
    measures: dict[str, float]
    costs: dict[str, float]
    iterations: int
    optimal: bool
    seconds: float
    grid: dict[str, Any] | None
    parameters: list[dict[str, Any]]


class PlanAsked(BaseModel):
    model_config = ConfigDict(extra="forbid")
    targets: dict[str, float]
    budget_eur: float
    year: int
    area: list[str] | None
    district_heating_areas: list[str]
    overrides: dict[str, Any]


class PlanDocument(BaseModel):
    """A plan: what was asked, its status and progress, and once done its portfolio; the
    per-building measures are the collection (`items`, `tiles` links)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    baseline: str
    title: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    error: str | None
    simulated: bool
    note: str
    collection: str
    submitted_by: str
    created: str | None
    started: str | None
    finished: str | None
    request: PlanAsked
    portfolio: PlanPortfolio | None
    links: list[Link]


class PlanList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plans: list[PlanDocument]
    targets: dict[str, float]
