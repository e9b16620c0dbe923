"""The catalogue as an RDF graph in DCAT-AP.de 3.0, and the distributions each dataset is offered as.

Property URIs and vocabularies follow the DCAT-AP.de 3.0 specification and the SHACL shapes GovData
validates with (tests/catalog/shapes). Every node has an IRI (hash IRIs under the dataset's URL for
its contact point, location, period and distributions), so a graph serialised and parsed back has
the same triples, and a harvester sees stable identifiers.

The concepts of the controlled vocabularies (themes, frequency, access right, licence, file type,
language, publisher type) are stated with their type and `skos:inScheme`: that is what the shapes
check of a value (the vocabulary tables themselves are not part of a catalogue), and it lets a
client tell which table a code comes from without fetching it.

A dataset's `extra` may carry:

- `landing_page`: a web page about the dataset (else the catalogue's HTML view of it is given);
- `political_geocoding_uri` (a URI or a list of URIs) and `political_geocoding_level_uri`: the
  DCAT-AP.de political geocoding (`dcatde:politicalGeocodingURI`, `…LevelURI`). Version 3.0
  deprecates the first (a warning of the shapes) in favour of `dct:spatial`, so the URIs are given
  both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS

from urbantwin.catalog import vocabulary as vocab
from urbantwin.catalog.service import (
    MAX_LISTED_DATASTREAMS,
    CatalogInfo,
    CatalogPage,
    DatasetRecord,
    Organisation,
)

DCATDE = Namespace("http://dcat-ap.de/def/dcatde/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
POLITICAL_GEOCODING_LEVEL = "http://dcat-ap.de/def/politicalGeocoding/Level"

#: Prefixes of the serialisations (and the JSON-LD context).
PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "dcatde": DCATDE,
    "foaf": FOAF,
    "vcard": VCARD,
    "skos": SKOS,
    "gsp": GSP,
    "hydra": HYDRA,
    "xsd": XSD,
}
JSONLD_CONTEXT = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}

#: The two APIs the distributions are served by (dcat:DataService): key -> (title, path, standards).
SERVICES = {
    "sensorthings": ("OGC SensorThings API", "/v1.1/", (vocab.OGC_STA_1_1,)),
    "ogcapi": ("OGC API - Features and Tiles", "/ogcapi/", (vocab.OGC_API_FEATURES_1, vocab.OGC_API_TILES_1)),
}


@dataclass(frozen=True)
class Distribution:
    """One way to get (part of) a dataset: the same facts for the RDF, the JSON and the HTML."""

    key: str
    title: str
    format: str
    access_url: str
    download_url: str | None = None
    description: str | None = None
    service: str | None = None
    conforms_to: str | None = None
    attribution: str | None = None
    modified: datetime | None = None

    @property
    def media_type(self) -> str:
        return vocab.FORMATS[self.format][1]

    @property
    def file_type(self) -> str | None:
        return vocab.FORMATS[self.format][0]


# --- URLs -----------------------------------------------------------------------------------------


def catalog_url(base: str) -> str:
    return f"{base}/catalog"


def dataset_url(base: str, dataset_id: str) -> str:
    return f"{base}/catalog/datasets/{quote(dataset_id, safe='')}"


def organisation_url(base: str, organisation_id: str) -> str:
    return f"{base}/catalog#organisation-{quote(organisation_id, safe='')}"


def service_url(base: str, key: str) -> str:
    return f"{base}/catalog#service-{key}"


def distributions(base: str, record: DatasetRecord) -> list[Distribution]:
    """The distributions of a dataset: per feature collection its GeoJSON items, HTML view and
    (where it has a spatial extent) vector tiles; for its SensorThings entities the Observations
    of each Datastream, or the Datastreams resource when there are more than
    `MAX_LISTED_DATASTREAMS` (see service.py), or the service root when it has entities but no
    Datastream."""
    out: list[Distribution] = []
    for c in record.collections:
        root = f"{base}/ogcapi/collections/{quote(c.id, safe='')}"
        key = f"collection-{quote(c.id, safe='')}"
        items = f"{root}/items?f=json"
        common: dict[str, Any] = {"service": "ogcapi", "attribution": c.attribution, "modified": c.updated}
        out += [
            Distribution(
                f"{key}-geojson",
                f"{c.title} (GeoJSON, OGC API - Features)",
                "GEOJSON",
                items,
                download_url=items,
                description=c.description or None,
                conforms_to=vocab.OGC_API_FEATURES_1,
                **common,
            ),
            Distribution(f"{key}-html", f"{c.title} (web page)", "HTML", f"{root}/items?f=html", **common),
        ]
        if c.extent_bbox is None:
            continue  # a table without geometry (e.g. a feed's service per day): nothing to tile
        out += [
            Distribution(
                f"{key}-mvt",
                f"{c.title} (vector tiles, OGC API - Tiles)",
                "MVT",
                f"{root}/tiles/WebMercatorQuad",
                description="Mapbox Vector Tiles in the WebMercatorQuad tile matrix set; the tileset "
                "document gives the URL template of the tiles.",
                conforms_to=vocab.OGC_API_TILES_1,
                **common,
            ),
        ]
    sta = f"{base}/v1.1"
    common = {"service": "sensorthings", "conforms_to": vocab.OGC_STA_1_1}
    if record.datastream_count > MAX_LISTED_DATASTREAMS:
        out.append(
            Distribution(
                "sensorthings-datastreams",
                "Datastreams (OGC SensorThings API)",
                "JSON",
                f"{sta}/Datastreams",
                description=f"The {record.datastream_count} Datastreams of this dataset and their "
                "Observations, among those of the platform's SensorThings API.",
                **common,
            )
        )
    elif record.datastreams:
        out += [
            Distribution(
                f"datastream-{ds.id}",
                f"{ds.name} (observations, OGC SensorThings API)",
                "JSON",
                f"{sta}/Datastreams({ds.id})",
                download_url=f"{sta}/Datastreams({ds.id})/Observations",
                **common,
            )
            for ds in record.datastreams
        ]
    elif record.has_sensorthings:
        out.append(Distribution("sensorthings", "OGC SensorThings API", "JSON", f"{sta}/", **common))
    return out


# --- graphs ---------------------------------------------------------------------------------------


def new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def catalog_graph(base: str, page: CatalogPage, page_url: Callable[[int], str] | None = None) -> Graph:
    """The catalogue with the datasets of `page`; `page_url(offset)` names the pages when the page
    is not the whole result (the hydra paging terms CKAN's DCAT harvester follows)."""
    graph = new_graph()
    info = page.info
    catalog = URIRef(catalog_url(base))
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, Literal(info.title)))
    graph.add((catalog, DCTERMS.description, Literal(info.description)))
    graph.add((catalog, DCTERMS.publisher, _agent(graph, base, info.publisher)))
    for code in info.languages:
        graph.add((catalog, DCTERMS.language, _language(graph, code)))
    homepage = URIRef(f"{catalog_url(base)}?f=html")
    graph.add((homepage, RDF.type, FOAF.Document))
    graph.add((catalog, FOAF.homepage, homepage))
    _date(graph, catalog, DCTERMS.issued, info.issued)
    _date(graph, catalog, DCTERMS.modified, info.modified)
    scheme = URIRef(vocab.DATA_THEME)
    graph.add((scheme, RDF.type, SKOS.ConceptScheme))
    graph.add((scheme, DCTERMS.title, Literal("Data theme", lang="en")))
    graph.add((catalog, DCAT.themeTaxonomy, scheme))
    for record in page.datasets:
        graph.add((catalog, DCAT.dataset, _dataset(graph, base, info, record)))
    for service in list(graph.subjects(RDF.type, DCAT.DataService)):
        graph.add((catalog, DCAT.service, service))
    if page_url is not None and (page.next_offset is not None or page.previous_offset is not None):
        _paging(graph, page, page_url)
    return graph


def dataset_graph(base: str, info: CatalogInfo, record: DatasetRecord) -> Graph:
    """One dataset with its distributions, publisher, contact point and the services it uses."""
    graph = new_graph()
    _dataset(graph, base, info, record)
    return graph


def _dataset(graph: Graph, base: str, info: CatalogInfo, record: DatasetRecord) -> URIRef:
    # A record harvested from a partner keeps its IRI there (DCAT-AP: a harvested dataset is not
    # given a new identity by the catalogue that republishes it).
    url = record.origin or dataset_url(base, record.id)
    node = URIRef(url)
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.title, Literal(record.title)))
    # dct:description is mandatory; a record without one is described by its title.
    graph.add((node, DCTERMS.description, Literal(record.description or record.title)))
    graph.add((node, DCTERMS.identifier, Literal(url)))
    # DCAT-AP.de requires a publisher: a dataset without one is published by the catalogue's.
    graph.add((node, DCTERMS.publisher, _agent(graph, base, record.publisher or info.publisher)))
    contact = _contact_point(graph, url, record)
    if contact is not None:
        graph.add((node, DCAT.contactPoint, contact))
    for code in record.themes:
        graph.add(
            (
                node,
                DCAT.theme,
                _concept(graph, vocab.theme_uri(code), vocab.DATA_THEME, vocab.THEMES.get(code)),
            )
        )
    for keyword in record.keywords:
        graph.add((node, DCAT.keyword, Literal(keyword)))
    _spatial(graph, node, url, record)
    _temporal(graph, node, url, record)
    frequency = _concept(
        graph,
        vocab.frequency_uri(record.update_frequency),
        vocab.FREQUENCY,
        vocab.FREQUENCIES.get(record.update_frequency),
    )
    graph.add((frequency, RDF.type, DCTERMS.Frequency))
    graph.add((node, DCTERMS.accrualPeriodicity, frequency))
    _date(graph, node, DCTERMS.issued, record.created)
    _date(graph, node, DCTERMS.modified, record.modified)
    right = vocab.access_right_code(record.access_level)
    rights = _concept(
        graph,
        vocab.access_right_uri(record.access_level),
        vocab.ACCESS_RIGHT,
        vocab.ACCESS_RIGHT_LABELS[right],
    )
    graph.add((rights, RDF.type, DCTERMS.RightsStatement))
    graph.add((node, DCTERMS.accessRights, rights))
    landing = URIRef(str(record.extra.get("landing_page") or f"{url}?f=html"))
    graph.add((landing, RDF.type, FOAF.Document))
    graph.add((node, DCAT.landingPage, landing))
    for distribution in distributions(base, record):
        graph.add((node, DCAT.distribution, _distribution(graph, base, info, url, record, distribution)))
    return node


def _distribution(
    graph: Graph, base: str, info: CatalogInfo, dataset: str, record: DatasetRecord, d: Distribution
) -> URIRef:
    node = URIRef(f"{dataset}#{d.key}")
    graph.add((node, RDF.type, DCAT.Distribution))
    graph.add((node, DCTERMS.title, Literal(d.title)))
    if d.description:
        graph.add((node, DCTERMS.description, Literal(d.description)))
    graph.add((node, DCAT.accessURL, URIRef(d.access_url)))
    if d.download_url:
        graph.add((node, DCAT.downloadURL, URIRef(d.download_url)))
    if d.file_type:
        file_type = _concept(graph, vocab.file_type_uri(d.file_type), vocab.FILE_TYPE, None)
        graph.add((file_type, RDF.type, DCTERMS.MediaTypeOrExtent))
        graph.add((node, DCTERMS.format, file_type))
    media_type = URIRef(vocab.media_type_uri(d.media_type))
    graph.add((media_type, RDF.type, DCTERMS.MediaType))
    graph.add((node, DCAT.mediaType, media_type))
    graph.add((node, DCTERMS.license, _licence(graph, record.licence)))
    if d.attribution:
        graph.add((node, DCATDE.licenseAttributionByText, Literal(d.attribution)))
    if d.conforms_to:
        graph.add((node, DCTERMS.conformsTo, _standard(graph, d.conforms_to)))
    if d.service:
        service = _service(graph, base, info, d.service)
        graph.add((node, DCAT.accessService, service))
        graph.add((service, DCAT.servesDataset, URIRef(dataset)))
    _date(graph, node, DCTERMS.modified, d.modified)
    return node


def _agent(graph: Graph, base: str, organisation: Organisation) -> URIRef:
    node = URIRef(organisation_url(base, organisation.id))
    graph.add((node, RDF.type, FOAF.Agent))
    graph.add((node, RDF.type, FOAF.Organization))
    graph.add((node, FOAF.name, Literal(organisation.title)))
    code = vocab.publisher_type(organisation.kind)
    if code is not None:
        uri = f"{vocab.PUBLISHER_TYPE_BASE}/{code}"
        concept = _concept(graph, uri, vocab.PUBLISHER_TYPE, None)
        for language, label in vocab.PUBLISHER_TYPE_LABELS.get(code, {}).items():
            graph.add((concept, SKOS.prefLabel, Literal(label, lang=language)))
        graph.add((node, DCTERMS.type, concept))
    if organisation.homepage:
        homepage = URIRef(organisation.homepage)
        graph.add((homepage, RDF.type, FOAF.Document))
        graph.add((node, FOAF.homepage, homepage))
    if organisation.email:
        graph.add((node, FOAF.mbox, URIRef(f"mailto:{organisation.email}")))
    return node


def _contact_point(graph: Graph, dataset: str, record: DatasetRecord) -> URIRef | None:
    """The dataset's contact, else its publisher's address; none when neither has a way to reach
    them (DCAT-AP.de requires an e-mail address, a URL or a telephone number of a contact)."""
    publisher = record.publisher
    email = record.contact_email or (publisher.email if publisher else None)
    homepage = publisher.homepage if publisher else None
    if not email and not homepage:
        return None
    node = URIRef(f"{dataset}#contact")
    graph.add((node, RDF.type, VCARD.Organization))
    name = record.contact_name or (publisher.title if publisher else record.title)
    graph.add((node, VCARD.fn, Literal(name)))
    if email:
        graph.add((node, VCARD.hasEmail, URIRef(f"mailto:{email}")))
    else:
        graph.add((node, VCARD.hasURL, URIRef(str(homepage))))
    return node


def _spatial(graph: Graph, node: URIRef, dataset: str, record: DatasetRecord) -> None:
    if record.bbox is not None:
        location = URIRef(f"{dataset}#spatial")
        graph.add((location, RDF.type, DCTERMS.Location))
        graph.add((location, DCAT.bbox, Literal(bbox_wkt(record.bbox), datatype=GSP.wktLiteral)))
        graph.add((node, DCTERMS.spatial, location))
    for uri in _uris(record.extra.get("political_geocoding_uri")):
        geocoding = URIRef(uri)
        graph.add((geocoding, RDF.type, DCTERMS.Location))
        graph.add((node, DCTERMS.spatial, geocoding))
        graph.add((node, DCATDE.politicalGeocodingURI, geocoding))
    for uri in _uris(record.extra.get("political_geocoding_level_uri"))[:1]:
        level = URIRef(uri)
        graph.add((level, SKOS.inScheme, URIRef(POLITICAL_GEOCODING_LEVEL)))
        graph.add((node, DCATDE.politicalGeocodingLevelURI, level))


def _temporal(graph: Graph, node: URIRef, dataset: str, record: DatasetRecord) -> None:
    if record.start is None and record.end is None:
        return
    period = URIRef(f"{dataset}#temporal")
    graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
    _date(graph, period, DCAT.startDate, record.start)
    _date(graph, period, DCAT.endDate, record.end)
    graph.add((node, DCTERMS.temporal, period))


def _service(graph: Graph, base: str, info: CatalogInfo, key: str) -> URIRef:
    node = URIRef(service_url(base, key))
    if (node, RDF.type, DCAT.DataService) in graph:
        return node
    title, path, standards = SERVICES[key]
    graph.add((node, RDF.type, DCAT.DataService))
    graph.add((node, DCTERMS.title, Literal(title)))
    graph.add((node, DCAT.endpointURL, URIRef(f"{base}{path}")))
    graph.add((node, DCAT.endpointDescription, URIRef(f"{base}/openapi.json")))
    graph.add((node, DCTERMS.publisher, _agent(graph, base, info.publisher)))
    for standard in standards:
        graph.add((node, DCTERMS.conformsTo, _standard(graph, standard)))
    return node


def _concept(graph: Graph, uri: str, scheme: str, label: str | None) -> URIRef:
    node = URIRef(uri)
    graph.add((node, RDF.type, SKOS.Concept))
    graph.add((node, SKOS.inScheme, URIRef(scheme)))
    if label:
        graph.add((node, SKOS.prefLabel, Literal(label, lang="en")))
    return node


def _language(graph: Graph, code: str) -> URIRef:
    node = _concept(graph, vocab.language_uri(code), vocab.LANGUAGE, None)
    graph.add((node, RDF.type, DCTERMS.LinguisticSystem))
    return node


def _licence(graph: Graph, code: str) -> URIRef:
    node = URIRef(vocab.licence_uri(code))
    graph.add((node, RDF.type, DCTERMS.LicenseDocument))
    graph.add((node, SKOS.inScheme, URIRef(vocab.LICENCES)))
    label = vocab.LICENCE_LABELS.get(code)
    if label:
        graph.add((node, SKOS.prefLabel, Literal(label, lang="de")))
    return node


def _standard(graph: Graph, uri: str) -> URIRef:
    node = URIRef(uri)
    graph.add((node, RDF.type, DCTERMS.Standard))
    label = vocab.STANDARD_LABELS.get(uri)
    if label:
        graph.add((node, DCTERMS.title, Literal(label)))
    return node


def _date(graph: Graph, node: URIRef, predicate: URIRef, value: datetime | None) -> None:
    if value is not None:
        graph.add((node, predicate, Literal(value.isoformat(), datatype=XSD.dateTime)))


def _paging(graph: Graph, page: CatalogPage, page_url: Callable[[int], str]) -> None:
    limit = page.query.limit
    last = max(0, (page.matched - 1) // limit * limit)
    node = URIRef(page_url(page.query.offset))
    graph.add((node, RDF.type, HYDRA.PagedCollection))
    graph.add((node, HYDRA.totalItems, Literal(page.matched, datatype=XSD.integer)))
    graph.add((node, HYDRA.itemsPerPage, Literal(limit, datatype=XSD.integer)))
    graph.add((node, HYDRA.firstPage, URIRef(page_url(0))))
    graph.add((node, HYDRA.lastPage, URIRef(page_url(last))))
    if page.next_offset is not None:
        graph.add((node, HYDRA.nextPage, URIRef(page_url(page.next_offset))))
    if page.previous_offset is not None:
        graph.add((node, HYDRA.previousPage, URIRef(page_url(page.previous_offset))))


def bbox_wkt(bbox: tuple[float, float, float, float]) -> str:
    """A bounding box (CRS84: longitude, latitude) as a WKT polygon, the GeoDCAT-AP way."""
    minx, miny, maxx, maxy = (_number(v) for v in bbox)
    ring = f"{minx} {miny}, {maxx} {miny}, {maxx} {maxy}, {minx} {maxy}, {minx} {miny}"
    return f"POLYGON(({ring}))"


def _number(value: float) -> str:
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(float(value))


def _uris(value: Any) -> list[str]:
    values: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    return [str(v) for v in values if isinstance(v, str) and v.startswith(("http://", "https://"))]
