"""Participation procedures on the map: a procedure has a time window, an area, questions and
categories; citizens pin contributions to places in it (a point, a line or an area), comment on
published ones and support them (one vote per voter); moderators publish or decline each with a
public reason and answer them; after the window the published results are out as GeoJSON and CSV
for planners and as statistics. Knows no HTTP.

The model is that of map-based participation beside a digital twin (Hamburg's DIPAS) and of
Decidim's and CONSUL's proposals: contributions are moderated before anyone else sees them, so
nothing unmoderated is ever public, and a contact address is seen by moderators alone.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import shapely
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest, Conflict, NotFound
from urbantwin.geometry import GeometryError, check_geometry, from_geojson
from urbantwin.participation import guard
from urbantwin.participation.guard import SubmissionGuard
from urbantwin.participation.ideas import API, DATASET, decline_reason, ensure_dataset
from urbantwin.participation.layer import publish_layer
from urbantwin.participation.texts import (
    CONTRIBUTION_STATUSES,
    SYNTHETIC,
    contributions_count,
    supports_count,
)
from urbantwin.store.engine import for_writes
from urbantwin.store.participation_schema import (
    contribution_comments,
    contribution_supports,
    contributions,
    procedures,
)
from urbantwin.times import format_instant, parse_instant

MAX_QUESTIONS = 20
MAX_CATEGORIES = 50
#: Vertices of one contribution's geometry at most (a hand-drawn area has dozens).
MAX_VERTICES = 1000
MAX_LIMIT = 1000
GEOMETRY_TYPES = ("Point", "LineString", "Polygon")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: The columns of the CSV export, in order.
CSV_COLUMNS = ("id", "category", "question", "text", "answer", "supports", "comments", "created", "wkt")


class ProceduresService:
    def __init__(self, engine: Engine, access: Access, submissions: SubmissionGuard) -> None:
        self.engine = engine
        self.access = access
        self.submissions = submissions

    # --- procedures ------------------------------------------------------------------------------

    def create(self, caller: Caller, body: Any) -> dict[str, Any]:
        """A new procedure (moderators)."""
        body = guard.only(
            body,
            {"id", "title", "description", "start", "end", "area", "questions", "categories", "synthetic"},
            "a procedure",
        )
        ident = body.get("id")
        if not isinstance(ident, str) or not _ID.match(ident):
            raise BadRequest("id must be 1-64 lower-case letters, digits, '_' or '-'")
        start = parse_instant(body.get("start"), "start")
        end = parse_instant(body.get("end"), "end")
        if end <= start:
            raise BadRequest("end must be after start")
        area = _geometry(body.get("area"), "area", ("Polygon", "MultiPolygon"))
        values = {
            "id": ident,
            "title": guard.text(body.get("title"), "title", maximum=guard.MAX_TITLE, minimum=3),
            "description": guard.text(
                body.get("description", ""), "description", maximum=guard.MAX_TEXT, minimum=0
            ),
            "start": start,
            "end": end,
            "area": orjson.loads(shapely.to_geojson(area)),
            "questions": _texts(body.get("questions", []), "questions", MAX_QUESTIONS),
            "categories": _texts(body.get("categories"), "categories", MAX_CATEGORIES, minimum=1),
            "synthetic": 1 if body.get("synthetic") else 0,
            "created": datetime.now(UTC),
        }
        with for_writes(self.engine).begin() as connection:
            ensure_dataset(connection)
            self.access.authorize_moderate(caller, connection, DATASET)
            try:
                connection.execute(procedures.insert().values(**values))
            except IntegrityError:
                raise Conflict(f"a procedure {ident!r} exists already") from None
            self.access.audit.write(
                connection, caller.principal, "create", API, dataset_id=DATASET, target=f"procedure {ident}"
            )
            row = connection.execute(select(procedures).where(procedures.c.id == ident)).one()
        return _procedure(row, datetime.now(UTC))

    def procedures(self, caller: Caller) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        with self.engine.connect() as connection:
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            rows = connection.execute(select(procedures).order_by(procedures.c.start.desc())).all()
        return [_procedure(row, now) for row in rows]

    def procedure(self, caller: Caller, ident: str) -> dict[str, Any]:
        with self.engine.connect() as connection:
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            row = connection.execute(select(procedures).where(procedures.c.id == ident)).first()
        if row is None:
            raise NotFound(f"no procedure {ident[:100]!r}")
        return _procedure(row, datetime.now(UTC))

    # --- contributions ---------------------------------------------------------------------------

    def contribute(self, caller: Caller, client: str, ident: str, body: Any) -> dict[str, Any]:
        """A citizen's contribution pinned to a place inside the procedure's area, in its window."""
        body = guard.only(body, {"category", "question", "text", "geometry", "contact"}, "a contribution")
        self.submissions.admit(client, body)
        text = guard.text(body.get("text"), "text", maximum=guard.MAX_TEXT, minimum=guard.MIN_TEXT)
        geometry = _geometry(body.get("geometry"), "geometry", GEOMETRY_TYPES)
        contact = guard.contact(body.get("contact"))
        now = datetime.now(UTC)
        with for_writes(self.engine).begin() as connection:
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            row = connection.execute(select(procedures).where(procedures.c.id == ident)).first()
            if row is None:
                raise NotFound(f"no procedure {ident[:100]!r}")
            _open(row, now)
            if body.get("category") not in row.categories:
                raise BadRequest(f"category must be one of the procedure's: {', '.join(row.categories)}")
            question = body.get("question")
            if question is not None and (
                not isinstance(question, int)
                or isinstance(question, bool)
                or not 0 <= question < len(row.questions)
            ):
                raise BadRequest(f"question must be the number of one of the {len(row.questions)} questions")
            if not shapely.within(geometry, shapely.from_geojson(orjson.dumps(row.area))):
                raise BadRequest("the contribution's place lies outside the procedure's area")
            mark = guard.fingerprint(ident, text)
            earlier = connection.execute(
                select(contributions.c.id).where(contributions.c.fingerprint == mark)
            ).scalar()
            if earlier is not None:
                raise Conflict(f"the same contribution was sent already (contribution {earlier})")
            west, south, east, north = shapely.bounds(geometry)
            new = connection.execute(
                contributions.insert()
                .values(
                    procedure_id=ident,
                    category=body["category"],
                    question=question,
                    text=text,
                    geometry=orjson.loads(shapely.to_geojson(geometry)),
                    min_lon=west,
                    min_lat=south,
                    max_lon=east,
                    max_lat=north,
                    contact=contact,
                    status="received",
                    fingerprint=mark,
                    created=now,
                    updated=now,
                )
                .returning(contributions.c.id)
            ).scalar_one()
        return {"id": new, "status": "received", "status_label": CONTRIBUTION_STATUSES["received"]}

    def contributions(
        self, caller: Caller, ident: str, status: str | None = None, bbox: str | None = None
    ) -> dict[str, Any]:
        """The procedure's contributions as GeoJSON: the published ones; for moderators every one,
        with contacts. `bbox` (minlon,minlat,maxlon,maxlat) keeps those whose box meets it."""
        if status is not None:
            CONTRIBUTION_STATUSES.require(status, "status")
        with self.engine.connect() as connection:
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            moderator = self.access.may_moderate(caller, connection, DATASET)
            if connection.execute(select(procedures.c.id).where(procedures.c.id == ident)).first() is None:
                raise NotFound(f"no procedure {ident[:100]!r}")
            query = select(contributions, *_tallies()).where(contributions.c.procedure_id == ident)
            if not moderator:
                query = query.where(contributions.c.status == "published")
            if status is not None:
                query = query.where(contributions.c.status == status)
            if bbox is not None:
                west, south, east, north = _bbox(bbox)
                query = query.where(
                    contributions.c.max_lon >= west,
                    contributions.c.min_lon <= east,
                    contributions.c.max_lat >= south,
                    contributions.c.min_lat <= north,
                )
            rows = connection.execute(query.order_by(contributions.c.id).limit(MAX_LIMIT + 1)).all()
            comments = self._comments(connection, [row.id for row in rows], moderator)
        if len(rows) > MAX_LIMIT:
            raise BadRequest(f"more than {MAX_LIMIT} contributions: narrow them with bbox or status")
        return {
            "type": "FeatureCollection",
            "features": [_feature(row, moderator, comments.get(row.id, [])) for row in rows],
            "moderator": moderator,
        }

    def _comments(self, connection: Any, ids: list[int], moderator: bool) -> dict[int, list[dict[str, Any]]]:
        """The comments of the contributions `ids`: for moderators every one; for everyone else the
        published ones, and in the place of a declined one its public reason without its text."""
        if not ids:
            return {}
        query = select(contribution_comments).where(contribution_comments.c.contribution_id.in_(ids))
        if not moderator:
            query = query.where(
                (contribution_comments.c.status == "published")
                | (
                    (contribution_comments.c.status == "declined")
                    & contribution_comments.c.reason.is_not(None)
                )
            )
        found: dict[int, list[dict[str, Any]]] = {}
        for row in connection.execute(query.order_by(contribution_comments.c.id)):
            shown = moderator or row.status == "published"
            found.setdefault(row.contribution_id, []).append(
                {
                    "id": row.id,
                    "text": row.text if shown else None,
                    "status": row.status,
                    "reason": row.reason,
                    "created": format_instant(row.created),
                }
            )
        return found

    def moderate(
        self, caller: Caller, contribution: int, body: Any, comment: int | None = None
    ) -> dict[str, Any]:
        """Publish or decline a contribution (or one of its comments), with a public reason when
        declining, and/or answer it (a contribution; comments get no answer). Nothing sent is
        dropped: a reason without declining, or an answer to a comment, is a 400 naming the field."""
        body = guard.only(body, {"status", "reason", "answer"}, "a moderation")
        status = body.get("status")
        if status is not None and status not in ("published", "declined"):
            raise BadRequest("status must be published or declined")
        answer = body.get("answer")
        if answer is not None:
            if comment is not None:
                raise BadRequest("answer: comments are not answered; answer the contribution")
            answer = guard.text(answer, "answer", maximum=guard.MAX_TEXT)
        if status is None and answer is None:
            raise BadRequest("a moderation needs a status or an answer")
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        values.update(decline_reason(status, body.get("reason")))
        if answer is not None:
            values["answer"] = answer
        with for_writes(self.engine).begin() as connection:
            self.access.authorize_moderate(caller, connection, DATASET)
            if comment is None:
                values["updated"] = datetime.now(UTC)
                done = connection.execute(
                    update(contributions).where(contributions.c.id == contribution).values(**values)
                )
                what = f"contribution {contribution}"
            else:
                done = connection.execute(
                    update(contribution_comments)
                    .where(
                        contribution_comments.c.id == comment,
                        contribution_comments.c.contribution_id == contribution,
                    )
                    .values(**values)
                )
                what = f"comment {comment} of contribution {contribution}"
            if done.rowcount == 0:
                raise NotFound(f"no {what}")
            if comment is None:
                procedure = connection.execute(
                    select(contributions.c.procedure_id).where(contributions.c.id == contribution)
                ).scalar_one()
                publish_layer(connection, procedure)
            self.access.audit.write(
                connection,
                caller.principal,
                "moderate",
                API,
                dataset_id=DATASET,
                target=f"{what}: {status or 'answered'}",
            )
        return {"id": comment if comment is not None else contribution, **values} | (
            {"updated": format_instant(values["updated"])} if "updated" in values else {}
        )

    def comment(self, caller: Caller, client: str, contribution: int, body: Any) -> dict[str, Any]:
        """A comment on a published contribution, in the procedure's window (moderated before shown)."""
        body = guard.only(body, {"text"}, "a comment")
        self.submissions.admit(client, body)
        text = guard.text(body.get("text"), "text", maximum=guard.MAX_COMMENT, minimum=2)
        now = datetime.now(UTC)
        with for_writes(self.engine).begin() as connection:
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            row = self._published(connection, contribution)
            _open(row, now)
            new = connection.execute(
                contribution_comments.insert()
                .values(contribution_id=contribution, text=text, status="received", created=now)
                .returning(contribution_comments.c.id)
            ).scalar_one()
        return {"id": new, "status": "received", "status_label": CONTRIBUTION_STATUSES["received"]}

    def support(self, caller: Caller, client: str, contribution: int) -> dict[str, Any]:
        """One support vote of this voter for a published contribution, in the window (a second is
        refused with 409)."""
        now = datetime.now(UTC)
        with for_writes(self.engine).begin() as connection:
            self.access.require_readable(caller, DATASET, "participation", API, connection)
            row = self._published(connection, contribution)
            _open(row, now)
            self.submissions.admit(client, {})
            voter = self.submissions.voter(client, row.procedure_id)
            exists = connection.execute(
                select(contribution_supports.c.voter).where(
                    contribution_supports.c.contribution_id == contribution,
                    contribution_supports.c.voter == voter,
                )
            ).first()
            if exists is not None:
                raise Conflict(f"contribution {contribution} has this voter's support already")
            connection.execute(
                contribution_supports.insert().values(contribution_id=contribution, voter=voter, created=now)
            )
            count = connection.execute(
                select(func.count()).where(contribution_supports.c.contribution_id == contribution)
            ).scalar_one()
        return {"id": contribution, "supports": count, "supports_label": supports_count(count)}

    def _published(self, connection: Any, contribution: int) -> Any:
        row = connection.execute(
            select(contributions.c.procedure_id, procedures.c.start, procedures.c.end)
            .join(procedures, procedures.c.id == contributions.c.procedure_id)
            .where(contributions.c.id == contribution, contributions.c.status == "published")
        ).first()
        if row is None:
            raise NotFound(f"no published contribution {contribution}")
        return row

    # --- results ---------------------------------------------------------------------------------

    def results(self, caller: Caller, ident: str) -> dict[str, Any]:
        """The published contributions as GeoJSON for planners: public after the window, for
        moderators at any time."""
        procedure = self._after_window(caller, ident)
        collection = self.contributions(caller, ident, status="published")
        return {**collection, "procedure": procedure}

    def results_csv(self, caller: Caller, ident: str) -> str:
        """The published contributions as CSV (geometry as WKT), one row each."""
        self._after_window(caller, ident)
        output = io.StringIO()
        writer = csv.writer(output, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for feature in self.contributions(caller, ident, status="published")["features"]:
            props = feature["properties"]
            writer.writerow(
                [
                    feature["id"],
                    props["category"],
                    "" if props["question"] is None else props["question"],
                    _cell(props["text"]),
                    _cell(props["answer"] or ""),
                    props["supports"],
                    _published_count(props["comments"]),
                    props["created"],
                    shapely.to_wkt(shapely.from_geojson(orjson.dumps(feature["geometry"]))),
                ]
            )
        return output.getvalue()

    def statistics(self, caller: Caller, ident: str) -> dict[str, Any]:
        """Counts of the published contributions by category, question and kind of place, supports
        and comments; public after the window."""
        procedure = self._after_window(caller, ident)
        features = self.contributions(caller, ident, status="published")["features"]
        total = len(features)
        supports = sum(f["properties"]["supports"] for f in features)
        return {
            "procedure": procedure,
            "contributions": total,
            "contributions_label": contributions_count(total),
            "by_category": dict(Counter(f["properties"]["category"] for f in features).most_common()),
            "by_question": {
                str(index): sum(1 for f in features if f["properties"]["question"] == index)
                for index in range(len(procedure["questions"]))
            },
            "by_geometry": dict(Counter(f["geometry"]["type"] for f in features).most_common()),
            "supports": supports,
            "supports_label": supports_count(supports),
            "comments": sum(_published_count(f["properties"]["comments"]) for f in features),
            "most_supported": [
                {
                    "id": f["id"],
                    "supports": f["properties"]["supports"],
                    "category": f["properties"]["category"],
                }
                for f in sorted(features, key=lambda f: -f["properties"]["supports"])[:10]
            ],
        }

    def _after_window(self, caller: Caller, ident: str) -> dict[str, Any]:
        procedure = self.procedure(caller, ident)
        if procedure["phase"] != "closed":
            with self.engine.connect() as connection:
                moderator = self.access.may_moderate(caller, connection, DATASET)
            if not moderator:
                raise Conflict(
                    f"the results of procedure {ident!r} are published after its end, {procedure['end']}"
                )
        return procedure

    def delete_procedure(self, caller: Caller, ident: str) -> None:
        with for_writes(self.engine).begin() as connection:
            self.access.authorize_moderate(caller, connection, DATASET)
            if connection.execute(delete(procedures).where(procedures.c.id == ident)).rowcount == 0:
                raise NotFound(f"no procedure {ident[:100]!r}")
            self.access.audit.write(
                connection, caller.principal, "delete", API, dataset_id=DATASET, target=f"procedure {ident}"
            )


def _cell(text: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _tallies() -> tuple[Any, ...]:
    return (
        select(func.count())
        .where(contribution_supports.c.contribution_id == contributions.c.id)
        .scalar_subquery()
        .label("supports"),
    )


def _open(row: Any, now: datetime) -> None:
    start = row.start if row.start.tzinfo else row.start.replace(tzinfo=UTC)
    end = row.end if row.end.tzinfo else row.end.replace(tzinfo=UTC)
    if now < start:
        raise Conflict(f"the procedure opens on {format_instant(start)}")
    if now >= end:
        raise Conflict(f"the procedure closed on {format_instant(end)}")


def _phase(row: Any, now: datetime) -> str:
    start = row.start if row.start.tzinfo else row.start.replace(tzinfo=UTC)
    end = row.end if row.end.tzinfo else row.end.replace(tzinfo=UTC)
    return "upcoming" if now < start else "open" if now < end else "closed"


def _procedure(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "start": format_instant(row.start),
        "end": format_instant(row.end),
        "phase": _phase(row, now),
        "area": row.area,
        "questions": row.questions,
        "categories": row.categories,
        "synthetic": bool(row.synthetic),
        "synthetic_label": SYNTHETIC if row.synthetic else None,
    }


def _published_count(comments: list[dict[str, Any]]) -> int:
    """How many of `comments` are published (a declined one's place, with its reason, is no comment)."""
    return sum(1 for comment in comments if comment["status"] == "published")


def _feature(row: Any, moderator: bool, comments: list[dict[str, Any]]) -> dict[str, Any]:
    properties = {
        "category": row.category,
        "question": row.question,
        "text": row.text,
        "status": row.status,
        "status_label": CONTRIBUTION_STATUSES[row.status],
        "answer": row.answer,
        "reason": row.reason,
        "supports": row.supports,
        "comments": comments,
        "created": format_instant(row.created),
    }
    if moderator:
        properties["contact"] = row.contact
    return {"type": "Feature", "id": row.id, "geometry": row.geometry, "properties": properties}


def _geometry(value: Any, what: str, kinds: tuple[str, ...]) -> shapely.Geometry:
    try:
        geometry = from_geojson(value)
        check_geometry(geometry)
    except GeometryError as error:
        raise BadRequest(f"{what}: {error}") from None
    if geometry.geom_type not in kinds:
        raise BadRequest(f"{what} must be a GeoJSON {' or '.join(kinds)}, not {geometry.geom_type}")
    if shapely.get_num_coordinates(geometry) > MAX_VERTICES:
        raise BadRequest(f"{what} has more than {MAX_VERTICES} vertices")
    return geometry


def _texts(value: Any, what: str, maximum: int, minimum: int = 0) -> list[str]:
    if not isinstance(value, list) or not minimum <= len(value) <= maximum:
        raise BadRequest(f"{what} must be an array of {minimum} to {maximum} texts")
    texts = [
        guard.text(item, f"{what}[{index}]", maximum=guard.MAX_TITLE) for index, item in enumerate(value)
    ]
    if len(set(texts)) != len(texts):
        raise BadRequest(f"{what} holds the same text twice")
    return texts


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        raise BadRequest("bbox must be minlon,minlat,maxlon,maxlat") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise BadRequest("bbox must be minlon,minlat,maxlon,maxlat within WGS 84's ranges")
    return west, south, east, north
