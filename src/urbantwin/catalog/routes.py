"""The HTTP binding of the catalogue at `/catalog`: content negotiation, the principal's scope, and
nothing else (the service decides what is listed, dcat/documents/html how it looks)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbantwin.access.http import request_caller
from urbantwin.catalog.dcat import JSONLD_CONTEXT, catalog_graph, dataset_graph
from urbantwin.catalog.documents import REPRESENTATIONS, catalog_document, listing_url, single_document
from urbantwin.catalog.html import LANGUAGES, render_catalog, render_dataset
from urbantwin.catalog.service import MAX_LIMIT, CatalogQuery, CatalogService
from urbantwin.errors import BadRequest, NotAcceptable
from urbantwin.http import public_base

#: Media types a client may ask for in `Accept`, and the representation (`f`) each names.
ACCEPTED = {
    "text/turtle": "ttl",
    "application/ld+json": "jsonld",
    "application/rdf+xml": "rdf",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/json": "json",
}
#: The order representations are preferred in when the client likes several equally: Turtle first,
#: the catalogue's native form (`*/*` gets it, as harvesters expect RDF).
PREFERENCE = ("ttl", "jsonld", "rdf", "html", "json")
#: rdflib's serialiser of each RDF representation.
SERIALISERS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "pretty-xml"}
CHARSET = {"ttl", "html"}

F_DESCRIPTION = (
    "The representation: ttl (Turtle), jsonld (JSON-LD), rdf (RDF/XML), html or json. It wins over "
    "the Accept header, which negotiates among text/turtle, application/ld+json, application/rdf+xml, "
    "text/html and application/json (Turtle for */*)."
)
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The catalogue in the negotiated representation",
        "content": {
            "text/turtle": {},
            "application/ld+json": {},
            "application/rdf+xml": {},
            "text/html": {},
            "application/json": {},
        },
    },
    400: {"description": "An unknown `f`, parameter or facet value, or a bad `limit`/`offset`"},
    401: {"description": "The Authorization header carries a token that is not valid"},
    406: {"description": "None of the representations is acceptable to the client (Accept)"},
}


def choose_representation(f: str | None, accept: str | None) -> str:
    """The representation for `?f=` (which wins) or else the `Accept` header (q-values honoured;
    among equals the more specific range, then `PREFERENCE`). No header means any."""
    if f is not None:
        if f not in REPRESENTATIONS:
            raise BadRequest(f"f: unknown representation {f!r}; use one of {', '.join(REPRESENTATIONS)}")
        return f
    ranges = _accept_ranges(accept or "*/*")
    best: tuple[float, int, int] | None = None
    chosen = None
    for media_type, representation in ACCEPTED.items():
        weight = _weight(media_type, ranges)
        if weight is None or weight[0] <= 0:
            continue
        key = (weight[0], weight[1], -PREFERENCE.index(representation))
        if best is None or key > best:
            best, chosen = key, representation
    if chosen is None:
        raise NotAcceptable(
            f"none of the catalogue's representations is acceptable ({accept}); it offers "
            f"{', '.join(REPRESENTATIONS[r][0] for r in PREFERENCE)}"
        )
    return chosen


def choose_language(accept_language: str | None) -> str:
    """The language of the HTML view (`html.LANGUAGES`) the `Accept-Language` header likes best
    (q-values honoured, a region ignored: de-AT is German; among equals the first named); the
    first of `LANGUAGES` without a header or a match."""
    best, chosen = 0.0, LANGUAGES[0]
    for part in (accept_language or "").split(","):
        tag, *params = (piece.strip() for piece in part.split(";"))
        primary = tag.lower().split("-", 1)[0]
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        if primary in LANGUAGES and q > best:
            best, chosen = q, primary
    return chosen


def _accept_ranges(accept: str) -> list[tuple[str, str, float]]:
    ranges = []
    for part in accept.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        media = pieces[0].lower()
        if "/" not in media:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        main, _, sub = media.partition("/")
        ranges.append((main, sub, q))
    return ranges


def _weight(media_type: str, ranges: list[tuple[str, str, float]]) -> tuple[float, int] | None:
    """The q of the most specific range matching `media_type`, and that specificity (2 exact, 1
    `type/*`, 0 `*/*`); None when no range matches."""
    main, _, sub = media_type.partition("/")
    found: tuple[float, int] | None = None
    for range_main, range_sub, q in ranges:
        if (range_main, range_sub) == (main, sub):
            specificity = 2
        elif range_main == main and range_sub == "*":
            specificity = 1
        elif (range_main, range_sub) == ("*", "*"):
            specificity = 0
        else:
            continue
        if found is None or specificity > found[1]:
            found = (q, specificity)
    return found


def serialise_graph(graph: Any, representation: str) -> bytes:
    if representation == "jsonld":
        return graph.serialize(format="json-ld", context=JSONLD_CONTEXT, indent=2, encoding="utf-8")
    return graph.serialize(format=SERIALISERS[representation], encoding="utf-8")


def request_catalog(request: Request) -> CatalogService:
    """The catalogue service of the app that serves the request (`app.state.catalog`)."""
    return request.app.state.catalog


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app (FastAPI analyses each route's
    signature as it is added, which made much of the start of an app): they find the app's service
    through the request."""
    router = APIRouter(prefix="/catalog", tags=["Catalogue (DCAT-AP.de)"])

    def respond(body: bytes | str, representation: str) -> Response:
        media_type = REPRESENTATIONS[representation][0]
        if representation in CHARSET:
            media_type += "; charset=utf-8"
        return Response(body, media_type=media_type, headers={"Vary": "Accept, Accept-Language"})

    def listing(request: Request, representation: str, base: str) -> bytes | str:
        query = CatalogQuery.parse(list(request.query_params.multi_items()))
        page = request_catalog(request).search(request_caller(request), query)
        if representation in SERIALISERS:
            graph = catalog_graph(
                base, page, lambda offset: listing_url(base, query, representation, offset=offset)
            )
            return serialise_graph(graph, representation)
        document = catalog_document(base, page, representation)
        if representation == "html":
            return render_catalog(document, choose_language(request.headers.get("accept-language")))
        return orjson.dumps(document)

    def one(request: Request, dataset_id: str, representation: str, base: str) -> bytes | str:
        info, record = request_catalog(request).dataset(request_caller(request), dataset_id)
        if representation in SERIALISERS:
            return serialise_graph(dataset_graph(base, info, record), representation)
        document = single_document(base, info, record, representation)
        if representation == "html":
            return render_dataset(document, choose_language(request.headers.get("accept-language")))
        return orjson.dumps(document)

    @router.get("/", include_in_schema=False)
    @router.get(
        "",
        summary="The DCAT-AP.de catalogue: search, facets, paging",
        description=(
            "The datasets the caller may read, as a DCAT-AP.de 3.0 catalogue (Turtle, JSON-LD, RDF/XML), "
            "a JSON listing with facet counts and paging links, or a searchable HTML page (in English "
            "or German, by Accept-Language). Facet values "
            "of one facet are OR-ed, facets AND-ed; each facet's counts apply every other filter. "
            "The RDF pages with hydra:PagedCollection (nextPage), as CKAN's DCAT harvester follows."
        ),
        response_class=Response,
        responses=RESPONSES,
    )
    async def catalog(
        request: Request,
        q: Annotated[
            str | None, Query(description="words that must all occur in title, description or keywords")
        ] = None,
        theme: Annotated[list[str] | None, Query(description="EU data theme code, e.g. ENVI")] = None,
        publisher: Annotated[list[str] | None, Query(description="publishing organisation's id")] = None,
        licence: Annotated[
            list[str] | None, Query(description="DCAT-AP.de licence code, e.g. dl-by-de/2.0")
        ] = None,
        format: Annotated[  # noqa: A002 - the facet's name
            list[str] | None, Query(description="distribution format: GEOJSON, HTML, MVT or JSON")
        ] = None,
        access_level: Annotated[
            list[str] | None, Query(description="open, registered, partner or internal")
        ] = None,
        limit: Annotated[str | None, Query(description=f"page size, 1..{MAX_LIMIT} (default 50)")] = None,
        offset: Annotated[str | None, Query(description="datasets to skip")] = None,
        f: Annotated[str | None, Query(description=F_DESCRIPTION)] = None,
    ) -> Response:
        representation = choose_representation(f, request.headers.get("accept"))
        base = public_base(request, request_catalog(request).settings)
        body = await run_in_threadpool(listing, request, representation, base)
        return respond(body, representation)

    @router.get(
        "/datasets/{dataset_id}",
        summary="One dataset of the catalogue (DCAT-AP.de)",
        description=(
            "The dataset with its distributions (feature collections as GeoJSON, HTML and vector tiles; "
            "SensorThings Datastreams), publisher, contact point, licence and coverage. A dataset the "
            "caller may not read is 404, as one that does not exist."
        ),
        response_class=Response,
        responses={**RESPONSES, 404: {"description": "No such dataset, or not one the caller may read"}},
    )
    async def dataset(
        request: Request, dataset_id: str, f: Annotated[str | None, Query(description=F_DESCRIPTION)] = None
    ) -> Response:
        representation = choose_representation(f, request.headers.get("accept"))
        base = public_base(request, request_catalog(request).settings)
        body = await run_in_threadpool(one, request, dataset_id, representation, base)
        return respond(body, representation)

    return router
