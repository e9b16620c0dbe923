"""Tables of the energy quarter's stored runs: one row per scenario run, and its 15-minute series.

A run is submitted (status `queued`), executed by a worker thread of a server process (`running`,
with `progress` 0..1 and a `heartbeat` the worker renews), and ends `done` (with its district KPIs,
parameters and profiles) or `failed` (with an `error` naming the cause). Status and progress live
here, so every server process answers the same. The quarter's series is kept apart, one compressed
blob per run, so listing runs never reads it.
"""

from __future__ import annotations

from sqlalchemy import Column, Double, ForeignKey, Index, Integer, LargeBinary, Table, Text

from urbantwin.store.schema import metadata
from urbantwin.store.types import Json, UtcTime

#: The runs. `scenario` is the bundled scenario's name; `collection` the per-building KPI
#: collection the run writes (`energy-<scenario>`, or `energy-<scenario>-<id>` for a variant).
energy_runs = Table(
    "energy_runs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("scenario", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("strategy", Text, nullable=False),
    #: The overrides the run applies to the bundled scenario (`section.key` → value), area included.
    Column("overrides", Json, nullable=False),
    Column("collection", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("progress", Double, nullable=False),
    Column("error", Text),
    Column("submitted_by", Text, nullable=False),
    Column("created", UtcTime, nullable=False),
    Column("started", UtcTime),
    Column("finished", UtcTime),
    #: Renewed by the worker while the run is queued or running; a stale one means the process died.
    Column("heartbeat", UtcTime, nullable=False),
    Column("kpis", Json),
    Column("parameters", Json),
    Column("profiles", Json),
    #: The sweep the run is one task of (`energy_sweeps.id`); None for a run submitted alone. A
    #: sweep's runs are executed by the sweep's driver on Dask, never by the run queue's worker.
    Column("sweep_id", Text),
    #: `run` (a scenario simulated) or `plan` (the target-seeking planner's portfolio, energy/plans.py,
    #: stored and simulated like a run, its collection holding every building's measures).
    Column("kind", Text, nullable=False, server_default="run"),
    #: A plan's request (targets, budget, year, overrides) and, once done, its summary (portfolio.Plan).
    Column("plan", Json),
    Index("ix_energy_runs_status", "status"),
    Index("ix_energy_runs_sweep_id", "sweep_id"),
)

#: Sweeps: many runs (every scenario × every area asked) fanned out as tasks of a Dask cluster
#: (energy/sweeps.py). `status` is `queued` until a driver claims it, then `running`, then `ended`;
#: how each of its runs went is theirs (`energy_runs.sweep_id`).
energy_sweeps = Table(
    "energy_sweeps",
    metadata,
    Column("id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    #: What was asked: {"scenarios": [...], "areas": [[...], ...]} (an area is a list of districts;
    #: an empty one the whole quarter), for the record and the API.
    Column("request", Json, nullable=False),
    Column("submitted_by", Text, nullable=False),
    Column("created", UtcTime, nullable=False),
    Column("started", UtcTime),
    Column("finished", UtcTime),
    #: Renewed by the driver while it runs; a stale one means its process died (see `expire`).
    Column("heartbeat", UtcTime, nullable=False),
    Index("ix_energy_sweeps_status", "status"),
)

#: The quarter's series of a finished run: `flows` names the columns of `data` (an `.npz` of float64
#: arrays, kWh per step; CO2 in kg), `steps` 15-minute steps from `start`.
energy_run_series = Table(
    "energy_run_series",
    metadata,
    Column("run_id", Text, ForeignKey("energy_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("start", UtcTime, nullable=False),
    Column("steps", Integer, nullable=False),
    Column("flows", Json, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
