"""A plain, searchable HTML view of the catalogue, rendered on the server from the JSON documents
(documents.py), so it works without JavaScript and shows exactly what the JSON says. Every text
from the store is escaped.

The view speaks English or German (`LANGUAGES`, chosen by the route from `Accept-Language`): its
own words, and the labels of the vocabularies it shows (themes, access levels, frequencies,
organisation kinds). What the store holds (titles, descriptions) is shown as it was written.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from urbantwin.catalog import vocabulary as vocab
from urbantwin.catalog.documents import REPRESENTATIONS

#: The languages of the view; the first is the default.
LANGUAGES = ("en", "de")

FACET_TITLES = {
    "theme": "Theme",
    "publisher": "Publisher",
    "licence": "Licence",
    "format": "Format",
    "access_level": "Access",
    "source": "City",
}

#: The view's own words, by language. `{n}` and the like are filled in; `_one`/`_many` are the
#: singular and plural of a count.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        **{f"facet_{key}": title for key, title in FACET_TITLES.items()},
        "search_placeholder": "Search datasets",
        "search": "Search",
        "filters": "Filters",
        "pages": "Pages",
        "datasets_one": "{n} dataset",
        "datasets_many": "{n} datasets",
        "showing": "{count}, showing {first}–{last}",
        "no_match": "No dataset matches.",
        "past_last": "{count}; this page is past the last.",
        "published_by": "Published by {publisher}.",
        "also_as": "Also as",
        "identifier": "Identifier",
        "publisher": "Publisher",
        "contact": "Contact",
        "licence": "Licence",
        "access": "Access",
        "themes": "Themes",
        "keywords": "Keywords",
        "frequency": "Update frequency",
        "time": "Time covered",
        "area": "Area covered",
        "issued": "Issued",
        "modified": "Modified",
        "distributions": "Distributions",
        "no_distribution": "No distribution: the dataset has no data on the platform yet.",
        "download": "download",
        "attribution": "Attribution: {text}",
        "conforms_to": "Conforms to {standard}",
        "ongoing": "ongoing",
        "bbox": "longitude {west} to {east}, latitude {south} to {north}",
        "previous": "← previous",
        "next": "next →",
        "footer": "DCAT-AP.de catalogue of the urban data platform",
    },
    "de": {
        "facet_theme": "Thema",
        "facet_publisher": "Herausgeber",
        "facet_licence": "Lizenz",
        "facet_format": "Format",
        "facet_access_level": "Zugang",
        "facet_source": "Stadt",
        "search_placeholder": "Datensätze durchsuchen",
        "search": "Suchen",
        "filters": "Filter",
        "pages": "Seiten",
        "datasets_one": "{n} Datensatz",
        "datasets_many": "{n} Datensätze",
        "showing": "{count}, angezeigt {first}–{last}",
        "no_match": "Kein Datensatz passt.",
        "past_last": "{count}; diese Seite liegt hinter der letzten.",
        "published_by": "Herausgegeben von {publisher}.",
        "also_as": "Auch als",
        "identifier": "Kennung",
        "publisher": "Herausgeber",
        "contact": "Kontakt",
        "licence": "Lizenz",
        "access": "Zugang",
        "themes": "Themen",
        "keywords": "Schlagwörter",
        "frequency": "Aktualisierung",
        "time": "Zeitraum",
        "area": "Gebiet",
        "issued": "Veröffentlicht",
        "modified": "Geändert",
        "distributions": "Distributionen",
        "no_distribution": "Keine Distribution: Der Datensatz hat noch keine Daten auf der Plattform.",
        "download": "Download",
        "attribution": "Namensnennung: {text}",
        "conforms_to": "Entspricht {standard}",
        "ongoing": "laufend",
        "bbox": "Länge {west} bis {east}, Breite {south} bis {north}",
        "previous": "← zurück",
        "next": "weiter →",
        "footer": "DCAT-AP.de-Katalog der urbanen Datenplattform",
    },
}


def _t(language: str, key: str, **values: Any) -> str:
    return TEXTS.get(language, TEXTS[LANGUAGES[0]])[key].format(**values)


def _count(language: str, n: int) -> str:
    return _t(language, "datasets_one" if n == 1 else "datasets_many", n=n)


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


def render_catalog(document: dict[str, Any], language: str = "en") -> str:
    """The listing page: a search box, facet links with counts, one card per dataset, paging."""
    t = _texts(language)
    query = document["query"]
    hidden = "".join(
        f'<input type="hidden" name="{escape(facet)}" value="{escape(value)}">'
        for facet in FACET_TITLES
        for value in query.get(facet, [])
    )
    action, text = escape(document["uri"]), escape(query["q"])
    placeholder = escape(t("search_placeholder"))
    form = (
        f'<form class="search" method="get" action="{action}" role="search">'
        f'<input type="search" name="q" value="{text}" placeholder="{placeholder}" '
        f'aria-label="{placeholder}">{hidden}<input type="hidden" name="f" value="html">'
        f'<button type="submit">{escape(t("search"))}</button></form>'
    )
    facets = "".join(_facet(name, values, language) for name, values in document["facets"].items() if values)
    matched, returned = document["number_matched"], document["number_returned"]
    if returned:
        first = query["offset"] + 1
        summary = t("showing", count=_count(language, matched), first=first, last=first + returned - 1)
    else:
        summary = t("no_match") if matched == 0 else t("past_last", count=_count(language, matched))
    cards = "".join(_card(dataset, language) for dataset in document["datasets"])
    published = escape(t("published_by", publisher=document["publisher"]["title"]))
    body = (
        f"<header><h1>{escape(document['title'])}</h1><p>{escape(document['description'])}</p>"
        f"<p class='meta'>{published} "
        f"{_alternates(document['links'], language)}</p>{form}</header>"
        f"<div class='layout'><nav class='facets' aria-label='{escape(t('filters'))}'>{facets}</nav>"
        f"<main><p class='meta'>{escape(summary)}</p>{cards}{_pages(document['links'], language)}"
        "</main></div>"
    )
    return _page(document["title"], body, language)


def render_dataset(document: dict[str, Any], language: str = "en") -> str:
    """One dataset's page: everything the catalogue knows about it, and its distributions."""
    t = _texts(language)
    catalog = document["catalog"]
    back = next((link["href"] for link in document["links"] if link["rel"] == "collection"), catalog["uri"])
    facts: list[tuple[str, str]] = [
        ("identifier", escape(document["uri"])),
        ("publisher", _publisher(document["publisher"], language, with_kind=True)),
        ("contact", _contact(document["contact_point"])),
        ("licence", _licence(document["licence"])),
        ("access", _access(document["access_level"], language)),
        ("themes", _tags(vocab.theme_label(theme["code"], language) for theme in document["themes"])),
        ("keywords", _tags(document["keywords"])),
        ("frequency", escape(vocab.frequency_label(document["update_frequency"]["code"], language))),
        ("time", _period(document["temporal"], language)),
        ("area", _area(document["spatial"], language)),
        ("issued", escape(document["issued"] or "")),
        ("modified", escape(document["modified"] or "")),
    ]
    rows = "".join(f"<dt>{escape(t(name))}</dt><dd>{value}</dd>" for name, value in facts if value)
    body = (
        f"<header><p class='meta'><a href='{escape(back)}'>{escape(catalog['title'])}</a></p>"
        f"<h1>{escape(document['title'])}</h1>"
        f"<p class='meta'>{_alternates(document['links'], language)}</p></header>"
        f"<div class='layout'><main><article class='dataset'><p>{escape(document['description'])}</p>"
        f"<dl>{rows}</dl><h2>{escape(t('distributions'))}</h2>"
        f"{_distributions(document['distributions'], True, language)}</article></main></div>"
    )
    return _page(document["title"], body, language)


def _texts(language: str) -> Callable[..., str]:
    """`_t` for one language."""
    return lambda key, **values: _t(language, key, **values)


def _page(title: str, body: str, language: str) -> str:
    return (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}"
        f"<footer>{escape(_t(language, 'footer'))}</footer></body></html>"
    )


_CHOSEN = " class='chosen' aria-current='true'"


def _facet(name: str, values: list[dict[str, Any]], language: str) -> str:
    items = "".join(
        f"<li><a href='{escape(v['href'])}'{_CHOSEN if v['chosen'] else ''}>"
        f"{escape(_facet_label(name, v, language))}</a> <span class='count'>{int(v['count'])}</span></li>"
        for v in values
    )
    return f"<h2>{escape(_t(language, 'facet_' + name))}</h2><ul>{items}</ul>"


def _facet_label(name: str, value: dict[str, Any], language: str) -> str:
    """A facet value's label in `language` where the vocabulary has one (else the document's)."""
    if name == "theme":
        return vocab.theme_label(value["value"], language)
    if name == "access_level":
        return vocab.access_level_label(value["value"], language)
    return str(value["label"])


def _card(dataset: dict[str, Any], language: str) -> str:
    link = next(link["href"] for link in dataset["links"] if link["rel"] == "self")
    meta = " · ".join(
        part
        for part in (
            _publisher(dataset["publisher"], language),
            _access(dataset["access_level"], language),
            f"{escape(_t(language, 'licence'))}: {_licence(dataset['licence'])}",
            _period(dataset["temporal"], language),
        )
        if part
    )
    themes = [vocab.theme_label(theme["code"], language) for theme in dataset["themes"]]
    tags = _tags(themes + dataset["keywords"])
    return (
        f"<article class='dataset'><h2><a href='{escape(link)}'>{escape(dataset['title'])}</a></h2>"
        f"<p class='meta'>{meta}</p><p>{escape(dataset['description'])}</p>"
        f"{f'<p>{tags}</p>' if tags else ''}{_distributions(dataset['distributions'], False, language)}"
        "</article>"
    )


def _distributions(distributions: list[dict[str, Any]], detailed: bool, language: str) -> str:
    t = _texts(language)
    if not distributions:
        return f"<p class='meta'>{escape(t('no_distribution'))}</p>"
    items = []
    for d in distributions:
        download = (
            f" · <a href='{escape(d['download_url'])}'>{escape(t('download'))}</a>"
            if d["download_url"] and d["download_url"] != d["access_url"]
            else ""
        )
        extra = ""
        if detailed:
            if d["description"]:
                extra += f"<br>{escape(d['description'])}"
            if d["attribution"]:
                extra += f"<br><span class='meta'>{escape(t('attribution', text=d['attribution']))}</span>"
            if d["conforms_to"]:
                standard = vocab.STANDARD_LABELS.get(d["conforms_to"], d["conforms_to"])
                extra += f"<br><span class='meta'>{escape(t('conforms_to', standard=standard))}</span>"
        items.append(
            f"<li><a href='{escape(d['access_url'])}'>{escape(d['title'])}</a> "
            f"<span class='format'>{escape(d['format_label'])} ({escape(d['media_type'])})</span>"
            f"{download}{extra}</li>"
        )
    return f"<ul class='distributions'>{''.join(items)}</ul>"


def _publisher(publisher: dict[str, Any] | None, language: str, with_kind: bool = False) -> str:
    """The publisher's name (a link to its homepage), and with `with_kind` what kind of
    organisation it is, in `language`."""
    if not publisher:
        return ""
    title = escape(publisher["title"])
    name = f"<a href='{escape(publisher['homepage'])}'>{title}</a>" if publisher.get("homepage") else title
    if not with_kind or not publisher.get("kind"):
        return name
    kind = vocab.organisation_kind_label(publisher["kind"], language)
    return f"{name} <span class='meta'>({escape(kind)})</span>"


def _contact(contact: dict[str, Any] | None) -> str:
    if not contact:
        return ""
    name = escape(contact["name"] or "")
    if contact.get("email"):
        return f"{name} <a href='mailto:{escape(contact['email'])}'>{escape(contact['email'])}</a>"
    return name


def _licence(licence: dict[str, Any]) -> str:
    return f"<a href='{escape(licence['uri'])}'>{escape(licence['label'])}</a>"


def _access(level: str, language: str) -> str:
    label = vocab.access_level_label(level, language)
    css = "access-open" if level == "open" else "access-restricted"
    return f"<span class='{css}'>{escape(label)}</span>"


def _tags(values: Any) -> str:
    return "".join(f"<span class='tag'>{escape(str(value))}</span>" for value in values)


def _period(temporal: dict[str, Any] | None, language: str) -> str:
    if not temporal:
        return ""
    start = (temporal["start"] or "")[:10]
    end = (temporal["end"] or "")[:10]
    return escape(f"{start or '…'} – {end or _t(language, 'ongoing')}")


def _area(spatial: dict[str, Any] | None, language: str) -> str:
    if not spatial:
        return ""
    parts = []
    if spatial.get("bbox"):
        west, south, east, north = (f"{v:g}" for v in spatial["bbox"])
        parts.append(escape(_t(language, "bbox", west=west, south=south, east=east, north=north)))
    geocoding = spatial.get("political_geocoding")
    for uri in geocoding if isinstance(geocoding, list) else [geocoding] if geocoding else []:
        parts.append(f"<a href='{escape(str(uri))}'>{escape(str(uri).rsplit('/', 1)[-1])}</a>")
    return "; ".join(parts)


def _alternates(links: list[dict[str, str]], language: str) -> str:
    alternates = [link for link in links if link["rel"] == "alternate"]
    names = {media: title for media, title in REPRESENTATIONS.values()}
    return f"{escape(_t(language, 'also_as'))} " + ", ".join(
        f"<a href='{escape(link['href'])}' type='{escape(link['type'])}'>"
        f"{escape(names.get(link['type'], link['type']))}</a>"
        for link in alternates
    )


def _pages(links: list[dict[str, str]], language: str) -> str:
    found = {link["rel"]: link["href"] for link in links}
    parts = [
        f"<a href='{escape(found[rel])}' rel='{rel}'>{escape(_t(language, label))}</a>"
        for rel, label in (("prev", "previous"), ("next", "next"))
        if rel in found
    ]
    pages = escape(_t(language, "pages"))
    return f"<nav class='pages' aria-label='{pages}'>{''.join(parts)}</nav>" if parts else ""
