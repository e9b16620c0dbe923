"""The catalogue as JSON documents: the listing (datasets, facets with counts, paging links) and one
dataset. The HTML view renders the same documents, so both always show the same facts; the RDF is
built from the same records and distributions (dcat.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from urbantwin.catalog import vocabulary as vocab
from urbantwin.catalog.dcat import Distribution, catalog_url, dataset_url, distributions, organisation_url
from urbantwin.catalog.service import CatalogInfo, CatalogPage, CatalogQuery, DatasetRecord, Organisation
from urbantwin.times import format_instant

#: The representations, by the value of `f`: (media type, title).
REPRESENTATIONS = {
    "ttl": ("text/turtle", "Turtle"),
    "jsonld": ("application/ld+json", "JSON-LD"),
    "rdf": ("application/rdf+xml", "RDF/XML"),
    "html": ("text/html", "HTML"),
    "json": ("application/json", "JSON"),
}


def listing_url(base: str, query: CatalogQuery, fmt: str, **changes: Any) -> str:
    """The URL of the catalogue for `query` (changed by `changes`) in the format `fmt`."""
    params = query.with_changes(**changes).params() if changes else query.params()
    return f"{catalog_url(base)}?{urlencode([*params, ('f', fmt)])}"


def catalog_document(base: str, page: CatalogPage, fmt: str = "json") -> dict[str, Any]:
    """The listing; its links (paging, facets, alternates) stay in the format `fmt`."""
    query = page.query
    links = [_link(listing_url(base, query, fmt), "self", fmt, "this page")]
    links += [
        _link(listing_url(base, query, other), "alternate", other, f"this page as {title}")
        for other, (_, title) in REPRESENTATIONS.items()
        if other != fmt
    ]
    links.append(_link(listing_url(base, query, fmt, offset=0), "first", fmt, "the first page"))
    if page.previous_offset is not None:
        links.append(
            _link(listing_url(base, query, fmt, offset=page.previous_offset), "prev", fmt, "previous page")
        )
    if page.next_offset is not None:
        links.append(_link(listing_url(base, query, fmt, offset=page.next_offset), "next", fmt, "next page"))
    facets = {
        facet: [
            {
                "value": value.value,
                "label": value.label,
                "count": value.count,
                "chosen": value.chosen,
                "href": listing_url(base, query.toggled(facet, value.value), fmt),
            }
            for value in values
        ]
        for facet, values in page.facets.items()
    }
    return {
        **_info(base, page.info),
        "query": {
            "q": query.q,
            **{facet: sorted(values) for facet, values in query.filters},
            "limit": query.limit,
            "offset": query.offset,
        },
        "number_matched": page.matched,
        "number_returned": len(page.datasets),
        "datasets": [dataset_document(base, record, fmt) for record in page.datasets],
        "facets": facets,
        "links": links,
    }


def dataset_document(base: str, record: DatasetRecord, fmt: str = "json") -> dict[str, Any]:
    # A record harvested from a partner is the partner's: its IRI there is its URI here too.
    url = record.origin or dataset_url(base, record.id)
    publisher = record.publisher
    email = record.contact_email or (publisher.email if publisher else None)
    contact = None
    if email or record.contact_name:
        contact = {"name": record.contact_name or (publisher.title if publisher else None), "email": email}
    spatial = None
    geocoding = record.extra.get("political_geocoding_uri")
    if record.bbox is not None or geocoding:
        spatial = {
            "bbox": list(record.bbox) if record.bbox else None,
            "political_geocoding": geocoding,
            "political_geocoding_level": record.extra.get("political_geocoding_level_uri"),
        }
    temporal = None
    if record.start or record.end:
        temporal = {"start": _iso(record.start), "end": _iso(record.end)}
    return {
        "id": record.id,
        "uri": url,
        "title": record.title,
        "description": record.description,
        "publisher": _organisation(base, publisher) if publisher else None,
        "contact_point": contact,
        "themes": [
            {"code": code, "uri": vocab.theme_uri(code), "label": vocab.THEMES.get(code, code)}
            for code in record.themes
        ],
        "keywords": list(record.keywords),
        "licence": {
            "code": record.licence,
            "uri": vocab.licence_uri(record.licence),
            "label": vocab.licence_label(record.licence),
        },
        "access_level": record.access_level,
        "source": record.source,
        "access_rights": vocab.access_right_uri(record.access_level),
        "update_frequency": {
            "code": record.update_frequency,
            "uri": vocab.frequency_uri(record.update_frequency),
        },
        "issued": _iso(record.created),
        "modified": _iso(record.modified),
        "temporal": temporal,
        "spatial": spatial,
        "landing_page": record.extra.get("landing_page") or f"{url}?f=html",
        "formats": list(record.formats),
        "distributions": [_distribution(d, record) for d in distributions(base, record)],
        "links": _dataset_links(base, url, fmt, record),
    }


def _dataset_links(base: str, url: str, fmt: str, record: DatasetRecord) -> list[dict[str, str]]:
    if record.origin is not None:
        # Harvested: the record lives at the partner, in the partner's formats.
        return [
            {"href": record.origin, "rel": "self", "title": "this dataset, at the partner"},
            _link(f"{catalog_url(base)}?f={fmt}", "collection", fmt, "the catalogue"),
        ]
    return [
        _link(f"{url}?f={fmt}", "self", fmt, "this dataset"),
        *(
            _link(f"{url}?f={other}", "alternate", other, f"this dataset as {title}")
            for other, (_, title) in REPRESENTATIONS.items()
            if other != fmt
        ),
        _link(f"{catalog_url(base)}?f={fmt}", "collection", fmt, "the catalogue"),
    ]


def single_document(base: str, info: CatalogInfo, record: DatasetRecord, fmt: str = "json") -> dict[str, Any]:
    """One dataset, with the catalogue it belongs to (for the HTML page's header)."""
    return {**dataset_document(base, record, fmt), "catalog": _info(base, info)}


def _info(base: str, info: CatalogInfo) -> dict[str, Any]:
    return {
        "uri": catalog_url(base),
        "title": info.title,
        "description": info.description,
        "publisher": _organisation(base, info.publisher),
        "issued": _iso(info.issued),
        "modified": _iso(info.modified),
    }


def _organisation(base: str, organisation: Organisation) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "uri": organisation_url(base, organisation.id),
        "title": organisation.title,
        "kind": organisation.kind,
        "kind_label": {
            language: vocab.organisation_kind_label(organisation.kind, language)
            for language in vocab.LABEL_LANGUAGES
        },
        "publisher_type": vocab.publisher_type_uri(organisation.kind),
        "homepage": organisation.homepage,
    }


def _distribution(d: Distribution, record: DatasetRecord) -> dict[str, Any]:
    return {
        "id": d.key,
        "title": d.title,
        "description": d.description,
        "format": d.format,
        "format_label": vocab.FORMATS[d.format][2],
        "file_type": vocab.file_type_uri(d.file_type) if d.file_type else None,
        "media_type": d.media_type,
        "access_url": d.access_url,
        "download_url": d.download_url,
        "licence": record.licence,
        "licence_uri": vocab.licence_uri(record.licence),
        "attribution": d.attribution,
        "conforms_to": d.conforms_to,
        "modified": _iso(d.modified),
    }


def _link(href: str, rel: str, fmt: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": REPRESENTATIONS[fmt][0], "title": title}


def _iso(value: datetime | None) -> str | None:
    return format_instant(value) if value else None
