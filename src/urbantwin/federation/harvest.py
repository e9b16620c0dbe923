"""Harvest a partner's DCAT catalogue (DCAT-AP.de) into records that point back to it.

The catalogue is read with rdflib in the form the partner offers (content negotiation: Turtle,
RDF/XML, JSON-LD, in that order of preference), page after page as long as it names a next page
(`hydra:nextPage` of a `hydra:PagedCollection`, or Hydra's newer `hydra:next` of a
`hydra:PartialCollectionView`: CKAN and urbantwin page so). Every `dcat:Dataset` becomes one
record of `harvested_records`, keyed by (partner, IRI): its title and description (German first,
then English, then any), keywords, themes, landing page, licence, publisher and the access URLs of
its distributions. A record whose `dct:modified` is what was harvested last time is left as it is;
a dataset the partner no longer lists is removed — so a harvest run again changes only what
changed. The records are searched with the local datasets at `/catalog?q=…` (`source` facet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF
from sqlalchemy import Engine, delete, select, update

from urbantwin.federation.registry import Remote
from urbantwin.federation.remote_http import RemoteFailure, RemoteHttp
from urbantwin.store.engine import for_writes
from urbantwin.store.federation_schema import harvested_records
from urbantwin.texts import LANGUAGES

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
#: What is asked for, and how rdflib reads each answer.
ACCEPT = "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.8"
_FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
}
#: Pages read at most in one harvest (a partner whose next pages never end is cut off).
MAX_PAGES = 1000


@dataclass
class HarvestReport:
    pages: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.pages} page(s): {self.added} records added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.removed} removed"
        )
        return text + "".join(f"\n  error: {e}" for e in self.errors)


def _text(graph: Graph, node: Any, predicate: URIRef) -> str:
    """The value of `predicate` in German, else English, else any language."""
    values = [v for v in graph.objects(node, predicate) if isinstance(v, Literal)]
    for language in LANGUAGES:  # the platform's, in its order
        for value in values:
            if value.language == language:
                return str(value)
    return str(values[0]) if values else ""


def _iris(graph: Graph, node: Any, predicate: URIRef) -> list[str]:
    return sorted(str(v) for v in graph.objects(node, predicate) if isinstance(v, URIRef))


def record_of(graph: Graph, dataset: URIRef) -> dict[str, Any]:
    """The columns of a harvested record for `dataset` in `graph`."""
    publisher = next(iter(graph.objects(dataset, DCTERMS.publisher)), None)
    licences = _iris(graph, dataset, DCTERMS.license)
    access: list[str] = []
    for distribution in graph.objects(dataset, DCAT.distribution):
        access += _iris(graph, distribution, DCAT.accessURL) + _iris(graph, distribution, DCAT.downloadURL)
        licences += _iris(graph, distribution, DCTERMS.license)
    modified = next(iter(graph.objects(dataset, DCTERMS.modified)), None)
    title = _text(graph, dataset, DCTERMS.title) or str(dataset)
    details = {
        "keywords": sorted({str(k) for k in graph.objects(dataset, DCAT.keyword)}),
        "themes": _iris(graph, dataset, DCAT.theme),
        "landing_page": next(iter(_iris(graph, dataset, DCAT.landingPage)), None),
        "licence": licences[0] if licences else None,
        "publisher": _text(graph, publisher, FOAF.name) if publisher is not None else None,
        "access_urls": sorted(set(access))[:50],
    }
    return {
        "title": title[:1000],
        "description": _text(graph, dataset, DCTERMS.description)[:20000],
        "details": details,
        "modified": str(modified) if modified is not None else None,
    }


def _next_page(graph: Graph) -> str | None:
    for predicate in (HYDRA.nextPage, HYDRA.next):
        for value in graph.objects(None, predicate):
            return str(value)
    return None


def _parse(http: RemoteHttp, url: str) -> Graph:
    answer = http.get(url, headers={"Accept": ACCEPT})
    if answer.status >= 400:
        raise RemoteFailure(f"{url}: HTTP {answer.status}")
    media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    form = _FORMATS.get(media)
    if form is None:
        raise RemoteFailure(f"{url}: not a DCAT catalogue in RDF (answered {media or 'no content type'})")
    graph = Graph()
    try:
        graph.parse(data=answer.content, format=form, publicID=url)
    except Exception as exc:  # rdflib raises many kinds for a malformed document
        raise RemoteFailure(f"{url}: malformed {form}: {str(exc)[:200]}") from None
    if (None, RDF.type, DCAT.Catalog) not in graph and (None, RDF.type, DCAT.Dataset) not in graph:
        raise RemoteFailure(f"{url}: not a DCAT catalogue (no dcat:Catalog, no dcat:Dataset)")
    return graph


def harvest(engine: Engine, remote: Remote) -> HarvestReport:
    """Bring the partner's records up to date; a failure of the partner ends up in the report and
    leaves the records of the last good harvest as they were."""
    report = HarvestReport()
    found: dict[str, dict[str, Any]] = {}
    with RemoteHttp(remote.url, remote.requests_per_second) as http:
        url: str | None = remote.url
        seen: set[str] = set()
        try:
            while url is not None:
                if url in seen:
                    raise RemoteFailure(f"{url}: the next page leads back to a page already read")
                if len(seen) >= MAX_PAGES:
                    raise RemoteFailure(f"{remote.url}: more than {MAX_PAGES} pages")
                seen.add(url)
                graph = _parse(http, url)
                report.pages += 1
                for dataset in graph.subjects(RDF.type, DCAT.Dataset):
                    if isinstance(dataset, URIRef):
                        found[str(dataset)] = record_of(graph, dataset)
                following = _next_page(graph)
                url = http.check_link(following) if following else None
        except RemoteFailure as failure:
            report.errors.append(failure.message)
            return report
    _store(engine, remote.name, found, report)
    return report


def _store(engine: Engine, name: str, found: dict[str, dict[str, Any]], report: HarvestReport) -> None:
    now = datetime.now(UTC)
    table = harvested_records
    with for_writes(engine).begin() as connection:
        known = {
            row.iri: (row.id, row.modified)
            for row in connection.execute(
                select(table.c.id, table.c.iri, table.c.modified).where(table.c.remote == name)
            )
        }
        for iri, values in found.items():
            if iri not in known:
                connection.execute(table.insert().values(remote=name, iri=iri, harvested=now, **values))
                report.added += 1
            elif values["modified"] is not None and values["modified"] == known[iri][1]:
                report.unchanged += 1
            else:
                connection.execute(
                    update(table).where(table.c.id == known[iri][0]).values(harvested=now, **values)
                )
                report.updated += 1
        gone = [ident for iri, (ident, _) in known.items() if iri not in found]
        if gone:
            connection.execute(delete(table).where(table.c.id.in_(gone)))
            report.removed = len(gone)
