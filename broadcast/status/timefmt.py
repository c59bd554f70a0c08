"""Times as a status page reads them, in Europe/Paris, through Babel: "il y a 3 min",
"10 h 30", "3 décembre 2026 à 10 h 27" (and their English forms)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time, format_timedelta

PARIS = ZoneInfo("Europe/Paris")
_CLOCK = {"fr": "H 'h' mm", "en": "h:mm a"}
_DATE_AND_CLOCK = {"fr": "d MMMM y 'à' H 'h' mm", "en": "d MMMM y 'at' h:mm a"}


def clock(moment: datetime, locale: str) -> str:
    """``10 h 30`` in French, ``10:30 AM`` in English, Paris time."""
    return format_time(moment, _CLOCK.get(locale, _CLOCK["fr"]), tzinfo=PARIS, locale=locale)


def date_and_clock(moment: datetime, locale: str) -> str:
    pattern = _DATE_AND_CLOCK.get(locale, _DATE_AND_CLOCK["fr"])
    return format_datetime(moment, pattern, tzinfo=PARIS, locale=locale)


def ago(moment: datetime, now: datetime, locale: str) -> str:
    """``il y a 3 min``; ``à l'instant`` / ``just now`` within ten seconds."""
    delta = moment - now
    if abs(delta.total_seconds()) < 10:
        return "just now" if locale == "en" else "à l'instant"
    return format_timedelta(delta, add_direction=True, format="short", locale=locale)
