"""The RDF of the catalogue: DCAT-AP.de 3.0 conformance (SHACL, no violation) and the triples each
dataset must carry, on both backends."""

from __future__ import annotations

from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, SKOS
from sqlalchemy import Engine

from tests.catalog.conftest import (
    MUNICIPALITY,
    MUNICIPALITY_LEVEL,
    add_dataset,
    add_organisation,
    add_sensorthings,
    shacl_results,
    violations,
)
from urbantwin.access.gate import Caller
from urbantwin.access.policy import EVERYTHING
from urbantwin.catalog.dcat import DCATDE, GSP, HYDRA, VCARD, catalog_graph, dataset_graph
from urbantwin.catalog.service import MAX_LISTED_DATASTREAMS, CatalogQuery, CatalogService
from urbantwin.settings import Settings
from urbantwin.store.access_schema import ORGANISATION_KINDS

# Plain namespaces: pytest's collection probes module attributes, which rdflib's defined namespaces
# answer with a warning.
DCAT = Namespace("http://www.w3.org/ns/dcat#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
BASE = "http://testserver"
EU = "http://publications.europa.eu/resource/authority"
LICENCES = "http://dcat-ap.de/def/licenses"
IANA = "http://www.iana.org/assignments/media-types"


def _catalog(engine: Engine, **query: object) -> Graph:
    service = CatalogService(engine, Settings())
    page = service.search(Caller.seeing(EVERYTHING), CatalogQuery().with_changes(**query))
    return catalog_graph(BASE, page, lambda offset: f"{BASE}/catalog?offset={offset}&f=ttl")


def _dataset(engine: Engine, dataset_id: str) -> Graph:
    info, record = CatalogService(engine, Settings()).dataset(Caller.seeing(EVERYTHING), dataset_id)
    return dataset_graph(BASE, info, record)


def _uri(dataset_id: str, fragment: str = "") -> URIRef:
    return URIRef(f"{BASE}/catalog/datasets/{dataset_id}" + (f"#{fragment}" if fragment else ""))


def _distributions(graph: Graph, dataset_id: str) -> dict[str, URIRef]:
    return {str(d).rsplit("#", 1)[1]: d for d in graph.objects(_uri(dataset_id), DCAT.distribution)}


def test_the_whole_catalogue_conforms_to_dcat_ap_de(store: Engine) -> None:
    graph = _catalog(store)
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 5
    assert violations(graph) == {}
    # The only finding: the political geocoding URI, which DCAT-AP.de 3.0 deprecates (a warning)
    # and which is given as dct:spatial too.
    assert set(shacl_results(graph)) == {
        (
            "Warning",
            str(DCATDE.politicalGeocodingURI),
            "Deprecated: dcatde:politicalGeocodingURI soll nicht mehr verwendet werden.",
        )
    }
    for dataset_id in ("luftqualitaet", "ortsteile", "verkehr"):
        assert violations(_dataset(store, dataset_id)) == {}


def test_the_shapes_do_find_a_broken_catalogue(store: Engine) -> None:
    graph = _catalog(store)
    graph.remove((_uri("ortsteile"), DCTERMS.publisher, None))
    graph.remove((None, SKOS.inScheme, None))
    graph.remove((_uri("ortsteile", "collection-ortsteile-geojson"), DCTERMS.license, None))
    found = {path for _, path, _ in violations(graph)}
    assert {str(DCTERMS.publisher), str(SKOS.inScheme), str(DCTERMS.license)} <= found


def test_a_dataset_with_sensor_data(store: Engine) -> None:
    graph = _dataset(store, "luftqualitaet")
    node = _uri("luftqualitaet")
    assert (node, RDF.type, DCAT.Dataset) in graph
    assert graph.value(node, DCTERMS.title) == Literal("Air quality in Leipzig")
    assert graph.value(node, DCTERMS.identifier) == Literal(str(node))
    publisher = graph.value(node, DCTERMS.publisher)
    assert publisher == URIRef(f"{BASE}/catalog#organisation-lfulg")
    assert {FOAF.Agent, FOAF.Organization} <= set(graph.objects(publisher, RDF.type))
    assert graph.value(publisher, FOAF.name) == Literal("Landesamt für Umwelt, Landwirtschaft und Geologie")
    assert graph.value(publisher, DCTERMS.type) == URIRef(
        "http://purl.org/adms/publishertype/RegionalAuthority"
    )
    contact = graph.value(node, DCAT.contactPoint)
    assert (contact, RDF.type, VCARD.Organization) in graph
    assert graph.value(contact, VCARD.fn) == Literal("Luftmessnetz Sachsen")
    assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:luft@example.org")
    assert set(graph.objects(node, DCAT.theme)) == {
        URIRef(f"{EU}/data-theme/ENVI"),
        URIRef(f"{EU}/data-theme/HEAL"),
    }
    assert set(graph.objects(node, DCAT.keyword)) == {
        Literal("Luftqualität"),
        Literal("NO2"),
        Literal("Feinstaub"),
    }
    assert graph.value(node, DCTERMS.accrualPeriodicity) == URIRef(f"{EU}/frequency/HOURLY")
    assert graph.value(node, DCTERMS.accessRights) == URIRef(f"{EU}/access-right/PUBLIC")
    assert graph.value(node, DCTERMS.issued) == Literal("2014-09-01T00:00:00+00:00", datatype=XSD.dateTime)
    assert graph.value(node, DCTERMS.modified) == Literal("2024-03-01T00:00:00+00:00", datatype=XSD.dateTime)
    # Political geocoding, given the 2.0 way and the 3.0 way (dct:spatial).
    assert graph.value(node, DCATDE.politicalGeocodingURI) == URIRef(MUNICIPALITY)
    assert graph.value(node, DCATDE.politicalGeocodingLevelURI) == URIRef(MUNICIPALITY_LEVEL)
    places = set(graph.objects(node, DCTERMS.spatial))
    assert URIRef(MUNICIPALITY) in places
    # The bounding box of the two stations, and the time of all observations.
    box = graph.value(_uri("luftqualitaet", "spatial"), DCAT.bbox)
    assert _uri("luftqualitaet", "spatial") in places
    assert box == Literal(
        "POLYGON((12.2977 51.318, 12.3785 51.318, 12.3785 51.3443, 12.2977 51.3443, 12.2977 51.318))",
        datatype=GSP.wktLiteral,
    )
    period = graph.value(node, DCTERMS.temporal)
    assert (period, RDF.type, DCTERMS.PeriodOfTime) in graph
    assert graph.value(period, DCAT.startDate) == Literal("2014-09-01T01:00:00+00:00", datatype=XSD.dateTime)
    assert graph.value(period, DCAT.endDate) == Literal("2014-12-02T00:00:00+00:00", datatype=XSD.dateTime)
    # One distribution per Datastream: its Observations over the SensorThings API.
    distributions = _distributions(graph, "luftqualitaet")
    assert sorted(distributions) == ["datastream-1", "datastream-2", "datastream-3"]
    first = distributions["datastream-1"]
    assert graph.value(first, DCAT.accessURL) == URIRef(f"{BASE}/v1.1/Datastreams(1)")
    assert graph.value(first, DCAT.downloadURL) == URIRef(f"{BASE}/v1.1/Datastreams(1)/Observations")
    assert graph.value(first, DCTERMS.format) == URIRef(f"{EU}/file-type/JSON")
    assert graph.value(first, DCAT.mediaType) == URIRef(f"{IANA}/application/json")
    assert graph.value(first, DCTERMS.conformsTo) == URIRef("http://www.opengis.net/spec/iot_sensing/1.1")
    service = graph.value(first, DCAT.accessService)
    assert graph.value(service, DCAT.endpointURL) == URIRef(f"{BASE}/v1.1/")
    assert (service, DCAT.servesDataset, node) in graph
    for distribution in distributions.values():
        assert graph.value(distribution, DCTERMS.license) == URIRef(f"{LICENCES}/dl-by-de/2.0")


def test_a_dataset_of_a_feature_collection(store: Engine) -> None:
    graph = _dataset(store, "ortsteile")
    distributions = _distributions(graph, "ortsteile")
    assert sorted(distributions) == [
        "collection-ortsteile-geojson",
        "collection-ortsteile-html",
        "collection-ortsteile-mvt",
    ]
    items = f"{BASE}/ogcapi/collections/ortsteile/items"
    geojson, html, mvt = (
        distributions[f"collection-ortsteile-{kind}"] for kind in ("geojson", "html", "mvt")
    )
    assert graph.value(geojson, DCAT.accessURL) == URIRef(f"{items}?f=json")
    assert graph.value(geojson, DCAT.downloadURL) == URIRef(f"{items}?f=json")
    assert graph.value(geojson, DCTERMS.format) == URIRef(f"{EU}/file-type/GEOJSON")
    assert graph.value(geojson, DCAT.mediaType) == URIRef(f"{IANA}/application/geo+json")
    assert graph.value(html, DCAT.accessURL) == URIRef(f"{items}?f=html")
    assert graph.value(html, DCTERMS.format) == URIRef(f"{EU}/file-type/HTML")
    assert graph.value(mvt, DCAT.accessURL) == URIRef(
        f"{BASE}/ogcapi/collections/ortsteile/tiles/WebMercatorQuad"
    )
    assert graph.value(mvt, DCAT.mediaType) == URIRef(f"{IANA}/application/vnd.mapbox-vector-tile")
    for distribution in distributions.values():
        assert graph.value(distribution, DCTERMS.license) == URIRef(f"{LICENCES}/dl-zero-de/2.0")
        assert graph.value(distribution, DCATDE.licenseAttributionByText) == Literal(
            "Stadt Leipzig, Amt für Statistik und Wahlen"
        )
    period = graph.value(_uri("ortsteile"), DCTERMS.temporal)
    assert graph.value(period, DCAT.startDate) == Literal("2000-01-01T00:00:00+00:00", datatype=XSD.dateTime)
    assert graph.value(period, DCAT.endDate) == Literal("2024-12-31T00:00:00+00:00", datatype=XSD.dateTime)


def test_access_levels_become_eu_access_rights(store: Engine) -> None:
    graph = _catalog(store)
    rights = {
        str(dataset).rsplit("/", 1)[1]: str(graph.value(dataset, DCTERMS.accessRights)).rsplit("/", 1)[1]
        for dataset in graph.subjects(RDF.type, DCAT.Dataset)
    }
    assert rights == {
        "luftqualitaet": "PUBLIC",
        "ortsteile": "PUBLIC",
        "ladesaeulen": "RESTRICTED",
        "verkehr": "RESTRICTED",
        "energie-intern": "NON_PUBLIC",
    }


def test_publisher_types_and_contact_points(store: Engine) -> None:
    graph = _catalog(store)
    types = {
        str(org).rsplit("-", 1)[-1]: graph.value(org, DCTERMS.type) for org in graph.subjects(FOAF.name, None)
    }
    assert types["lvb"] == URIRef("http://purl.org/adms/publishertype/Company")
    # The publisher's address stands in for a missing contact; without any, no contact point.
    contact = graph.value(_uri("ortsteile"), DCAT.contactPoint)
    assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:opendata@leipzig.de")
    assert graph.value(_uri("verkehr"), DCAT.contactPoint) is None


def test_every_kind_of_organisation_has_its_adms_publisher_type(store: Engine) -> None:
    """Probe: every organisation of kind `administration` became a LocalAuthority, a state or a
    federal agency too. A kind stored under its former name still reads as the kind it stands for."""
    expected = {
        "local-authority": "LocalAuthority",
        "regional-authority": "RegionalAuthority",
        "national-authority": "NationalAuthority",
        "supranational-authority": "SupraNationalAuthority",
        "municipal-company": "Company",
        "company": "Company",
        "research": "Academia-ScientificOrganisation",
        "ngo": "NonGovernmentalOrganisation",
        "non-profit": "NonProfitOrganisation",
        "industry-consortium": "IndustryConsortium",
        "standardisation-body": "StandardisationBody",
        "private-individual": "PrivateIndividual(s)",
        "administration": "LocalAuthority",  # a row of an earlier version, not migrated
        "civil_society": "NonGovernmentalOrganisation",
    }
    assert set(expected) >= set(ORGANISATION_KINDS)
    with store.begin() as connection:
        for n, kind in enumerate(expected):
            add_organisation(connection, f"org-{n}", f"Organisation {kind}", kind, email="data@example.org")
            add_dataset(connection, f"by-{n}", f"Published by {kind}", publisher_id=f"org-{n}")
    graph = _catalog(store, limit=100)
    adms = "http://purl.org/adms/publishertype"
    for n, (kind, code) in enumerate(expected.items()):
        publisher = graph.value(_uri(f"by-{n}"), DCTERMS.publisher)
        assert graph.value(publisher, DCTERMS.type) == URIRef(f"{adms}/{code}"), kind
    labels = set(graph.objects(URIRef(f"{adms}/RegionalAuthority"), SKOS.prefLabel))
    assert labels == {Literal("Regional Authority", lang="en"), Literal("Regionale Behörde", lang="de")}
    assert violations(graph) == {}


def test_a_dataset_without_publisher_is_published_by_the_catalogues(store: Engine) -> None:
    with store.begin() as connection:
        add_dataset(connection, "orphan", "Orphan", publisher_id=None)
    graph = _dataset(store, "orphan")
    assert graph.value(_uri("orphan"), DCTERMS.publisher) == URIRef(f"{BASE}/catalog#organisation-city")
    # An empty description is mandatory in DCAT-AP: the title stands in.
    assert graph.value(_uri("orphan"), DCTERMS.description) == Literal("Orphan")
    assert violations(graph) == {}


def test_many_datastreams_become_one_distribution(store: Engine) -> None:
    with store.begin() as connection:
        add_dataset(connection, "dense", "Dense network")
        add_sensorthings(
            connection,
            "dense",
            "Grid",
            (12.0, 51.0),
            {f"s{n}": [] for n in range(MAX_LISTED_DATASTREAMS + 1)},
        )
        add_dataset(connection, "just-enough", "Just enough")
        add_sensorthings(
            connection,
            "just-enough",
            "Row",
            (12.0, 51.0),
            {f"s{n}": [] for n in range(MAX_LISTED_DATASTREAMS)},
        )
    dense = _dataset(store, "dense")
    (only,) = _distributions(dense, "dense").values()
    assert dense.value(only, DCAT.accessURL) == URIRef(f"{BASE}/v1.1/Datastreams")
    assert dense.value(only, DCAT.downloadURL) is None
    assert violations(dense) == {}
    assert len(_distributions(_dataset(store, "just-enough"), "just-enough")) == MAX_LISTED_DATASTREAMS


def test_partial_pages_link_to_the_next_in_hydra_terms(store: Engine) -> None:
    graph = _catalog(store, limit=2, offset=2)
    page = URIRef(f"{BASE}/catalog?offset=2&f=ttl")
    assert (page, RDF.type, HYDRA.PagedCollection) in graph
    assert graph.value(page, HYDRA.totalItems) == Literal(5)
    assert graph.value(page, HYDRA.nextPage) == URIRef(f"{BASE}/catalog?offset=4&f=ttl")
    assert graph.value(page, HYDRA.previousPage) == URIRef(f"{BASE}/catalog?offset=0&f=ttl")
    assert graph.value(page, HYDRA.lastPage) == URIRef(f"{BASE}/catalog?offset=4&f=ttl")
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 2
    assert violations(graph) == {}
    assert not set(_catalog(store).subjects(RDF.type, HYDRA.PagedCollection))  # one page: no paging
