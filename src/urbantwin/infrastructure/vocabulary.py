"""The words of the site registry: technologies, carriers and co-use slot states, with their labels
in German and English, and the spellings of operators' lists they are read from."""

from __future__ import annotations

from typing import Any

from urbantwin.texts import Text, Vocabulary

#: Technology code -> labels.
TECHNOLOGIES = Vocabulary(
    {
        "wlan": {"de": "WLAN-Hotspot", "en": "Wi-Fi hotspot"},
        "5g_small_cell": {"de": "5G-Kleinzelle", "en": "5G small cell"},
        "lorawan_gateway": {"de": "LoRaWAN-Gateway", "en": "LoRaWAN gateway"},
        "sensor_gateway": {"de": "Sensor-Gateway", "en": "Sensor gateway"},
    },
    name="technologies",
)

#: Carrier (what the equipment is mounted on) code -> labels.
CARRIERS = Vocabulary(
    {
        "roof": {"de": "Dach", "en": "Roof"},
        "lamp_post": {"de": "Lichtmast", "en": "Lamp post"},
        "stop_shelter": {"de": "Wartehalle", "en": "Stop shelter"},
        "building": {"de": "Gebäude", "en": "Building"},
        "other": {"de": "Sonstiger Träger", "en": "Other carrier"},
    },
    name="carriers",
)

#: State of a co-use slot -> labels.
SLOT_STATES = Vocabulary(
    {
        "free": {"de": "frei", "en": "free"},
        "occupied": {"de": "belegt", "en": "occupied"},
        "reserved": {"de": "reserviert", "en": "reserved"},
        "planned": {"de": "geplant", "en": "planned"},
    },
    name="slot_states",
)

#: Spellings met in operators' lists (lower case) -> code, beside the codes and their labels.
_SPELLINGS: dict[str, str] = {
    "wifi": "wlan",
    "wi-fi": "wlan",
    "hotspot": "wlan",
    "5g": "5g_small_cell",
    "small cell": "5g_small_cell",
    "kleinzelle": "5g_small_cell",
    "lora": "lorawan_gateway",
    "lorawan": "lorawan_gateway",
    "mast": "lamp_post",
    "laternenmast": "lamp_post",
    "lichtmast": "lamp_post",
    "laterne": "lamp_post",
    "haltestelle": "stop_shelter",
    "bus shelter": "stop_shelter",
    "dach": "roof",
    "gebäude": "building",
    "fassade": "building",
    "belegt": "occupied",
    "frei": "free",
    "reserviert": "reserved",
    "geplant": "planned",
    "used": "occupied",
}

_TRUE = {"true", "yes", "ja", "j", "y", "1", "x", "vorhanden", "available"}
_FALSE = {"false", "no", "nein", "n", "0", "", "-", "nicht vorhanden", "none"}


def code_of(value: Any, vocabulary: Vocabulary, extra: dict[str, str] | None = None) -> str | None:
    """The code of `value` in `vocabulary` (its code, a label in either language, a known spelling or
    one of `extra`, the mapping's own), else None."""
    if value is None:
        return None
    lowered = str(value).strip().lower()
    if extra:
        for spelling, code in extra.items():
            if spelling.strip().lower() == lowered:
                return code
    named = vocabulary.code_of(lowered)
    if named is not None:
        return named
    spelt = _SPELLINGS.get(lowered)
    return spelt if spelt in vocabulary else None


def flag(value: Any) -> bool | None:
    """A yes/no value of a list (true/false, ja/nein, x, 1/0); None when empty or unknown."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE and lowered:
        return False
    return None


def labels(technology: str | None, carrier: str | None) -> dict[str, Text]:
    """The German and English labels of a site's technology and carrier."""
    out: dict[str, Text] = {}
    if technology is not None and technology in TECHNOLOGIES:
        out["technology"] = TECHNOLOGIES[technology]
    if carrier is not None and carrier in CARRIERS:
        out["carrier"] = CARRIERS[carrier]
    return out


#: How a district's residents were placed on the coverage grid (`population.place_people`).
PLACEMENTS = Vocabulary(
    {
        "buildings": {
            "de": "auf Wohngebäuden nach Geschossfläche",
            "en": "on residential buildings by floor area",
        },
        "spread": {"de": "gleichmäßig über die Fläche verteilt", "en": "spread evenly over the area"},
    },
    name="placements",
)

#: The siting methods.
SITING_METHODS = Vocabulary(
    {
        "greedy": {"de": "Greedy-Auswahl", "en": "Greedy choice"},
        "exact": {"de": "Exakte Lösung (ganzzahliges Programm)", "en": "Exact solution (integer programme)"},
    },
    name="siting_methods",
)
