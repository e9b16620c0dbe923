"""The assessment's user-visible texts, in German and English (plurals included).

The API answers carry the verdict's code (`met`, `exceeded`, `insufficient_data`, `no_data`) and
its sentence in both languages, so that a client shows it in its reader's language without a table
of its own; the CSV report carries both columns.
"""

from __future__ import annotations

from urbantwin.airquality.engine import Check
from urbantwin.texts import Vocabulary, plural, text

VERDICTS = Vocabulary(
    {
        "met": {"en": "met", "de": "eingehalten"},
        "exceeded": {"en": "exceeded", "de": "überschritten"},
        "insufficient_data": {"en": "insufficient data", "de": "unzureichende Datenbasis"},
        "no_data": {"en": "no data", "de": "keine Daten"},
    },
    name="verdicts",
)

STATISTICS = Vocabulary(
    {
        "hour": {"en": "hourly mean", "de": "Stundenmittelwert"},
        "day": {"en": "daily mean", "de": "Tagesmittelwert"},
        "year": {"en": "annual mean", "de": "Jahresmittelwert"},
        "max8h": {"en": "maximum daily 8-hour mean", "de": "höchster 8-Stunden-Mittelwert des Tages"},
    },
    name="statistics",
)

KINDS = Vocabulary(
    {
        "limit value": {"en": "limit value", "de": "Grenzwert"},
        "target value": {"en": "target value", "de": "Zielwert"},
        "guideline level": {"en": "guideline level", "de": "Richtwert"},
    },
    name="kinds",
)

#: The unit a statistic's exceedances are counted in, singular and plural (German in the dative:
#: "an 3 Tagen").
_UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "hour": {"en": ("hour", "hours"), "de": ("Stunde", "Stunden")},
    "day": {"en": ("day", "days"), "de": ("Tag", "Tagen")},
    "max8h": {"en": ("day", "days"), "de": ("Tag", "Tagen")},
}


def _number(value: float, language: str) -> str:
    shown = f"{value:.1f}"
    return shown.replace(".", ",") if language == "de" else shown


def _times(count: int, language: str) -> str:
    """ "once", "3 times" / "einmal", "3-mal"."""
    return plural(count, en=("once", "{n} times"), de=("einmal", "{n}-mal"))[language]


def _on(count: int, statistic: str, language: str) -> str:
    word = plural(count, **_UNITS[statistic])[language]
    if language == "de":
        return f"an {count} {word}" if statistic != "hour" else f"in {count} {word}"
    return f"on {count} {word}" if statistic != "hour" else f"in {count} {word}"


def describe(check: Check, language: str) -> str:
    """One sentence saying what was found and why the verdict is what it is."""
    de = language == "de"
    value = check.value
    level = f"{_number(value.level, language)} µg/m³"
    coverage = check.coverage
    share = f"{coverage.fraction * 100:.0f} %" if coverage is not None else ""
    needed = f"{coverage.required * 100:.0f} %" if coverage is not None else ""
    if check.verdict == "no_data":
        return "Keine gültigen Messwerte in diesem Jahr." if de else "No valid measurements in this year."
    if value.statistic == "year":
        if check.annual_mean is None:
            return (
                f"Datenerfassung {share}, mindestens {needed} nötig: kein gültiger Jahresmittelwert."
                if de
                else f"Data capture {share}, at least {needed} needed: no valid annual mean."
            )
        mean = f"{_number(check.annual_mean, language)} µg/m³"
        relation = ">" if check.verdict == "exceeded" else "≤"
        return (
            f"Jahresmittelwert {mean} {relation} {level}."
            if de
            else f"Annual mean {mean} {relation} {level}."
        )
    found = check.exceedances or 0
    permitted = value.permitted or 0
    allowed = _times(permitted, language)
    where = _on(found, value.statistic, language)
    if check.averaged is not None:
        years = len(check.years)
        mean = _number(check.averaged, language)
        if de:
            span = "im gültigen Jahr" if years == 1 else f"im Mittel der {years} gültigen Jahre"
            return f"{mean} Überschreitungstage von {level} {span}; zulässig: {permitted}."
        span = "in the valid year" if years == 1 else f"averaged over {years} valid years"
        return f"{mean} days above {level} {span}; permitted: {permitted}."
    if check.verdict == "insufficient_data" and found == 0:
        if de:
            return (
                f"{level} in den gültigen Daten nicht überschritten (zulässig: {allowed}), aber die "
                f"Datenerfassung von {share} erreicht nicht die nötigen {needed}."
            )
        return (
            f"{level} not exceeded in the valid data (permitted: {allowed}), but data capture of {share} is "
            f"below the {needed} needed."
        )
    if check.verdict == "insufficient_data":
        if de:
            return (
                f"{level} {where} überschritten (zulässig: {allowed}), aber die Datenerfassung von "
                f"{share} erreicht nicht die nötigen {needed}: es können mehr sein."
            )
        return (
            f"{level} exceeded {where} (permitted: {allowed}), but data capture of {share} is below the "
            f"{needed} needed: there may be more."
        )
    if de:
        return f"{level} {where} überschritten; zulässig: {allowed}."
    return f"{level} exceeded {where}; permitted: {allowed}."


#: The low-cost sensor checks' flags (`sensors.FLAGS`), as a reader sees them.
FLAG_LABELS = Vocabulary(
    {
        "out_of_range": {"en": "outside the sensor's range", "de": "außerhalb des Messbereichs"},
        "spike": {"en": "spike", "de": "Ausreißerspitze"},
        "outlier": {"en": "outlier", "de": "Ausreißer"},
        "stuck": {"en": "stuck value", "de": "hängender Messwert"},
        "humid": {"en": "too humid to correct", "de": "zu feucht für die Korrektur"},
        "no_humidity": {"en": "no humidity reading", "de": "keine Feuchtemessung"},
    },
    name="flag_labels",
)

#: The forecast check's scores, as a reader sees them.
SCORE_LABELS = Vocabulary(
    {
        "bias": {"en": "mean bias (forecast − measured)", "de": "mittlere Abweichung (Vorhersage − Messung)"},
        "rmse": {"en": "root mean square error", "de": "Wurzel der mittleren quadratischen Abweichung"},
        "correlation": {"en": "correlation (Pearson)", "de": "Korrelation (Pearson)"},
        "hitRate": {"en": "hit rate of exceedance days", "de": "Trefferquote der Überschreitungstage"},
        "falseAlarmRatio": {"en": "false alarm ratio", "de": "Anteil der Fehlalarme"},
    },
    name="score_labels",
)


def days(count: int, language: str) -> str:
    """ "1 day", "3 days" / "1 Tag", "3 Tage"."""
    return plural(count, en=("{n} day", "{n} days"), de=("{n} Tag", "{n} Tage"))[language]


#: How the forecast check pairs days (its answer's `days`).
PAIRING = text(
    en="UTC dates: a forecast and a measured daily mean meet on the UTC date of the middle of their "
    "intervals; a measured day from hourly values needs 18 valid hours",
    de="UTC-Daten: Vorhersage und gemessenes Tagesmittel werden dem UTC-Datum der Mitte ihres "
    "Intervalls zugeordnet; ein aus Stundenwerten gemessener Tag braucht 18 gültige Stunden",
)

#: How a calibration was fitted (its `method`).
CALIBRATION_METHOD = text(
    en="ordinary least squares: the reference station's values on the sensor's humidity-corrected values",
    de="Kleinste-Quadrate-Regression der Werte der Referenzstation auf die feuchtekorrigierten Werte "
    "des Sensors",
)

#: How the district comparison is computed (its answer's `method`).
COMPARISON_METHOD = text(
    en="official: mean of the valid hourly means of the official stations in the district; citizen: "
    "mean of the hourly means of the usable readings of the low-cost sensors in the district as the last "
    "check run stored them (calibrated where a calibration was fitted, otherwise humidity-corrected); "
    "sensors never checked are left out",
    de="amtlich: Mittel der gültigen Stundenmittel der amtlichen Stationen im Stadtteil; Bürger: "
    "Mittel der Stundenmittel der verwendbaren Messwerte der Low-Cost-Sensoren im Stadtteil, wie sie die "
    "letzte Prüfung gespeichert hat (kalibriert, wo eine Kalibrierung bestimmt wurde, sonst "
    "feuchtekorrigiert); nie geprüfte Sensoren bleiben außen vor",
)
