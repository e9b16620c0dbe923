"""A plain, searchable HTML view of the catalogue, rendered on the server from the JSON documents
(documents.py), so it works without JavaScript and shows exactly what the JSON says. Every text
from the store is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from urbantwin.catalog import vocabulary as vocab
from urbantwin.catalog.documents import REPRESENTATIONS

FACET_TITLES = {
    "theme": "Theme",
    "publisher": "Publisher",
    "licence": "Licence",
    "format": "Format",
    "access_level": "Access",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1d2327;background:#f6f7f7;line-height:1.4}
header,footer{background:#fff;padding:1em 2em;border-bottom:1px solid #dcdcde}
footer{border-top:1px solid #dcdcde;border-bottom:0;font-size:.9em}
h1{margin:.2em 0;font-size:1.6em}h2{font-size:1.15em;margin:.2em 0}
a{color:#135e96}.layout{display:flex;gap:2em;padding:1em 2em;align-items:flex-start}
nav.facets{flex:0 0 16em}nav.facets ul{list-style:none;padding:0;margin:0 0 1em}
nav.facets li{margin:.15em 0}a.chosen{font-weight:bold}a.chosen::before{content:"\\2713 "}
.count{color:#646970;font-size:.9em}main{flex:1;min-width:0}
form.search{display:flex;gap:.5em;margin:.8em 0 0}form.search input[type=search]{flex:1;max-width:40em;
padding:.4em;font-size:1em}form.search button{padding:.4em 1em}
article.dataset{background:#fff;border:1px solid #dcdcde;border-radius:4px;padding:1em;margin:0 0 1em}
.meta{color:#50575e;font-size:.92em;margin:.2em 0}.tag{display:inline-block;background:#f0f0f1;
border-radius:3px;padding:0 .4em;margin:0 .2em .2em 0;font-size:.88em}
.access-open{color:#008a20}.access-restricted{color:#996800}
ul.distributions{margin:.5em 0 0;padding-left:1.2em}
.format{font-size:.85em;color:#50575e}nav.pages{display:flex;gap:1em}dl{display:grid;
grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
"""


def render_catalog(document: dict[str, Any]) -> str:
    """The listing page: a search box, facet links with counts, one card per dataset, paging."""
    query = document["query"]
    hidden = "".join(
        f'<input type="hidden" name="{escape(facet)}" value="{escape(value)}">'
        for facet in FACET_TITLES
        for value in query.get(facet, [])
    )
    action, text = escape(document["uri"]), escape(query["q"])
    form = (
        f'<form class="search" method="get" action="{action}" role="search">'
        f'<input type="search" name="q" value="{text}" placeholder="Search datasets" '
        f'aria-label="Search datasets">{hidden}<input type="hidden" name="f" value="html">'
        '<button type="submit">Search</button></form>'
    )
    facets = "".join(_facet(name, values) for name, values in document["facets"].items() if values)
    matched, returned = document["number_matched"], document["number_returned"]
    if returned:
        first = query["offset"] + 1
        summary = f"{matched} dataset{'s' if matched != 1 else ''}, showing {first}–{first + returned - 1}"
    else:
        summary = (
            "No dataset matches." if matched == 0 else f"{matched} datasets; this page is past the last."
        )
    cards = "".join(_card(dataset) for dataset in document["datasets"])
    body = (
        f"<header><h1>{escape(document['title'])}</h1><p>{escape(document['description'])}</p>"
        f"<p class='meta'>Published by {escape(document['publisher']['title'])}. "
        f"{_alternates(document['links'])}</p>{form}</header>"
        f"<div class='layout'><nav class='facets' aria-label='Filters'>{facets}</nav>"
        f"<main><p class='meta'>{escape(summary)}</p>{cards}{_pages(document['links'])}</main></div>"
    )
    return _page(document["title"], body)


def render_dataset(document: dict[str, Any]) -> str:
    """One dataset's page: everything the catalogue knows about it, and its distributions."""
    catalog = document["catalog"]
    back = next((link["href"] for link in document["links"] if link["rel"] == "collection"), catalog["uri"])
    facts: list[tuple[str, str]] = [
        ("Identifier", escape(document["uri"])),
        ("Publisher", _publisher(document["publisher"])),
        ("Contact", _contact(document["contact_point"])),
        ("Licence", _licence(document["licence"])),
        ("Access", _access(document["access_level"])),
        ("Themes", _tags(theme["label"] for theme in document["themes"])),
        ("Keywords", _tags(document["keywords"])),
        ("Update frequency", escape(vocab.FREQUENCIES.get(document["update_frequency"]["code"], ""))),
        ("Time covered", _period(document["temporal"])),
        ("Area covered", _area(document["spatial"])),
        ("Issued", escape(document["issued"] or "")),
        ("Modified", escape(document["modified"] or "")),
    ]
    rows = "".join(f"<dt>{escape(name)}</dt><dd>{value}</dd>" for name, value in facts if value)
    body = (
        f"<header><p class='meta'><a href='{escape(back)}'>{escape(catalog['title'])}</a></p>"
        f"<h1>{escape(document['title'])}</h1><p class='meta'>{_alternates(document['links'])}</p></header>"
        f"<div class='layout'><main><article class='dataset'><p>{escape(document['description'])}</p>"
        f"<dl>{rows}</dl><h2>Distributions</h2>{_distributions(document['distributions'], True)}"
        "</article></main></div>"
    )
    return _page(document["title"], body)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}"
        "<footer>DCAT-AP.de catalogue of the urban data platform</footer></body></html>"
    )


_CHOSEN = " class='chosen' aria-current='true'"


def _facet(name: str, values: list[dict[str, Any]]) -> str:
    items = "".join(
        f"<li><a href='{escape(v['href'])}'{_CHOSEN if v['chosen'] else ''}>{escape(v['label'])}</a>"
        f" <span class='count'>{int(v['count'])}</span></li>"
        for v in values
    )
    return f"<h2>{escape(FACET_TITLES.get(name, name))}</h2><ul>{items}</ul>"


def _card(dataset: dict[str, Any]) -> str:
    link = next(link["href"] for link in dataset["links"] if link["rel"] == "self")
    meta = " · ".join(
        part
        for part in (
            _publisher(dataset["publisher"]),
            _access(dataset["access_level"]),
            f"Licence: {_licence(dataset['licence'])}",
            _period(dataset["temporal"]),
        )
        if part
    )
    tags = _tags([theme["label"] for theme in dataset["themes"]] + dataset["keywords"])
    return (
        f"<article class='dataset'><h2><a href='{escape(link)}'>{escape(dataset['title'])}</a></h2>"
        f"<p class='meta'>{meta}</p><p>{escape(dataset['description'])}</p>"
        f"{f'<p>{tags}</p>' if tags else ''}{_distributions(dataset['distributions'], False)}</article>"
    )


def _distributions(distributions: list[dict[str, Any]], detailed: bool) -> str:
    if not distributions:
        return "<p class='meta'>No distribution: the dataset has no data on the platform yet.</p>"
    items = []
    for d in distributions:
        download = (
            f" · <a href='{escape(d['download_url'])}'>download</a>"
            if d["download_url"] and d["download_url"] != d["access_url"]
            else ""
        )
        extra = ""
        if detailed:
            if d["description"]:
                extra += f"<br>{escape(d['description'])}"
            if d["attribution"]:
                extra += f"<br><span class='meta'>Attribution: {escape(d['attribution'])}</span>"
            if d["conforms_to"]:
                standard = vocab.STANDARD_LABELS.get(d["conforms_to"], d["conforms_to"])
                extra += f"<br><span class='meta'>Conforms to {escape(standard)}</span>"
        items.append(
            f"<li><a href='{escape(d['access_url'])}'>{escape(d['title'])}</a> "
            f"<span class='format'>{escape(d['format_label'])} ({escape(d['media_type'])})</span>"
            f"{download}{extra}</li>"
        )
    return f"<ul class='distributions'>{''.join(items)}</ul>"


def _publisher(publisher: dict[str, Any] | None) -> str:
    if not publisher:
        return ""
    title = escape(publisher["title"])
    return f"<a href='{escape(publisher['homepage'])}'>{title}</a>" if publisher.get("homepage") else title


def _contact(contact: dict[str, Any] | None) -> str:
    if not contact:
        return ""
    name = escape(contact["name"] or "")
    if contact.get("email"):
        return f"{name} <a href='mailto:{escape(contact['email'])}'>{escape(contact['email'])}</a>"
    return name


def _licence(licence: dict[str, Any]) -> str:
    return f"<a href='{escape(licence['uri'])}'>{escape(licence['label'])}</a>"


def _access(level: str) -> str:
    label = vocab.ACCESS_LEVEL_LABELS.get(level, level)
    css = "access-open" if level == "open" else "access-restricted"
    return f"<span class='{css}'>{escape(label)}</span>"


def _tags(values: Any) -> str:
    return "".join(f"<span class='tag'>{escape(str(value))}</span>" for value in values)


def _period(temporal: dict[str, Any] | None) -> str:
    if not temporal:
        return ""
    start = (temporal["start"] or "")[:10]
    end = (temporal["end"] or "")[:10]
    return escape(f"{start or '…'} – {end or 'ongoing'}")


def _area(spatial: dict[str, Any] | None) -> str:
    if not spatial:
        return ""
    parts = []
    if spatial.get("bbox"):
        minx, miny, maxx, maxy = spatial["bbox"]
        parts.append(escape(f"longitude {minx:g} to {maxx:g}, latitude {miny:g} to {maxy:g}"))
    geocoding = spatial.get("political_geocoding")
    for uri in geocoding if isinstance(geocoding, list) else [geocoding] if geocoding else []:
        parts.append(f"<a href='{escape(str(uri))}'>{escape(str(uri).rsplit('/', 1)[-1])}</a>")
    return "; ".join(parts)


def _alternates(links: list[dict[str, str]]) -> str:
    alternates = [link for link in links if link["rel"] == "alternate"]
    names = {media: title for media, title in REPRESENTATIONS.values()}
    return "Also as " + ", ".join(
        f"<a href='{escape(link['href'])}' type='{escape(link['type'])}'>"
        f"{escape(names.get(link['type'], link['type']))}</a>"
        for link in alternates
    )


def _pages(links: list[dict[str, str]]) -> str:
    found = {link["rel"]: link["href"] for link in links}
    parts = [
        f"<a href='{escape(found[rel])}' rel='{rel}'>{label}</a>"
        for rel, label in (("prev", "← previous"), ("next", "next →"))
        if rel in found
    ]
    return f"<nav class='pages' aria-label='Pages'>{''.join(parts)}</nav>" if parts else ""
