"""Properties the server computes when they are read: a Datastream's phenomenonTime and resultTime.

They are aggregates of the Datastream's Observations, each answered from an index of the
observations table (see store.schema), so reading them costs an index probe per Datastream and
writing an Observation never touches its Datastream's row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from urbantwin.store import schema


def datastream_times(datastream: Any) -> dict[str, Any]:
    """Column expressions, named like columns, for the Datastream rows of `datastream` (a table
    or alias in the enclosing query)."""
    obs = schema.observations.alias()

    def aggregate(function: Any, column: Any) -> Any:
        return select(function(column)).where(obs.c.datastream_id == datastream.c.id).scalar_subquery()

    return {
        "phenomenon_time_start": aggregate(func.min, obs.c.phenomenon_time_start),
        "phenomenon_time_end": aggregate(
            func.max, func.coalesce(obs.c.phenomenon_time_end, obs.c.phenomenon_time_start)
        ),
        "result_time_start": aggregate(func.min, obs.c.result_time),
        "result_time_end": aggregate(func.max, obs.c.result_time),
    }
