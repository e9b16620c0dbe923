"""The catalogue over HTTP: content negotiation, every serialisation parsing back to the same triples,
the JSON listing, the HTML page, and what an anonymous client may see, on both backends."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic
from sqlalchemy import Engine

from tests.catalog.conftest import add_dataset, violations
from urbantwin.access.gate import Caller
from urbantwin.access.policy import EVERYTHING
from urbantwin.app import create_app
from urbantwin.catalog import vocabulary as vocab
from urbantwin.catalog.dcat import catalog_graph, dataset_graph
from urbantwin.catalog.documents import listing_url
from urbantwin.catalog.html import LANGUAGES, TEXTS
from urbantwin.catalog.routes import NotAcceptable, build_router, choose_language, choose_representation
from urbantwin.catalog.service import CatalogQuery, CatalogService
from urbantwin.errors import BadRequest
from urbantwin.settings import Settings
from urbantwin.store.access_schema import ORGANISATION_KINDS

DCAT = Namespace("http://www.w3.org/ns/dcat#")
RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
MEDIA = {
    "ttl": "text/turtle; charset=utf-8",
    "jsonld": "application/ld+json",
    "rdf": "application/rdf+xml",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}
RDFLIB_FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def _datasets(graph: Graph) -> set[str]:
    return {str(s).rsplit("/", 1)[1] for s in graph.subjects(RDF_TYPE, DCAT.Dataset)}


# --- content negotiation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "accept", "chosen"),
    [
        (None, None, "ttl"),
        (None, "*/*", "ttl"),
        (None, "text/turtle", "ttl"),
        (None, "application/ld+json", "jsonld"),
        (None, "application/rdf+xml", "rdf"),
        (None, "application/json", "json"),
        (None, BROWSER, "html"),
        (None, "application/json;q=0.5, text/turtle;q=0.9", "ttl"),
        (None, "text/*;q=0.3, application/ld+json;q=0.2", "ttl"),
        (None, "application/*", "jsonld"),
        (None, "text/html;q=0, */*;q=0.1", "ttl"),
        (None, "TEXT/HTML", "html"),
        ("json", "text/html", "json"),  # f wins
        ("rdf", None, "rdf"),
    ],
)
def test_choose_representation(f: str | None, accept: str | None, chosen: str) -> None:
    assert choose_representation(f, accept) == chosen


def test_unknown_f_and_unacceptable_accept() -> None:
    with pytest.raises(BadRequest) as bad:
        choose_representation("xml", None)
    assert bad.value.message == "f: unknown representation 'xml'; use one of ttl, jsonld, rdf, html, json"
    with pytest.raises(NotAcceptable):
        choose_representation(None, "image/png")
    with pytest.raises(NotAcceptable):
        choose_representation(None, "text/turtle;q=0")


@pytest.mark.parametrize("path", ["/catalog", "/catalog/", "/catalog/datasets/ortsteile"])
def test_negotiation_over_http(store: Engine, client: TestClient, path: str) -> None:
    for representation, media_type in MEDIA.items():
        by_f = client.get(path, params={"f": representation}, headers={"Accept": "image/png"})
        assert by_f.status_code == 200, by_f.text
        assert by_f.headers["content-type"] == media_type
        assert "Accept" in [v.strip() for v in by_f.headers["vary"].split(",")]
        by_accept = client.get(path, headers={"Accept": media_type.split(";")[0]})
        assert by_accept.headers["content-type"] == media_type
        assert by_accept.content == by_f.content
    assert client.get(path).headers["content-type"] == MEDIA["ttl"]
    assert client.get(path, headers={"Accept": BROWSER}).headers["content-type"] == MEDIA["html"]
    unknown = client.get(path, params={"f": "csv"})
    assert unknown.status_code == 400
    assert "ttl, jsonld, rdf, html, json" in unknown.json()["message"]
    refused = client.get(path, headers={"Accept": "image/png"})
    assert refused.status_code == 406
    assert "text/turtle" in refused.json()["message"]


# --- the serialisations -------------------------------------------------------------------------


@pytest.mark.parametrize("representation", ["ttl", "jsonld", "rdf"])
def test_each_serialisation_parses_back_into_the_same_triples(
    store: Engine, client: TestClient, settings: Settings, representation: str
) -> None:
    service = CatalogService(store, settings)
    base = "http://testserver"
    expected = catalog_graph(base, service.search(Caller.seeing(EVERYTHING), CatalogQuery()))
    answer = client.get("/catalog", params={"f": representation})
    parsed = Graph().parse(data=answer.content, format=RDFLIB_FORMATS[representation])
    assert set(parsed) == set(expected)  # no blank nodes: the very same triples
    assert isomorphic(parsed, expected)
    assert {"luftqualitaet", "ortsteile", "ladesaeulen", "verkehr", "energie-intern"} <= _datasets(parsed)
    assert violations(parsed) == {}
    info, record = service.dataset(Caller.seeing(EVERYTHING), "luftqualitaet")
    one = client.get("/catalog/datasets/luftqualitaet", params={"f": representation})
    parsed_one = Graph().parse(data=one.content, format=RDFLIB_FORMATS[representation])
    assert set(parsed_one) == set(dataset_graph(base, info, record))


# --- JSON and HTML ------------------------------------------------------------------------------


def test_the_json_listing(store: Engine, client: TestClient) -> None:
    listing = client.get("/catalog", params={"f": "json", "theme": "ENER"}).json()
    assert [d["id"] for d in listing["datasets"]] == ["energie-intern", "ladesaeulen"]
    assert listing["number_matched"] == listing["number_returned"] == 2
    chargers = listing["datasets"][1]
    assert chargers["publisher"]["title"] == "Stadt Leipzig"
    assert chargers["licence"] == {
        "code": "cc-by/4.0",
        "uri": "http://dcat-ap.de/def/licenses/cc-by/4.0",
        "label": "Creative Commons Namensnennung – 4.0 International (CC BY 4.0)",
    }
    assert chargers["access_level"] == "registered"
    assert chargers["spatial"]["bbox"] == [12.3, 51.25, 12.45, 51.4]
    assert chargers["temporal"] == {"start": "2019-07-01T00:00:00Z", "end": "2019-07-01T00:00:00Z"}
    formats = [(d["format"], d["access_url"]) for d in chargers["distributions"]]
    assert formats[:3] == [
        ("GEOJSON", "http://testserver/ogcapi/collections/ladesaeulen/items?f=json"),
        ("HTML", "http://testserver/ogcapi/collections/ladesaeulen/items?f=html"),
        ("MVT", "http://testserver/ogcapi/collections/ladesaeulen/tiles/WebMercatorQuad"),
    ]
    assert formats[3][0] == "JSON" and re.fullmatch(
        r"http://testserver/v1\.1/Datastreams\(\d+\)", formats[3][1]
    )
    assert all(d["licence"] == "cc-by/4.0" for d in chargers["distributions"])
    themes = {v["value"]: (v["count"], v["chosen"]) for v in listing["facets"]["theme"]}
    assert themes["ENER"] == (2, True) and themes["ENVI"] == (1, False)
    energy = next(v for v in listing["facets"]["theme"] if v["value"] == "ENER")
    assert energy["href"] == "http://testserver/catalog?f=json"  # choosing it again unchooses it
    environment = next(v for v in listing["facets"]["theme"] if v["value"] == "ENVI")
    assert client.get(environment["href"]).json()["number_matched"] == 3  # ENER or ENVI
    alternates = {link["type"] for link in listing["links"] if link["rel"] == "alternate"}
    assert alternates == {"text/turtle", "application/ld+json", "application/rdf+xml", "text/html"}


def test_paging_links(store: Engine, client: TestClient) -> None:
    first = client.get("/catalog", params={"f": "json", "limit": "2"}).json()
    rels = {link["rel"]: link["href"] for link in first["links"]}
    assert "prev" not in rels
    assert rels["next"] == "http://testserver/catalog?limit=2&offset=2&f=json"
    seen = [d["id"] for d in first["datasets"]]
    page = first
    while "next" in {link["rel"] for link in page["links"]}:
        page = client.get(next(link["href"] for link in page["links"] if link["rel"] == "next")).json()
        seen += [d["id"] for d in page["datasets"]]
    assert len(seen) == len(set(seen)) == first["number_matched"] >= 5
    assert {link["rel"] for link in page["links"]} >= {"prev", "first"}
    turtle = client.get("/catalog", params={"limit": "2", "offset": "2", "f": "ttl"})
    graph = Graph().parse(data=turtle.content, format="turtle")
    hydra = Namespace("http://www.w3.org/ns/hydra/core#")
    assert set(graph.objects(None, hydra.nextPage)) == {
        URIRef("http://testserver/catalog?limit=2&offset=4&f=ttl")
    }
    bad = client.get("/catalog", params={"limit": "0", "f": "json"})
    assert bad.status_code == 400 and bad.json()["message"] == "limit: 0 is out of range (1..1000)"


def test_the_html_page_searches_filters_and_escapes(store: Engine, client: TestClient) -> None:
    page = client.get("/catalog", params={"f": "html", "q": "air", "theme": "HEAL"}).text
    assert '<form class="search" method="get" action="http://testserver/catalog"' in page
    assert '<input type="search" name="q" value="air"' in page
    assert '<input type="hidden" name="theme" value="HEAL">' in page
    assert page.count("<article class='dataset'>") == 1
    assert "Air quality in Leipzig" in page
    # Text from the store is escaped, never markup.
    assert "&lt;Mitte&gt; &amp; West" in page and "<Mitte>" not in page
    assert "Datenlizenz Deutschland – Namensnennung – Version 2.0" in page
    assert "http://testserver/v1.1/Datastreams(1)/Observations" in page
    # A facet link with its count, keeping the search, in HTML.
    assert re.search(
        r"<a href='[^']*q=air[^']*theme=ENVI[^']*f=html'>Environment</a> <span class='count'>1", page
    )
    everything = client.get("/catalog", params={"f": "html"}).text
    assert everything.count("<article class='dataset'>") >= 5
    one = client.get("/catalog/datasets/ortsteile", params={"f": "html"}).text
    assert "Stadt Leipzig, Amt für Statistik und Wahlen" in one
    assert "2000-01-01 – 2024-12-31" in one


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("de", "de"),
        ("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de"),
        ("en-GB,de;q=0.5", "en"),
        ("fr-FR,fr;q=0.9", "en"),  # neither: the default
        ("fr, de;q=0.3", "de"),
        ("de;q=0, en;q=0.1", "en"),
        ("de;q=x", "en"),
    ],
)
def test_choose_language(header: str | None, language: str) -> None:
    assert choose_language(header) == language


def test_the_html_page_speaks_german_and_english_and_names_each_publishers_kind(
    store: Engine, client: TestClient
) -> None:
    """Probe: the catalogue's HTML showed no kind of publisher, and in English only."""
    german = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.8"}
    one = client.get("/catalog/datasets/luftqualitaet", params={"f": "html"}, headers=german)
    assert "Accept-Language" in one.headers["vary"]
    page = one.text
    assert '<html lang="de">' in page
    assert "<dt>Herausgeber</dt>" in page and "(Landesbehörde)" in page
    assert "<dt>Aktualisierung</dt><dd>stündlich</dd>" in page
    assert "<span class='tag'>Umwelt</span>" in page and "Offene Daten" in page
    english = client.get("/catalog/datasets/luftqualitaet", params={"f": "html"}).text
    assert '<html lang="en">' in english
    assert "<dt>Publisher</dt>" in english and "(Regional (state) authority)" in english
    assert "<dt>Update frequency</dt><dd>hourly</dd>" in english
    # counts in the singular and the plural, in both languages
    listing = client.get("/catalog", params={"f": "html", "q": "air"}, headers=german).text
    assert "1 Datensatz, angezeigt 1–1" in listing and "<h2>Thema</h2>" in listing
    everything = client.get("/catalog", params={"f": "html", "limit": "2"}, headers=german).text
    assert re.search(r"\d+ Datensätze, angezeigt 1–2", everything)
    assert "1 dataset, showing 1–1" in client.get("/catalog", params={"f": "html", "q": "air"}).text


def test_every_word_of_the_html_view_and_every_kind_has_both_languages() -> None:
    assert set(TEXTS["de"]) == set(TEXTS["en"]) and set(TEXTS) == set(LANGUAGES)
    for kind in ORGANISATION_KINDS:
        assert set(vocab.ORGANISATION_KIND_LABELS[kind]) == set(LANGUAGES), kind
        assert set(vocab.PUBLISHER_TYPE_LABELS[vocab.PUBLISHER_TYPES[kind]]) == set(LANGUAGES), kind
    assert set(vocab.THEMES_DE) == set(vocab.THEMES)
    assert set(vocab.FREQUENCIES_DE) == set(vocab.FREQUENCIES)
    assert set(vocab.ACCESS_LEVEL_LABELS_DE) == set(vocab.ACCESS_LEVEL_LABELS)


def test_links_use_the_address_a_trusted_proxy_forwards(store: Engine, settings: Settings) -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "udp.leipzig.de", "Accept": "text/turtle"}
    with TestClient(create_app(settings.with_overrides(trusted_proxies=("testclient",)), store)) as proxied:
        graph = Graph().parse(data=proxied.get("/catalog", headers=headers).content, format="turtle")
    assert "ortsteile" in _datasets(graph)
    assert all(
        str(s).startswith("https://udp.leipzig.de/catalog/datasets/")
        for s in graph.subjects(RDF_TYPE, DCAT.Dataset)
    )


# --- who sees what ------------------------------------------------------------------------------


def test_an_anonymous_client_sees_open_datasets_only(
    store: Engine, anonymous: TestClient, client: TestClient
) -> None:
    listing = anonymous.get("/catalog", params={"f": "json"}).json()
    ids = {d["id"] for d in listing["datasets"]}
    assert {"luftqualitaet", "ortsteile"} <= ids
    assert not ids & {"ladesaeulen", "verkehr", "energie-intern"}
    assert {v["value"] for v in listing["facets"]["access_level"]} == {"open"}
    graph = Graph().parse(data=anonymous.get("/catalog").content, format="turtle")
    assert not _datasets(graph) & {"ladesaeulen", "verkehr", "energie-intern"}
    for hidden in ("ladesaeulen", "verkehr", "energie-intern"):
        answer = anonymous.get(f"/catalog/datasets/{hidden}", params={"f": "json"})
        assert answer.status_code == 404
        assert answer.json()["message"] == f"no dataset {hidden!r}"
        assert client.get(f"/catalog/datasets/{hidden}", params={"f": "json"}).status_code == 200
    missing = anonymous.get("/catalog/datasets/nowhere", params={"f": "json"})
    assert missing.status_code == 404 and missing.json()["message"] == "no dataset 'nowhere'"
    assert (
        anonymous.get("/catalog/datasets/ortsteile", params={"f": "json"}).json()["title"]
        == "Ortsteile of Leipzig"
    )


def test_a_bad_token_is_refused(store: Engine, anonymous: TestClient) -> None:
    answer = anonymous.get("/catalog", headers={"Authorization": "Bearer not-a-token"})
    assert answer.status_code == 401


def test_a_dataset_added_later_appears(store: Engine, client: TestClient) -> None:
    with store.begin() as connection:
        add_dataset(connection, "neu", "Neu & <frisch>", themes=["SOCI"])
    listing = client.get("/catalog", params={"f": "json", "q": "frisch"}).json()
    assert [d["id"] for d in listing["datasets"]] == ["neu"]
    assert listing["links"][0]["href"] == listing_url("http://testserver", CatalogQuery(q="frisch"), "json")


def test_the_openapi_document_describes_the_catalogue(engine: Engine, settings: Settings) -> None:
    # The catalogue's own router, so the check does not hang on the rest of the app's document.
    app = FastAPI()
    app.include_router(build_router())
    paths = app.openapi()["paths"]
    listing = paths["/catalog"]["get"]
    assert "DCAT-AP.de" in listing["summary"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert {"q", "theme", "publisher", "licence", "format", "access_level", "limit", "offset", "f"} <= set(
        parameters
    )
    assert "jsonld" in parameters["f"]["description"]
    assert {"200", "400", "406"} <= set(listing["responses"])
    assert "text/turtle" in listing["responses"]["200"]["content"]
    one = paths["/catalog/datasets/{dataset_id}"]["get"]
    assert "404" in one["responses"] and "f" in {p["name"] for p in one["parameters"]}
    assert "/catalog/" not in paths
