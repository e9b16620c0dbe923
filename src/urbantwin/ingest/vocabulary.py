"""What the sensor connectors call things: units, observed properties, observation types.

One vocabulary for every connector and the demo, so that each names a quantity the same way and
an import joins the entities another one made (an ObservedProperty is found by its `definition`):

* units by their UCUM code (`UNITS`), and how files spell them (`unit_code`);
* observed properties (`OBSERVED_PROPERTIES`): air pollutants from the EEA pollutant vocabulary,
  weather quantities from the CF standard names, each with a short label and its usual unit; the
  name of each is its canonical English one, and `properties.labels` holds its name per language
  (`LANGUAGES`), which the viewer shows in the language it is in;
  `component_code` maps the component names of station files to them;
* the O&M observation types a Datastream declares (`OM_MEASUREMENT`, `OM_COUNT_OBSERVATION`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from urbantwin.texts import LANGUAGES

JSON = dict[str, Any]

__all__ = [
    "GEOJSON",
    "LANGUAGES",
    "OBSERVED_PROPERTIES",
    "OM_COUNT_OBSERVATION",
    "OM_MEASUREMENT",
    "STATION_COMPONENTS",
    "UNITS",
    "Quantity",
    "component_code",
    "unit_code",
]


#: The encodingType of a Location given as GeoJSON.
GEOJSON = "application/geo+json"

#: O&M 2.0 observation types (`Datastream.observationType`).
OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
OM_MEASUREMENT = OM + "OM_Measurement"
OM_COUNT_OBSERVATION = OM + "OM_CountObservation"

_UCUM = "http://www.opengis.net/def/uom/UCUM/0/"


def _unit(name: str, symbol: str, ucum: str) -> JSON:
    return {"name": name, "symbol": symbol, "definition": _UCUM + quote(ucum, safe="")}


#: Units by their UCUM code; `symbol` is what people read, `definition` the UCUM code as a URI.
UNITS: dict[str, JSON] = {
    "ug/m3": _unit("microgram per cubic metre", "µg/m³", "ug/m3"),
    "mg/m3": _unit("milligram per cubic metre", "mg/m³", "mg/m3"),
    "ng/m3": _unit("nanogram per cubic metre", "ng/m³", "ng/m3"),
    "Cel": _unit("degree Celsius", "°C", "Cel"),
    "%": _unit("percent", "%", "%"),
    "Pa": _unit("pascal", "Pa", "Pa"),
    "hPa": _unit("hectopascal", "hPa", "hPa"),
}
#: How units are spelt in files (normalised: lower case, µ as u, ³ as 3, `_` as `/`) -> UCUM code.
_UNIT_SPELLINGS = {
    "ug/m3": "ug/m3",
    "mg/m3": "mg/m3",
    "ng/m3": "ng/m3",
    "cel": "Cel",
    "°c": "Cel",
    "degc": "Cel",
    "%": "%",
    "pa": "Pa",
    "hpa": "hPa",
}


def unit_code(text: str) -> str | None:
    """The UCUM code of a unit as written in a file (`µg/m³`, `ug_m3`, `[µg/m3]`), or None."""
    spelt = text.strip().strip("[]()").strip().lower().replace("µ", "u").replace("μ", "u")
    spelt = spelt.replace("³", "3").replace("_", "/").replace(" ", "")
    return _UNIT_SPELLINGS.get(spelt)


@dataclass(frozen=True)
class Quantity:
    """An observed property with its short label (used in names) and usual unit."""

    code: str
    label: str
    observed_property: JSON
    unit: str

    @property
    def labels(self) -> dict[str, str]:
        """The observed property's name per language (`properties.labels` of the ObservedProperty)."""
        return self.observed_property["properties"]["labels"]


_EEA = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
_CF = "http://vocab.nerc.ac.uk/standard_name/"


def _quantity(
    code: str, label: str, names: tuple[str, str], definition: str, description: str, unit: str = "ug/m3"
) -> Quantity:
    """`names`: in English (the ObservedProperty's name) and in German."""
    english, german = names
    observed = {
        "name": english,
        "definition": definition,
        "description": description,
        "properties": {"labels": {"de": german, "en": english}},
    }
    return Quantity(code, label, observed, unit)


#: Every observed property the connectors map to, by code.
OBSERVED_PROPERTIES: dict[str, Quantity] = {
    quantity.code: quantity
    for quantity in [
        _quantity(
            "no2",
            "NO2",
            ("Nitrogen dioxide (NO2)", "Stickstoffdioxid (NO2)"),
            _EEA + "8",
            "Mass concentration of nitrogen dioxide in air",
        ),
        _quantity(
            "no",
            "NO",
            ("Nitrogen monoxide (NO)", "Stickstoffmonoxid (NO)"),
            _EEA + "38",
            "Mass concentration of nitrogen monoxide in air",
        ),
        _quantity("o3", "O3", ("Ozone (O3)", "Ozon (O3)"), _EEA + "7", "Mass concentration of ozone in air"),
        _quantity(
            "so2",
            "SO2",
            ("Sulphur dioxide (SO2)", "Schwefeldioxid (SO2)"),
            _EEA + "1",
            "Mass concentration of sulphur dioxide in air",
        ),
        _quantity(
            "pm10",
            "PM10",
            ("Particulate matter < 10 µm (PM10)", "Feinstaub < 10 µm (PM10)"),
            _EEA + "5",
            "Mass concentration of PM10 aerosol",
        ),
        _quantity(
            "pm25",
            "PM2.5",
            ("Particulate matter < 2.5 µm (PM2.5)", "Feinstaub < 2,5 µm (PM2,5)"),
            _EEA + "6001",
            "Mass concentration of PM2.5 aerosol",
        ),
        _quantity(
            "ben",
            "Benzene",
            ("Benzene (C6H6)", "Benzol (C6H6)"),
            _EEA + "20",
            "Mass concentration of benzene in air",
        ),
        _quantity(
            "co",
            "CO",
            ("Carbon monoxide (CO)", "Kohlenmonoxid (CO)"),
            _EEA + "10",
            "Mass concentration of carbon monoxide in air",
            "mg/m3",
        ),
        _quantity(
            "nox",
            "NOx",
            ("Nitrogen oxides (NOx)", "Stickstoffoxide (NOx)"),
            _EEA + "9",
            "Mass concentration of nitrogen oxides in air, expressed as NO2",
            "ug/m3",
        ),
        _quantity(
            "pm1",
            "PM1",
            ("Particulate matter < 1 µm (PM1)", "Feinstaub < 1 µm (PM1)"),
            _EEA + "6002",
            "Mass concentration of PM1 aerosol",
            "ug/m3",
        ),
        _quantity(
            "air_temperature",
            "Temperature",
            ("Air temperature", "Lufttemperatur"),
            _CF + "air_temperature/",
            "Temperature of the air (CF standard name air_temperature)",
            "Cel",
        ),
        _quantity(
            "relative_humidity",
            "Humidity",
            ("Relative humidity", "Relative Luftfeuchte"),
            _CF + "relative_humidity/",
            "Relative humidity of the air (CF standard name relative_humidity)",
            "%",
        ),
        _quantity(
            "air_pressure",
            "Pressure",
            ("Air pressure", "Luftdruck"),
            _CF + "air_pressure/",
            "Pressure of the air at the sensor (CF standard name air_pressure)",
            "Pa",
        ),
        _quantity(
            "air_pressure_at_sea_level",
            "Pressure (sea level)",
            ("Air pressure at mean sea level", "Luftdruck auf Meereshöhe"),
            _CF + "air_pressure_at_mean_sea_level/",
            "Air pressure reduced to mean sea level (CF standard name air_pressure_at_mean_sea_level)",
            "Pa",
        ),
    ]
}

#: Component names in station files (normalised: lower case, no spaces, dots, commas or dashes)
#: -> observed property code.
STATION_COMPONENTS: dict[str, str] = {
    "no2": "no2",
    "stickstoffdioxid": "no2",
    "no": "no",
    "stickstoffmonoxid": "no",
    "nox": "nox",
    "o3": "o3",
    "ozon": "o3",
    "ozone": "o3",
    "so2": "so2",
    "schwefeldioxid": "so2",
    "pm10": "pm10",
    "pm25": "pm25",
    "pm1": "pm1",
    "ben": "ben",
    "benzol": "ben",
    "benzene": "ben",
    "c6h6": "ben",
    "co": "co",
    "kohlenmonoxid": "co",
}


@lru_cache(maxsize=1024)
def component_code(text: str) -> str | None:
    spelt = text.strip().lower()
    for char in " .,-_":
        spelt = spelt.replace(char, "")
    return STATION_COMPONENTS.get(spelt)
