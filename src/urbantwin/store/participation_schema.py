"""Tables of the project portfolio (`urbantwin.portfolio`) and of participation
(`urbantwin.participation`): the city's projects, citizens' ideas, participation procedures on the
map with their contributions, comments and support votes.

Personal data lives in two columns only, `contact` of ideas and of contributions (an address the
department may answer to), which `access/` lets moderators alone read and which the deletion and
export of a person's data find by their address. Support votes keep no address: only a salted hash
of who voted, to count each voter once. Geometries are GeoJSON (WGS 84) with their bounding box, as
participation reads them in small numbers per procedure, never by a spatial index.
"""

from __future__ import annotations

from sqlalchemy import Column, Double, ForeignKey, Index, Integer, Table, Text

from urbantwin.store.schema import metadata
from urbantwin.store.types import Id, Json, UtcTime

#: One project of the city's portfolio; what the sources do not say stays null (never guessed).
portfolio_projects = Table(
    "portfolio_projects",
    metadata,
    Column("id", Text, primary_key=True),
    #: The whole project document as imported (titles and texts per language, programme, funder,
    #: period, partners with roles, funding figures, area, status, contact mailbox, links).
    Column("document", Json, nullable=False),
    Column("status", Text, nullable=False),
    Column("updated", UtcTime, nullable=False),
)

#: A citizen's idea and where moderation has taken it.
ideas = Table(
    "ideas",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("category", Text, nullable=False),
    #: Where the idea is about (optional): a GeoJSON point.
    Column("geometry", Json),
    #: Personal data: seen by moderators only, never published, never logged.
    Column("contact", Text),
    #: received, in_review, project, declined (see participation/workflow.py)
    Column("status", Text, nullable=False),
    #: The department's public answer, and when declined the public reason.
    Column("answer", Text),
    Column("reason", Text),
    #: The portfolio project the idea became.
    Column("project_id", Text, ForeignKey("portfolio_projects.id", ondelete="SET NULL")),
    #: Hash of the normalised title and text, to find the same idea sent twice.
    Column("fingerprint", Text, nullable=False),
    Column("created", UtcTime, nullable=False),
    Column("updated", UtcTime, nullable=False),
    Index("ix_ideas_status", "status", "created"),
    Index("ix_ideas_fingerprint", "fingerprint"),
)

#: A participation procedure: a time window, an area, questions and categories.
procedures = Table(
    "procedures",
    metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("start", UtcTime, nullable=False),
    Column("end", UtcTime, nullable=False),
    #: The area contributions must lie in: a GeoJSON Polygon or MultiPolygon.
    Column("area", Json, nullable=False),
    Column("questions", Json, nullable=False),
    Column("categories", Json, nullable=False),
    #: Whether the procedure's texts and area are made up for a demonstration (shown as such).
    Column("synthetic", Integer, nullable=False, server_default="0"),
    Column("created", UtcTime, nullable=False),
)

#: A contribution pinned to a place (point, line or area) of a procedure.
contributions = Table(
    "contributions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("procedure_id", Text, ForeignKey("procedures.id", ondelete="CASCADE"), nullable=False),
    Column("category", Text, nullable=False),
    Column("question", Integer),
    Column("text", Text, nullable=False),
    Column("geometry", Json, nullable=False),
    Column("min_lon", Double, nullable=False),
    Column("min_lat", Double, nullable=False),
    Column("max_lon", Double, nullable=False),
    Column("max_lat", Double, nullable=False),
    #: Personal data: seen by moderators only, never published, never logged.
    Column("contact", Text),
    #: received, published, declined
    Column("status", Text, nullable=False),
    Column("answer", Text),
    Column("reason", Text),
    Column("fingerprint", Text, nullable=False),
    Column("created", UtcTime, nullable=False),
    Column("updated", UtcTime, nullable=False),
    Index("ix_contributions_procedure", "procedure_id", "status"),
)

#: A comment on a contribution (moderated as contributions are).
contribution_comments = Table(
    "contribution_comments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contribution_id", Id, ForeignKey("contributions.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created", UtcTime, nullable=False),
    #: The public reason of a declined comment (shown in its place, without the comment's text).
    Column("reason", Text),
    Index("ix_contribution_comments_contribution", "contribution_id"),
)

#: A support vote: one per voter and contribution (the voter as a salted hash, never an address).
contribution_supports = Table(
    "contribution_supports",
    metadata,
    Column("contribution_id", Id, ForeignKey("contributions.id", ondelete="CASCADE"), primary_key=True),
    Column("voter", Text, primary_key=True),
    Column("created", UtcTime, nullable=False),
)

#: An offer or event of the Digitalcampus (digital education, the digital festival): the document as
#: given (titles and texts per language, format, audiences, place, organiser, registration link),
#: with its times beside it for filtering and ordering.
campus_events = Table(
    "campus_events",
    metadata,
    Column("id", Text, primary_key=True),
    Column("document", Json, nullable=False),
    #: None: an offer without a date (a course one books any time).
    Column("start", UtcTime),
    Column("end", UtcTime),
    Column("updated", UtcTime, nullable=False),
    Index("ix_campus_events_start", "start"),
)
