"""What a reader may see of the SensorThings entities, as SQL conditions per entity table.

The policy (`access/`) decides which datasets a principal may read; this module only says how that
decision applies to the SensorThings tables: an entity that can stand alone is visible when its own
dataset is; an Observation when its Datastream's is, a HistoricalLocation when its Thing's is. Every
place that reads a table — the addressed collection, each step of a path, `$expand`, the joins and
EXISTS of `$filter` and `$orderby`, `$count` — adds the condition, so nothing hidden leaks through a
related entity. An unrestricted scope adds no condition at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from urbantwin.access.policy import EVERYTHING, DatasetScope
from urbantwin.sensorthings.model import EntityType
from urbantwin.store.schema import datastreams, things


class Visibility:
    def __init__(self, scope: DatasetScope = EVERYTHING) -> None:
        self.scope = scope

    @property
    def unrestricted(self) -> bool:
        return self.scope.unrestricted

    def condition(self, entity: EntityType, alias: Any) -> ColumnElement[bool] | None:
        """The condition that rows of `entity` (as `alias`) are visible, or None if all are."""
        if self.scope.unrestricted:
            return None
        if entity.name == "Observation":
            parents = select(datastreams.c.id).where(self.scope.allows_column(datastreams.c.dataset_id))
            return alias.c.datastream_id.in_(parents)
        if entity.name == "HistoricalLocation":
            parents = select(things.c.id).where(self.scope.allows_column(things.c.dataset_id))
            return alias.c.thing_id.in_(parents)
        return self.scope.allows_column(alias.c.dataset_id)

    def conditions(self, entity: EntityType, alias: Any) -> list[ColumnElement[bool]]:
        condition = self.condition(entity, alias)
        return [] if condition is None else [condition]


ALL = Visibility()
