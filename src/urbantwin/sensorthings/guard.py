"""Access decisions for the writes of one SensorThings request.

The policy (`access/`) decides whether a principal may write a dataset; this module knows which
dataset a SensorThings entity is in, and which dataset a new one joins:

1. the dataset of the entity it is created in or for — a Datastream joins its Thing's, a
   FeatureOfInterest made for an Observation its Datastream's, whatever is deep-inserted or posted
   under a parent joins the parent's;
2. else the writer's own dataset (a sensor owner's `default_dataset_id`);
3. else the platform's default dataset (`URBANTWIN_DEFAULT_DATASET`).

Every inserted, changed or deleted row is checked against the policy once per dataset and request;
entities referenced by id must be visible to the writer, so nobody can link to (or learn of) what
they may not read.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from urbantwin.access.policy import AccessPolicy
from urbantwin.access.principal import Principal
from urbantwin.sensorthings.model import EntityType
from urbantwin.sensorthings.visibility import ALL, Visibility, dataset_of


class WriteGuard:
    def __init__(
        self,
        policy: AccessPolicy | None,
        principal: Principal | None,
        visibility: Visibility = ALL,
        home_dataset: str | None = None,
        touched: set[str | None] | None = None,
    ) -> None:
        #: None for writes the platform makes itself (no policy to ask).
        self.policy = policy
        self.principal = principal
        self.visibility = visibility
        self.home_dataset = home_dataset
        self._allowed: set[str | None] = set()
        #: Every dataset the request wrote to (for the audit log).
        self.touched = touched if touched is not None else set()

    def authorize(self, connection: Connection, dataset_id: str | None) -> None:
        """Raise unless the principal may write `dataset_id` (asked once per dataset)."""
        self.touched.add(dataset_id)
        if self.policy is None or self.principal is None or self.writes_everything:
            return
        if dataset_id in self._allowed:
            return
        self.policy.authorize_write(self.principal, connection, dataset_id)
        self._allowed.add(dataset_id)

    def authorize_entity(self, connection: Connection, entity: EntityType, ident: int) -> None:
        self.authorize(connection, dataset_of(connection, entity, ident))

    def visible(self, connection: Connection, entity: EntityType, ident: int) -> bool:
        """Whether an entity the request refers to by id exists for the writer."""
        table = entity.table
        query = select(table.c.id).where(table.c.id == ident, *self.visibility.conditions(entity, table))
        return connection.execute(query).first() is not None

    @property
    def writes_everything(self) -> bool:
        """Whether every write is allowed anyway (the platform itself, an administrator)."""
        return self.policy is None or self.principal is None or self.principal.writes_everything

    @property
    def checks_references(self) -> bool:
        """Whether references must be looked up (otherwise the foreign keys check existence)."""
        return not self.visibility.unrestricted


def dataset_column(entity: EntityType) -> bool:
    return "dataset_id" in entity.table.c
