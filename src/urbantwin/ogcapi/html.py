"""A plain server-rendered HTML view of the OGC API documents (conformance class HTML)."""

from __future__ import annotations

from html import escape
from typing import Any

import orjson

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def render(kind: str, document: dict[str, Any]) -> str:
    """HTML of a landing page, conformance, collection(s), feature collection or feature."""
    if kind == "items":
        return _page(_items_title(document), _items(document))
    if kind == "item":
        return _page(
            f"Feature {document.get('id')}", _properties(document) + _links(document.get("links", []))
        )
    if kind == "collections":
        rows = "".join(
            f"<tr><td><a href='{escape(_href(c, 'self'))}?f=html'>{escape(c['id'])}</a></td>"
            f"<td>{escape(c.get('title', ''))}</td><td>{escape(c.get('description', ''))}</td>"
            f"<td>{escape(c.get('license', ''))}</td><td>{escape(c.get('attribution', ''))}</td></tr>"
            for c in document["collections"]
        )
        head = "".join(f"<th>{h}</th>" for h in ("id", "title", "description", "licence", "attribution"))
        table = f"<table><tr>{head}</tr>{rows}</table>"
        return _page("Collections", table)
    if kind == "collection":
        facts = {k: document.get(k) for k in ("description", "license", "attribution", "keywords", "extent")}
        items = escape(_href(document, "items"))
        body = _table(facts) + f"<p><a href='{items}?f=html'>Browse the features</a></p>"
        return _page(document.get("title", document["id"]), body + _links(document["links"]))
    if kind == "queryables":
        rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{escape(str(spec.get('type', spec.get('format', ''))))}</td>"
            "</tr>"
            for name, spec in document["properties"].items()
        )
        return _page(f"Queryables of {document.get('title', '')}", f"<table>{rows}</table>")
    if kind == "conformance":
        return _page(
            "Conformance", "<ul>" + "".join(f"<li>{escape(c)}</li>" for c in document["conformsTo"]) + "</ul>"
        )
    return _page(
        document.get("title", "OGC API"),
        f"<p>{escape(document.get('description', ''))}</p>" + _links(document["links"]),
    )


def _page(title: str, body: str) -> str:
    return _PAGE.format(title=escape(title), body=body)


def _href(document: dict[str, Any], rel: str) -> str:
    return next((link["href"] for link in document["links"] if link["rel"] == rel), "")


def _links(links: list[dict[str, str]]) -> str:
    items = "".join(
        f"<li><a href='{escape(link['href'])}'>{escape(link.get('title') or link['rel'])}</a> "
        f"({escape(link['rel'])}, {escape(link.get('type', ''))})</li>"
        for link in links
    )
    return f"<h2>Links</h2><ul>{items}</ul>"


def _value(value: Any) -> str:
    return escape(value if isinstance(value, str) else orjson.dumps(value).decode())


def _table(values: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in values.items())
    return f"<table>{rows}</table>"


def _properties(feature: dict[str, Any]) -> str:
    return (
        _table(feature.get("properties") or {}) + f"<p>geometry: {_value(feature.get('geometry'))[:2000]}</p>"
    )


def _items_title(document: dict[str, Any]) -> str:
    return f"Features {document['numberReturned']} of {document['numberMatched']}"


def _items(document: dict[str, Any]) -> str:
    names: list[str] = []
    for feature in document["features"]:
        for name in feature.get("properties") or {}:
            if name not in names:
                names.append(name)
    names = names[:12]
    head = "<tr><th>id</th>" + "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"
    rows = "".join(
        f"<tr><td><a href='{escape(f['links'][0]['href'])}?f=html'>{escape(str(f['id']))}</a></td>"
        + "".join(f"<td>{_value((f.get('properties') or {}).get(n))}</td>" for n in names)
        + "</tr>"
        for f in document["features"]
    )
    paging = "".join(
        f"<a href='{escape(link['href'])}&amp;f=html'>{escape(link['rel'])}</a> "
        for link in document["links"]
        if link["rel"] in ("prev", "next")
    )
    return f"<table>{head}{rows}</table><p>{paging}</p>"
