"""The goals' user-visible texts, in German and English (plurals included): the traffic lights and
the reasons given for them. Answers carry codes (`green`, `on_course`) and these texts beside them."""

from __future__ import annotations

from urbantwin.texts import Vocabulary

LIGHTS = Vocabulary(
    {
        "green": {"en": "met", "de": "erreicht"},
        "amber": {"en": "not yet met, on course", "de": "noch nicht erreicht, auf Kurs"},
        "red": {"en": "not on course", "de": "nicht auf Kurs"},
        "grey": {"en": "no value", "de": "kein Wert"},
    },
    name="lights",
)

ORIGINS = Vocabulary(
    {
        "computed": {
            "en": "computed from the platform's data",
            "de": "aus den Daten der Plattform berechnet",
        },
        "entered": {"en": "entered by hand", "de": "von Hand eingetragen"},
    },
    name="origins",
)


def _years(count: int, lang: str, dative: bool = True) -> str:
    if lang == "de":
        return f"{count} Jahr" if count == 1 else f"{count} Jahren" if dative else f"{count} Jahre"
    return f"{count} year" if count == 1 else f"{count} years"


def met(year: int) -> dict[str, str]:
    return {"en": f"met in {year}", "de": f"{year} erreicht"}


def no_value() -> dict[str, str]:
    return {"en": "no value yet", "de": "noch kein Wert"}


def missed(target_year: int) -> dict[str, str]:
    return {
        "en": f"not met by the target year {target_year}",
        "de": f"im Zieljahr {target_year} nicht erreicht",
    }


def on_course(left: int, projected: float, unit: str) -> dict[str, str]:
    """Not met yet; the trend reaches the target within `left` years."""
    return {
        "en": f"not met yet; the trend reaches the target in time ({projected:.4g} {unit} in "
        f"{_years(left, 'en')})",
        "de": f"noch nicht erreicht; der Trend erreicht das Ziel rechtzeitig ({projected:.4g} {unit} in "
        f"{_years(left, 'de')})",
    }


def off_course(left: int, projected: float, unit: str) -> dict[str, str]:
    return {
        "en": f"the trend misses the target ({projected:.4g} {unit} in {_years(left, 'en')})",
        "de": f"der Trend verfehlt das Ziel ({projected:.4g} {unit} in {_years(left, 'de')})",
    }


def no_trend(left: int) -> dict[str, str]:
    """Not met, one value only: no trend to project, so the light is amber until a second year."""
    return {
        "en": f"not met yet, {_years(left, 'en')} left; one value only, no trend yet",
        "de": f"noch nicht erreicht, noch {_years(left, 'de', dative=False)}; nur ein Wert, noch kein Trend",
    }


def failed(message: str) -> dict[str, str]:
    return {"en": f"could not be computed: {message}", "de": f"konnte nicht berechnet werden: {message}"}
