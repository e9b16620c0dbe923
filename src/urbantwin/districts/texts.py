"""The district profiles' user-visible texts, in German and English (plurals included).

Answers carry codes (`buildings`, `area`, `growing`) and, beside them, the texts of both languages
(`labels`, `notes`), so a client shows them in its reader's language without a table of its own.
"""

from __future__ import annotations

from urbantwin.texts import LANGUAGES as LANGUAGES  # the languages of its texts, for its readers
from urbantwin.texts import Vocabulary

#: What each figure is called.
FIGURES = Vocabulary(
    {
        "area_km2": {"en": "Area (km²)", "de": "Fläche (km²)"},
        "population": {"en": "Residents", "de": "Einwohner"},
        "density": {"en": "Residents per km²", "de": "Einwohner je km²"},
        "trend": {"en": "Population trend", "de": "Bevölkerungsentwicklung"},
        "buildings": {"en": "Buildings", "de": "Gebäude"},
        "footprint_m2": {"en": "Built-over area (m²)", "de": "Überbaute Fläche (m²)"},
        "floor_area_m2": {"en": "Floor area (m²)", "de": "Geschossfläche (m²)"},
        "trees": {"en": "Street trees", "de": "Straßenbäume"},
        "trees_per_inhabitant": {"en": "Trees per resident", "de": "Bäume je Einwohner"},
        "charging": {"en": "EV charging points", "de": "Ladepunkte für E-Fahrzeuge"},
        "charging_per_1000": {
            "en": "EV charging points per 1,000 residents",
            "de": "Ladepunkte je 1.000 Einwohner",
        },
        "wlan": {"en": "WLAN sites", "de": "WLAN-Standorte"},
        "stops": {"en": "Public-transport stops", "de": "Haltestellen des ÖPNV"},
        "departures_per_hour": {
            "en": "Departures per hour (weekday 06:00–20:00)",
            "de": "Abfahrten je Stunde (werktags 06–20 Uhr)",
        },
        "sensors": {"en": "Sensor means", "de": "Mittelwerte der Sensoren"},
        "access": {"en": "Access to public transport", "de": "ÖV-Erschließung"},
        "quality_class": {"en": "Public-transport quality class", "de": "ÖV-Güteklasse"},
    },
    name="figures",
)

#: What a profile's sensor mean is (the latest value of each sensor inside the district, averaged).
SENSOR_MEAN = {
    "en": "mean of the latest value of each sensor inside the district",
    "de": "Mittel der jeweils neuesten Werte der Sensoren im Gebiet",
}

TRENDS = Vocabulary(
    {
        "growing": {"en": "growing", "de": "wachsend"},
        "shrinking": {"en": "shrinking", "de": "schrumpfend"},
        "stable": {"en": "stable", "de": "stabil"},
    },
    name="trends",
)

#: How residents were placed (the access result's `method` per district).
PLACEMENT = Vocabulary(
    {
        "buildings": {
            "en": "residents placed on the residential floor area of the buildings",
            "de": "Einwohner auf die Wohngeschossfläche der Gebäude verteilt",
        },
        "area": {
            "en": "residents spread evenly over the district's area (buildings missing or incomplete)",
            "de": "Einwohner gleichmäßig über die Fläche verteilt (Gebäude fehlen oder sind unvollständig)",
        },
        "mixed": {
            "en": "residents placed on buildings in part of the district, spread over the area elsewhere",
            "de": "Einwohner teils auf Gebäude verteilt, teils gleichmäßig über die Fläche",
        },
        "none": {"en": "no residents known", "de": "keine Einwohnerzahl bekannt"},
    },
    name="placement",
)


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def left_out(kind: str, count: int) -> dict[str, str]:
    """The note that `count` collections of a kind were left out since the caller may not read them."""
    label = FIGURES[kind]
    return {
        "en": f"{label['en']}: {count} "
        + _plural(count, "dataset you may not read was", "datasets you may not read were")
        + " left out",
        "de": f"{label['de']}: {count} "
        + _plural(
            count,
            "Datensatz, den Sie nicht lesen dürfen, wurde",
            "Datensätze, die Sie nicht lesen dürfen, wurden",
        )
        + " nicht berücksichtigt",
    }


def no_data(kind: str) -> dict[str, str]:
    """The note that no collection of a kind is in the store."""
    label = FIGURES[kind]
    return {"en": f"{label['en']}: no data", "de": f"{label['de']}: keine Daten"}


def partial(kind: str, percent: int) -> dict[str, str]:
    """The note that a layer's data covers only part of the district."""
    label = FIGURES[kind]
    return {
        "en": f"{label['en']}: the data covers {percent} % of the district's area",
        "de": f"{label['de']}: die Daten decken {percent} % der Fläche ab",
    }


def unknown_property(name: str) -> dict[str, str]:
    return {
        "en": f"Sensor means: no ObservedProperty {name!r}",
        "de": f"Mittelwerte der Sensoren: keine beobachtete Größe {name!r}",
    }


def access_method(every_stop: bool) -> dict[str, dict[str, str]]:
    """How the access figures are computed: distance, departures, quality classes."""
    departures = {
        "en": "departures 06:00-20:00 on each feed's typical weekday ÷ 14 h",
        "de": "Abfahrten 06-20 Uhr am typischen Werktag jedes Fahrplans ÷ 14 h",
    }
    if every_stop:
        departures = {
            "en": departures["en"] + "; every stop counts (min_departures=0), with or without a timetable",
            "de": departures["de"] + "; jede Haltestelle zählt (min_departures=0), mit oder ohne Fahrplan",
        }
    return {
        "distance": {
            "en": "straight line in the city's metric CRS × the detour factor for the radii; straight line "
            "for the quality classes (as ARE 2022 defines them)",
            "de": "Luftlinie im metrischen Bezugssystem der Stadt × Umwegfaktor für die Radien; Luftlinie "
            "für die Güteklassen (wie ARE 2022 sie definiert)",
        },
        "departures": departures,
        "quality_classes": {
            "en": "public-transport quality classes after Bundesamt für Raumentwicklung ARE (2022), "
            "ÖV-Güteklassen, Berechnungsmethodik ARE, Grundlagenbericht",
            "de": "ÖV-Güteklassen nach Bundesamt für Raumentwicklung ARE (2022), "
            "Berechnungsmethodik ARE, Grundlagenbericht",
        },
    }


#: The inputs of a figure "as of" a year: the residents, the layers, the timetables.
AS_OF = Vocabulary(
    {
        "historic": {
            "en": "as of {year} (the data's validity in time)",
            "de": "Stand {year} (Gültigkeit in den Daten)",
        },
        "today": {
            "en": "today's data (no history in the data)",
            "de": "heutiger Stand (keine Historie in den Daten)",
        },
        "network": {
            "en": "today's network (no history in the data)",
            "de": "heutiges Netz (keine Historie in den Daten)",
        },
        "timetables": {
            "en": "the timetables in service in {year}",
            "de": "die {year} gültigen Fahrpläne",
        },
        "residents": {"en": "{year} (population series)", "de": "{year} (Bevölkerungsreihe)"},
        "residents_nearest": {
            "en": "{chosen}, the nearest year of the population series to {year}",
            "de": "{chosen}, das {year} nächste Jahr der Bevölkerungsreihe",
        },
        "none": {"en": "no data", "de": "keine Daten"},
    },
    name="as_of",
)


def as_of_input(kind: str, state: str, **values: object) -> dict[str, str]:
    """The label of one input of a figure as of a year: "Buildings: as of 2015 (…)",
    "Public-transport stops: today's network (no history in the data)"."""
    name = FIGURES[kind]
    text = AS_OF[state]
    return {lang: f"{name[lang]}: {text[lang].format(**values)}" for lang in ("en", "de")}
