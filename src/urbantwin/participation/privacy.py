"""A person's data on request: everything participation holds under their contact address, out
(export) and gone (deletion) — the GDPR's rights of access (Art. 15) and erasure (Art. 17).

Only the contact address ties a submission to a person (support votes keep a keyed hash, comments
no one's details), so the address finds all of it. Deletion removes the person's ideas and
contributions whole (with their comments and votes), as their texts may say who they are; the audit
log records that a deletion happened and how many rows it took, never the address. Administrators
only, through the access policy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, select

from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest
from urbantwin.participation import guard
from urbantwin.participation.ideas import API, DATASET
from urbantwin.store.engine import for_writes
from urbantwin.store.participation_schema import contributions, ideas
from urbantwin.times import format_instant


class PersonalData:
    def __init__(self, engine: Engine, access: Access) -> None:
        self.engine = engine
        self.access = access

    def export(self, caller: Caller, contact: Any) -> dict[str, Any]:
        """Everything stored under `contact`."""
        self.access.authorize_admin(caller)
        address = _address(contact)
        with self.engine.connect() as connection:
            found_ideas = connection.execute(select(ideas).where(ideas.c.contact == address)).all()
            found_contributions = connection.execute(
                select(contributions).where(contributions.c.contact == address)
            ).all()
        return {
            "contact": address,
            "ideas": [
                {
                    "id": row.id,
                    "title": row.title,
                    "text": row.text,
                    "category": row.category,
                    "place": row.geometry,
                    "status": row.status,
                    "answer": row.answer,
                    "reason": row.reason,
                    "created": format_instant(row.created),
                }
                for row in found_ideas
            ],
            "contributions": [
                {
                    "id": row.id,
                    "procedure": row.procedure_id,
                    "category": row.category,
                    "text": row.text,
                    "geometry": row.geometry,
                    "status": row.status,
                    "answer": row.answer,
                    "reason": row.reason,
                    "created": format_instant(row.created),
                }
                for row in found_contributions
            ],
        }

    def delete(self, caller: Caller, contact: Any) -> dict[str, int]:
        """Delete everything stored under `contact`; how many ideas and contributions."""
        self.access.authorize_admin(caller)
        address = _address(contact)
        with for_writes(self.engine).begin() as connection:
            gone_ideas = connection.execute(delete(ideas).where(ideas.c.contact == address)).rowcount
            gone_contributions = connection.execute(
                delete(contributions).where(contributions.c.contact == address)
            ).rowcount
            self.access.audit.write(
                connection,
                caller.principal,
                "delete-personal-data",
                API,
                dataset_id=DATASET,
                target=f"{gone_ideas} ideas, {gone_contributions} contributions of one person",
            )
        return {"ideas": gone_ideas, "contributions": gone_contributions}


def _address(contact: Any) -> str:
    address = guard.contact(contact)
    if address is None:
        raise BadRequest("contact: the e-mail address whose data is asked for")
    return address
