"""Citizens' ideas and their moderation. Knows no HTTP: it takes the caller, asks the access
point, raises the typed errors of `urbantwin.errors`.

Anyone submits an idea (title, text, category, optionally a place and a contact address). It is
`received`, seen by moderators only; a moderator takes it `in_review` (public from then on), and
ends it as `project` — linked to the portfolio project it became — or `declined` with a public
reason. Spam and abuse are `hidden` instead: declining publishes an idea with its text, hiding keeps
it from the public (and may be undone by taking it in review). The department may answer at every
step; the answer is public with the idea. Who moderates is the access policy's answer for the
participation dataset (its writers, `Access.may_moderate`); the contact address is shown to them
alone, and every moderation is in the audit log (without the contact).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import shapely
from sqlalchemy import Connection, Engine, func, select, update

from urbantwin.access.datasets import create_dataset_unless_exists
from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest, Conflict, NotFound
from urbantwin.geometry import GeometryError, check_geometry, from_geojson
from urbantwin.participation import guard
from urbantwin.participation.guard import SubmissionGuard
from urbantwin.participation.texts import IDEA_CATEGORIES, IDEA_STATUSES
from urbantwin.store.engine import for_writes
from urbantwin.store.participation_schema import ideas, portfolio_projects
from urbantwin.times import format_instant

API = "participation"
#: The catalogue dataset whose rules say who reads participation and who moderates it.
DATASET = "participation"
#: Statuses the public sees, and where each status may go next.
PUBLIC = ("in_review", "project", "declined")
TRANSITIONS = {
    "received": ("in_review", "project", "declined", "hidden"),
    "in_review": ("project", "declined", "hidden"),
    "project": (),
    "declined": ("in_review", "hidden"),
    "hidden": ("in_review",),
}
#: The same idea again within this time is a duplicate.
DUPLICATE_WINDOW = timedelta(days=90)
MAX_LIMIT = 500
MAX_REASON = 2000


def ensure_dataset(connection: Connection) -> None:
    """The participation dataset's record, created open unless it exists (its writers moderate)."""
    create_dataset_unless_exists(
        connection,
        DATASET,
        title="Participation: ideas and contributions",
        description="Citizens' ideas and contributions to participation procedures, as published "
        "after moderation, with the department's answers (API: /api/participation/). Contact "
        "details are never published.",
        access_level="open",
        themes=["GOVE", "SOCI"],
        keywords=["participation", "ideas"],
        licence="cc-by/4.0",
    )


class IdeasService:
    def __init__(self, engine: Engine, access: Access, submissions: SubmissionGuard) -> None:
        self.engine = engine
        self.access = access
        self.submissions = submissions

    def submit(self, caller: Caller, client: str, body: Any) -> dict[str, Any]:
        """Store a citizen's idea as `received`; what the citizen may see of it."""
        body = guard.only(body, {"title", "text", "category", "place", "contact"}, "an idea")
        self.submissions.admit(client, body)
        title = guard.text(body.get("title"), "title", maximum=guard.MAX_TITLE, minimum=3)
        text = guard.text(body.get("text"), "text", maximum=guard.MAX_TEXT, minimum=guard.MIN_TEXT)
        category = IDEA_CATEGORIES.require(body.get("category"), "category")
        place = _place(body.get("place"))
        contact = guard.contact(body.get("contact"))
        now = datetime.now(UTC)
        mark = guard.fingerprint(title, text)
        with for_writes(self.engine).begin() as connection:
            ensure_dataset(connection)
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            earlier = connection.execute(
                select(ideas.c.id).where(
                    ideas.c.fingerprint == mark, ideas.c.created > now - DUPLICATE_WINDOW
                )
            ).scalar()
            if earlier is not None:
                raise Conflict(f"the same idea was sent already (idea {earlier}); it is being looked at")
            ident = connection.execute(
                ideas.insert()
                .values(
                    title=title,
                    text=text,
                    category=category,
                    geometry=place,
                    contact=contact,
                    status="received",
                    fingerprint=mark,
                    created=now,
                    updated=now,
                )
                .returning(ideas.c.id)
            ).scalar_one()
        return {"id": ident, "status": "received", "status_label": IDEA_STATUSES["received"]}

    def listing(
        self, caller: Caller, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> dict[str, Any]:
        """The ideas the caller may see: the public ones; for moderators every one, with contacts."""
        if status is not None:
            IDEA_STATUSES.require(status, "status")
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise BadRequest(f"limit must be 1 to {MAX_LIMIT} and offset not negative")
        with self.engine.connect() as connection:
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            moderator = self.access.may_moderate(caller, connection, DATASET)
            query = select(ideas)
            if not moderator:
                query = query.where(ideas.c.status.in_(PUBLIC))
            if status is not None:
                query = query.where(ideas.c.status == status)
            matched = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = connection.execute(
                query.order_by(ideas.c.created.desc(), ideas.c.id.desc()).limit(limit).offset(offset)
            ).all()
        return {
            "ideas": [_idea(row, moderator) for row in rows],
            "numberMatched": matched,
            "moderator": moderator,
        }

    def idea(self, caller: Caller, ident: int) -> dict[str, Any]:
        with self.engine.connect() as connection:
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            moderator = self.access.may_moderate(caller, connection, DATASET)
            row = connection.execute(select(ideas).where(ideas.c.id == ident)).first()
        if row is None or (not moderator and row.status not in PUBLIC):
            raise NotFound(f"no idea {ident}")
        return _idea(row, moderator)

    def moderate(self, caller: Caller, ident: int, body: Any) -> dict[str, Any]:
        """A moderator's decision: a new status (a public reason when declining, the project when it
        became one) and/or the department's answer. Nothing sent is dropped: a reason or a project
        that goes with no such decision is a 400 naming the field."""
        body = guard.only(body, {"status", "reason", "answer", "project"}, "a moderation")
        status = body.get("status")
        if status is not None:
            IDEA_STATUSES.require(status, "status")
        answer = body.get("answer")
        if answer is not None:
            answer = guard.text(answer, "answer", maximum=guard.MAX_TEXT)
        if status is None and answer is None:
            raise BadRequest("a moderation needs a status or an answer")
        now = datetime.now(UTC)
        with for_writes(self.engine).begin() as connection:
            self.access.authorize_moderate(caller, connection, DATASET)
            row = connection.execute(select(ideas).where(ideas.c.id == ident)).first()
            if row is None:
                raise NotFound(f"no idea {ident}")
            values: dict[str, Any] = {"updated": now}
            if answer is not None:
                values["answer"] = answer
            changed = status is not None and status != row.status
            if changed:
                if status not in TRANSITIONS[row.status]:
                    allowed = ", ".join(TRANSITIONS[row.status]) or "none"
                    raise Conflict(f"idea {ident} is {row.status}: it may become {allowed}, not {status}")
                values["status"] = status
                if status == "project":
                    values["project_id"] = _project(connection, body.get("project"))
            # Declining again changes the public reason; any other status clears an earlier one.
            decided = status if changed or status == "declined" else None
            values.update(decline_reason(decided, body.get("reason")))
            if body.get("project") is not None and not (changed and status == "project"):
                raise BadRequest("project: the project goes with a change of status to project")
            connection.execute(update(ideas).where(ideas.c.id == ident).values(**values))
            self.access.audit.write(
                connection,
                caller.principal,
                "moderate",
                API,
                dataset_id=DATASET,
                target=f"idea {ident}: {values.get('status', row.status)}"
                + (" (answered)" if answer is not None else ""),
            )
            row = connection.execute(select(ideas).where(ideas.c.id == ident)).one()
        return _idea(row, True)


def decline_reason(status: str | None, reason: Any) -> dict[str, Any]:
    """The reason's column of a moderation to `status` (None: no change of status): declining needs
    a public reason; any other status clears the reason of an earlier decline; a reason sent with
    anything but declining is refused naming the field, never dropped. The same rule for ideas,
    contributions and comments."""
    if status == "declined":
        return {
            "reason": guard.text(reason, "reason (public, when declining)", maximum=MAX_REASON, minimum=5)
        }
    if reason is not None:
        with_what = f"status {status}" if status is not None else "a moderation without a change of status"
        raise BadRequest(
            f"reason: a public reason goes with declining (status declined), not with {with_what}"
        )
    return {"reason": None} if status is not None else {}


def _place(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        geometry = from_geojson(value)
        check_geometry(geometry)
    except GeometryError as error:
        raise BadRequest(f"place: {error}") from None
    if geometry.geom_type != "Point":
        raise BadRequest("place must be a GeoJSON Point (longitude, latitude)")
    result: dict[str, Any] = orjson.loads(shapely.to_geojson(geometry))
    return result


def _project(connection: Connection, project: Any) -> str:
    if not isinstance(project, str) or not project:
        raise BadRequest("an idea that became a project needs 'project', the id of its portfolio project")
    found = connection.execute(
        select(portfolio_projects.c.id).where(portfolio_projects.c.id == project)
    ).scalar()
    if found is None:
        raise BadRequest(f"project: no portfolio project {project[:100]!r}")
    return str(found)


def _idea(row: Any, moderator: bool) -> dict[str, Any]:
    idea = {
        "id": row.id,
        "title": row.title,
        "text": row.text,
        "category": row.category,
        "category_label": IDEA_CATEGORIES.get(row.category),
        "place": row.geometry,
        "status": row.status,
        "status_label": IDEA_STATUSES[row.status],
        "answer": row.answer,
        "reason": row.reason,
        "project": row.project_id,
        "created": format_instant(row.created),
        "updated": format_instant(row.updated),
    }
    if moderator:
        idea["contact"] = row.contact
    return idea
