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

from sqlalchemy import Connection, select
from sqlalchemy.sql import ColumnElement

from urbantwin.access.policy import EVERYTHING, DatasetScope
from urbantwin.sensorthings.model import EntityType
from urbantwin.store.schema import datastreams, things

#: Entities without a dataset of their own: the table whose row carries it, and the column naming
#: that row. Every other entity carries its `dataset_id` itself.
_CARRIED_BY = {"Observation": (datastreams, "datastream_id"), "HistoricalLocation": (things, "thing_id")}


def dataset_of(connection: Connection, entity: EntityType, ident: int) -> str | None:
    """The dataset an existing entity is in (an Observation: its Datastream's)."""
    table = entity.table
    return connection.execute(select(dataset_column(entity, table)).where(table.c.id == ident)).scalar()


def carries_dataset(entity: EntityType) -> bool:
    """Whether rows of `entity` hold their dataset themselves (`dataset_id`), unlike Observations."""
    return entity.name not in _CARRIED_BY


def dataset_column(entity: EntityType, alias: Any) -> ColumnElement[Any]:
    """The dataset of each row of `entity` (as `alias`), to select along with the row: its own
    column, or that of the row that carries it (an Observation: its Datastream's)."""
    carrier = _CARRIED_BY.get(entity.name)
    if carrier is None:
        return alias.c.dataset_id
    parents, fk = carrier
    return select(parents.c.dataset_id).where(parents.c.id == alias.c[fk]).scalar_subquery()


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
        carrier = _CARRIED_BY.get(entity.name)
        if carrier is None:
            return self.scope.allows_column(alias.c.dataset_id)
        parents, fk = carrier
        readable = self.scope.allows_column(parents.c.dataset_id)
        assert readable is not None  # the scope is restricted here
        return alias.c[fk].in_(select(parents.c.id).where(readable))

    def conditions(self, entity: EntityType, alias: Any) -> list[ColumnElement[bool]]:
        condition = self.condition(entity, alias)
        return [] if condition is None else [condition]


ALL = Visibility()
