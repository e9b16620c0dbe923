"""The controlled vocabularies DCAT-AP.de 3.0 prescribes, as the codes the store keeps and their URIs.

The store keeps short codes (a theme "ENVI", a licence "dl-by-de/2.0", a frequency "HOURLY", an
access level "open"); the catalogue turns them into the URIs of the vocabularies here, and labels
them for the HTML view and the facets. A code not listed still becomes a URI of its vocabulary
(the EU tables grow), only without a label.
"""

from __future__ import annotations

from urbantwin.store.access_schema import organisation_kind

DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme"
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency"
ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type"
LANGUAGE = "http://publications.europa.eu/resource/authority/language"
LICENCES = "http://dcat-ap.de/def/licenses"
PUBLISHER_TYPE = "http://purl.org/adms/publishertype/1.0"
PUBLISHER_TYPE_BASE = "http://purl.org/adms/publishertype"
IANA_MEDIA_TYPES = "http://www.iana.org/assignments/media-types"

#: The EU data themes (DCAT-AP), English labels of the Publications Office's table.
THEMES = {
    "AGRI": "Agriculture, fisheries, forestry and food",
    "ECON": "Economy and finance",
    "EDUC": "Education, culture and sport",
    "ENER": "Energy",
    "ENVI": "Environment",
    "GOVE": "Government and public sector",
    "HEAL": "Health",
    "INTR": "International issues",
    "JUST": "Justice, legal system and public safety",
    "OP_DATPRO": "Provisional data",
    "REGI": "Regions and cities",
    "SOCI": "Population and society",
    "TECH": "Science and technology",
    "TRAN": "Transport",
}

#: The EU data themes' German labels (the Publications Office's table).
THEMES_DE = {
    "AGRI": "Landwirtschaft, Fischerei, Forstwirtschaft und Nahrungsmittel",
    "ECON": "Wirtschaft und Finanzen",
    "EDUC": "Bildung, Kultur und Sport",
    "ENER": "Energie",
    "ENVI": "Umwelt",
    "GOVE": "Regierung und öffentlicher Sektor",
    "HEAL": "Gesundheit",
    "INTR": "Internationale Themen",
    "JUST": "Justiz, Rechtssystem und öffentliche Sicherheit",
    "OP_DATPRO": "Vorläufige Daten",
    "REGI": "Regionen und Städte",
    "SOCI": "Bevölkerung und Gesellschaft",
    "TECH": "Wissenschaft und Technologie",
    "TRAN": "Verkehr",
}

#: EU frequencies the platform's datasets use.
FREQUENCIES = {
    "CONT": "continuous",
    "UPDATE_CONT": "continuously updated",
    "1MIN": "every minute",
    "10MIN": "every ten minutes",
    "15MIN": "every fifteen minutes",
    "30MIN": "every thirty minutes",
    "HOURLY": "hourly",
    "DAILY": "daily",
    "WEEKLY": "weekly",
    "MONTHLY": "monthly",
    "QUARTERLY": "quarterly",
    "ANNUAL": "annual",
    "IRREG": "irregular",
    "NEVER": "never",
    "UNKNOWN": "unknown",
}

FREQUENCIES_DE = {
    "CONT": "kontinuierlich",
    "UPDATE_CONT": "laufend aktualisiert",
    "1MIN": "minütlich",
    "10MIN": "alle zehn Minuten",
    "15MIN": "alle fünfzehn Minuten",
    "30MIN": "alle dreißig Minuten",
    "HOURLY": "stündlich",
    "DAILY": "täglich",
    "WEEKLY": "wöchentlich",
    "MONTHLY": "monatlich",
    "QUARTERLY": "vierteljährlich",
    "ANNUAL": "jährlich",
    "IRREG": "unregelmäßig",
    "NEVER": "nie",
    "UNKNOWN": "unbekannt",
}

#: Access levels of the platform (see access/policy.py) onto the EU access-right table: open data
#: is PUBLIC; data behind a sign-in or a partnership is RESTRICTED; an organisation's own is
#: NON_PUBLIC.
ACCESS_RIGHTS = {
    "open": "PUBLIC",
    "registered": "RESTRICTED",
    "partner": "RESTRICTED",
    "internal": "NON_PUBLIC",
}
ACCESS_LEVEL_LABELS = {
    "open": "Open data",
    "registered": "Registered users",
    "partner": "Partners",
    "internal": "Internal",
}
ACCESS_LEVEL_LABELS_DE = {
    "open": "Offene Daten",
    "registered": "Registrierte Nutzer",
    "partner": "Partner",
    "internal": "Intern",
}
ACCESS_RIGHT_LABELS = {"PUBLIC": "public", "RESTRICTED": "restricted", "NON_PUBLIC": "non-public"}

#: Kinds of organisation (store/access_schema.py) onto the ADMS publisher types that DCAT-AP.de
#: prescribes for a publisher's `dct:type`. A municipal company is a company to ADMS.
PUBLISHER_TYPES = {
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
}
#: The ADMS publisher types' labels, in English (the vocabulary's own) and German.
PUBLISHER_TYPE_LABELS = {
    "LocalAuthority": {"en": "Local Authority", "de": "Kommunalverwaltung"},
    "RegionalAuthority": {"en": "Regional Authority", "de": "Regionale Behörde"},
    "NationalAuthority": {"en": "National Authority", "de": "Nationale Behörde"},
    "SupraNationalAuthority": {"en": "Supra-national authority", "de": "Supranationale Behörde"},
    "Company": {"en": "Company", "de": "Unternehmen"},
    "Academia-ScientificOrganisation": {
        "en": "Academia/Scientific organisation",
        "de": "Hochschule/Wissenschaftliche Einrichtung",
    },
    "NonGovernmentalOrganisation": {
        "en": "Non-Governmental Organisation",
        "de": "Nichtregierungsorganisation",
    },
    "NonProfitOrganisation": {"en": "Non-Profit Organisation", "de": "Gemeinnützige Organisation"},
    "IndustryConsortium": {"en": "Industry consortium", "de": "Industriekonsortium"},
    "StandardisationBody": {"en": "Standardisation body", "de": "Normungsorganisation"},
    "PrivateIndividual(s)": {"en": "Private Individual(s)", "de": "Privatperson(en)"},
}
#: What the catalogue's HTML view calls each kind of organisation, by language.
ORGANISATION_KIND_LABELS = {
    "local-authority": {"en": "Local authority", "de": "Kommunalverwaltung"},
    "regional-authority": {"en": "Regional (state) authority", "de": "Landesbehörde"},
    "national-authority": {"en": "National (federal) authority", "de": "Bundesbehörde"},
    "supranational-authority": {"en": "Supranational authority", "de": "Supranationale Behörde"},
    "municipal-company": {"en": "Municipal company", "de": "Kommunales Unternehmen"},
    "company": {"en": "Company", "de": "Unternehmen"},
    "research": {"en": "Research and academia", "de": "Wissenschaft und Forschung"},
    "ngo": {"en": "Non-governmental organisation", "de": "Nichtregierungsorganisation"},
    "non-profit": {"en": "Non-profit organisation", "de": "Gemeinnützige Organisation"},
    "industry-consortium": {"en": "Industry consortium", "de": "Industriekonsortium"},
    "standardisation-body": {"en": "Standardisation body", "de": "Normungsorganisation"},
    "private-individual": {"en": "Private individual", "de": "Privatperson"},
}
#: Languages the labels above are given in; the first is the fallback.
LABEL_LANGUAGES = ("en", "de")


#: Licences of the DCAT-AP.de vocabulary that cities use most, with their German titles.
LICENCE_LABELS = {
    "dl-by-de/2.0": "Datenlizenz Deutschland – Namensnennung – Version 2.0",
    "dl-zero-de/2.0": "Datenlizenz Deutschland – Zero – Version 2.0",
    "cc-by/4.0": "Creative Commons Namensnennung – 4.0 International (CC BY 4.0)",
    "cc-by-sa/4.0": (
        "Creative Commons Namensnennung – Weitergabe unter gleichen Bedingungen 4.0 International"
    ),
    "cc-zero": "Creative Commons CC Zero License (cc-zero)",
    "odbl": "Open Data Commons Open Database License (ODbL)",
    "other-open": "Andere offene Lizenz",
    "other-closed": "Andere geschlossene Lizenz",
}

#: File types of distributions: the platform's format code -> (EU file-type code or None, IANA media
#: type, label). The EU file-type table has no entry we could confirm for Mapbox Vector Tiles, so
#: those distributions carry their IANA media type only (dct:format is optional, a wrong code not).
FORMATS: dict[str, tuple[str | None, str, str]] = {
    "GEOJSON": ("GEOJSON", "application/geo+json", "GeoJSON"),
    "HTML": ("HTML", "text/html", "HTML"),
    "MVT": (None, "application/vnd.mapbox-vector-tile", "Mapbox Vector Tiles"),
    "JSON": ("JSON", "application/json", "JSON (SensorThings API)"),
}

#: Standards the distributions conform to (dct:conformsTo).
OGC_STA_1_1 = "http://www.opengis.net/spec/iot_sensing/1.1"
OGC_API_FEATURES_1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0"
OGC_API_TILES_1 = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0"
STANDARD_LABELS = {
    OGC_STA_1_1: "OGC SensorThings API 1.1 Part 1: Sensing",
    OGC_API_FEATURES_1: "OGC API - Features - Part 1: Core 1.0",
    OGC_API_TILES_1: "OGC API - Tiles - Part 1: Core 1.0",
}


def theme_uri(code: str) -> str:
    return f"{DATA_THEME}/{code}"


def frequency_uri(code: str) -> str:
    return f"{FREQUENCY}/{code}"


def access_right_code(level: str) -> str:
    """The EU access right of an access level; an unknown level is taken as the most closed."""
    return ACCESS_RIGHTS.get(level, "NON_PUBLIC")


def access_right_uri(level: str) -> str:
    return f"{ACCESS_RIGHT}/{access_right_code(level)}"


def licence_uri(code: str) -> str:
    """The DCAT-AP.de licence URI of a code; a code that already is a URI stays as it is."""
    if code.startswith(("http://", "https://")):
        return code
    return f"{LICENCES}/{code}"


def licence_label(code: str) -> str:
    return LICENCE_LABELS.get(code, code)


def file_type_uri(code: str) -> str:
    return f"{FILE_TYPE}/{code}"


def media_type_uri(media_type: str) -> str:
    return f"{IANA_MEDIA_TYPES}/{media_type}"


def language_uri(code: str) -> str:
    return f"{LANGUAGE}/{code}"


def publisher_type(kind: str) -> str | None:
    """The ADMS publisher type of an organisation kind (a former kind's name taken too)."""
    return PUBLISHER_TYPES.get(organisation_kind(kind))


def publisher_type_uri(kind: str) -> str | None:
    code = publisher_type(kind)
    return f"{PUBLISHER_TYPE_BASE}/{code}" if code else None


def theme_label(code: str, language: str = "en") -> str:
    return (THEMES_DE if language == "de" else THEMES).get(code, code)


def frequency_label(code: str, language: str = "en") -> str:
    return (FREQUENCIES_DE if language == "de" else FREQUENCIES).get(code, "")


def access_level_label(level: str, language: str = "en") -> str:
    return (ACCESS_LEVEL_LABELS_DE if language == "de" else ACCESS_LEVEL_LABELS).get(level, level)


def organisation_kind_label(kind: str, language: str = "en") -> str:
    """What an organisation kind is called in `language` ("en" or "de"); an unknown kind as it is."""
    labels = ORGANISATION_KIND_LABELS.get(organisation_kind(kind))
    if labels is None:
        return kind
    return labels.get(language, labels[LABEL_LANGUAGES[0]])
