"""The portfolio service: the projects, one project, the funding overview, and their import.
Knows no HTTP: it takes the caller, asks the access point, and raises the typed errors of
`urbantwin.errors`.

The portfolio is one catalogue dataset (`DATASET`), created open on the first import: who may read
it and who may change it are that dataset's rules, as for any other data. A project's linked
datasets are shown only where the caller may read them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from urbantwin.access.datasets import create_dataset_unless_exists
from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest, NotFound
from urbantwin.portfolio.projects import FIGURES, STATUSES, check_project
from urbantwin.store.engine import for_writes
from urbantwin.store.participation_schema import portfolio_projects

API = "portfolio"
#: The catalogue dataset the portfolio is.
DATASET = "portfolio"
#: Projects in one import at most.
MAX_PROJECTS = 1000


def ensure_dataset(connection: Connection) -> None:
    """The portfolio's catalogue record, created open unless it exists."""
    create_dataset_unless_exists(
        connection,
        DATASET,
        title="Project portfolio",
        description="The city's digital projects: programme and funder, partners with their roles, "
        "budget and funding, area, status and contact mailbox (API: /api/portfolio/projects, "
        "/api/portfolio/funding).",
        access_level="open",
        themes=["GOVE"],
        keywords=["portfolio", "projects", "funding"],
        licence="dl-by-de/2.0",
    )


class PortfolioService:
    def __init__(self, engine: Engine, access: Access) -> None:
        self.engine = engine
        self.access = access

    def projects(self, caller: Caller, status: str | None = None) -> list[dict[str, Any]]:
        """The projects, by id; only those of `status` when given."""
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status {status!r} is not known; known: {', '.join(STATUSES)}")
        with self.engine.connect() as connection:
            scope = self.access.require_readable(caller, DATASET, "project portfolio", API, connection)
            query = select(portfolio_projects.c.document).order_by(portfolio_projects.c.id)
            if status is not None:
                query = query.where(portfolio_projects.c.status == status)
            documents = list(connection.execute(query).scalars())
        return [_visible(document, scope.allows) for document in documents]

    def project(self, caller: Caller, ident: str) -> dict[str, Any]:
        with self.engine.connect() as connection:
            scope = self.access.require_readable(caller, DATASET, "project portfolio", API, connection)
            document = connection.execute(
                select(portfolio_projects.c.document).where(portfolio_projects.c.id == ident)
            ).scalar()
        if document is None:
            raise NotFound(f"no project {ident[:100]!r}")
        return _visible(document, scope.allows)

    def funding(self, caller: Caller) -> dict[str, Any]:
        """The funding overview: per funder and programme, the projects and the sums of the figures
        their sources give, with how many projects give each figure (no figure is taken as zero)."""
        projects = self.projects(caller)
        groups: dict[tuple[str | None, str | None], list[dict[str, Any]]] = defaultdict(list)
        for project in projects:
            groups[(project["funder"], project["programme"])].append(project)
        return {
            "currency": "EUR",
            "programmes": [
                {"funder": funder, "programme": programme, **_sums(members)}
                for (funder, programme), members in sorted(groups.items(), key=lambda item: str(item[0]))
            ],
            "all": _sums(projects),
        }

    def replace(self, caller: Caller, documents: Any) -> int:
        """Store the projects of `documents` (a list), replacing the portfolio; the count stored."""
        self.access.require_writer(caller, "changing the portfolio")
        if not isinstance(documents, list) or not documents or len(documents) > MAX_PROJECTS:
            raise BadRequest(f"the projects must be an array of 1 to {MAX_PROJECTS} project objects")
        projects = [check_project(document) for document in documents]
        idents = [project["id"] for project in projects]
        twice = sorted({ident for ident in idents if idents.count(ident) > 1})
        if twice:
            raise BadRequest(f"project {twice[0]!r} is given twice")
        now = datetime.now(UTC)
        with for_writes(self.engine).begin() as connection:
            ensure_dataset(connection)
            self.access.authorize_write(caller, connection, DATASET)
            connection.execute(delete(portfolio_projects))
            connection.execute(
                portfolio_projects.insert(),
                [{"id": p["id"], "document": p, "status": p["status"], "updated": now} for p in projects],
            )
            self.access.audit.write(
                connection,
                caller.principal,
                "replace",
                API,
                dataset_id=DATASET,
                target=caller.target or f"{len(projects)} projects",
            )
        return len(projects)

    def put(self, caller: Caller, ident: str, document: Any) -> dict[str, Any]:
        """Create or replace one project."""
        self.access.require_writer(caller, "changing the portfolio")
        project = check_project(document)
        if project["id"] != ident:
            raise BadRequest(f"the body's id {project['id']!r} is not the project's id {ident[:100]!r}")
        now = datetime.now(UTC)
        with for_writes(self.engine).begin() as connection:
            ensure_dataset(connection)
            self.access.authorize_write(caller, connection, DATASET)
            connection.execute(delete(portfolio_projects).where(portfolio_projects.c.id == ident))
            connection.execute(
                portfolio_projects.insert().values(
                    id=ident, document=project, status=project["status"], updated=now
                )
            )
            self.access.audit.write(
                connection, caller.principal, "update", API, dataset_id=DATASET, target=f"project {ident}"
            )
        return project


def _visible(document: dict[str, Any], readable: Any) -> dict[str, Any]:
    """The project as the caller sees it: linked datasets they may not read left out."""
    return {**document, "datasets": [ident for ident in document.get("datasets", []) if readable(ident)]}


def _sums(projects: list[dict[str, Any]]) -> dict[str, Any]:
    sums: dict[str, Any] = {"projects": [project["id"] for project in projects]}
    for figure in FIGURES:
        given = [p for p in projects if p["funding"].get(figure) is not None]
        sums[figure] = {
            "sum": sum(p["funding"][figure] for p in given) if given else None,
            "projects_with_figure": len(given),
            "approximate": any(figure in p["funding"].get("approximate", []) for p in given),
        }
    return sums
