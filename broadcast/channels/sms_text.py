"""What an SMS text will cost before it is sent: encoding, length and segments (RULES S4).

Operators pay per segment, not per message. A text written only with the GSM 03.38 alphabet
travels as GSM-7: 160 characters in one SMS, 153 per part once it is split. A single character
outside that alphabet switches the whole message to UCS-2: 70 characters in one SMS, 67 per
part. French is the trap: é è à ù are GSM-7 but ê â î ô û ç are not, nor are the typographic
apostrophe ’, the guillemets « » or the no-break spaces a word processor puts around them. One
« gêne » halves the characters per SMS and can double or triple the bill for a whole school.

So the preview shows the encoding, the segment count and the characters that forced UCS-2, and
:func:`normalise_punctuation` offers, opt-in, to rewrite punctuation (never letters) into GSM-7.
Everything here is pure: no I/O, no settings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet, in code order (0x00-0x7F). 0x1B is ESC, the escape to the extension
# table: it is listed to keep the table whole but is not a character a text may use.
GSM7_ESCAPE = "\x1b"
GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC = frozenset(GSM7_BASIC_TABLE) - {GSM7_ESCAPE}
# Extension table characters: each is sent as ESC + code, so it takes two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# The opt-in normaliser's rewrites: punctuation and spaces only, never a letter.
PUNCTUATION_REWRITES = {
    "’": "'",
    "‘": "'",
    "«": '"',
    "»": '"',
    "“": '"',
    "”": '"',
    "…": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "–": "-",
    "—": "-",
}
_PUNCTUATION_TABLE = str.maketrans(PUNCTUATION_REWRITES)
# French sets guillemets apart with a (no-break) space: « Bonjour » reads "Bonjour" in ASCII.
_OPENING_GUILLEMET = re.compile("«[ \u00a0\u202f]*")
_CLOSING_GUILLEMET = re.compile("[ \u00a0\u202f]*»")

# Characters a person cannot see in a preview are named instead of shown.
_INVISIBLE_NAMES = {
    "fr": {"\u00a0": "espace insécable", "\u202f": "espace fine insécable"},
    "en": {"\u00a0": "no-break space", "\u202f": "narrow no-break space"},
}
_WARNINGS = {
    "fr": "Le message passe en UCS-2 ({single} caractères par SMS au lieu de {gsm}) à cause de : "
    "{chars}.",
    "en": "The message switches to UCS-2 ({single} characters per SMS instead of {gsm}) "
    "because of: {chars}.",
}


@dataclass(frozen=True, slots=True)
class SmsAnalysis:
    """The encoding a text needs, its length in that encoding and the segments it will bill."""

    encoding: Encoding
    units: int
    segments: int
    ucs2_characters: tuple[str, ...] = ()


def analyse(text: str) -> SmsAnalysis:
    """Encoding, length units and segments of ``text``, and which characters forced UCS-2."""
    offending = _forcing_ucs2(text)
    if offending:
        units = len(text.encode("utf-16-le")) // 2
        return SmsAnalysis("UCS-2", units, _segments(units, UCS2_SINGLE, UCS2_PART), offending)
    units = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
    return SmsAnalysis("GSM-7", units, _segments(units, GSM7_SINGLE, GSM7_PART))


def _forcing_ucs2(text: str) -> tuple[str, ...]:
    """The distinct characters of ``text`` outside GSM-7, in order of first appearance."""
    return tuple(
        dict.fromkeys(
            char for char in text if char not in GSM7_BASIC and char not in GSM7_EXTENSION
        )
    )


def _segments(units: int, single: int, part: int) -> int:
    if units == 0:
        return 0
    return 1 if units <= single else math.ceil(units / part)


def normalise_punctuation(text: str) -> str:
    """Rewrite French typographic punctuation into GSM-7 equivalents; letters are left alone."""
    text = _OPENING_GUILLEMET.sub("«", text)
    text = _CLOSING_GUILLEMET.sub("»", text)
    return text.translate(_PUNCTUATION_TABLE)


def warning(analysis: SmsAnalysis, locale: str = "fr") -> str | None:
    """The preview sentence explaining why the text went UCS-2, or None for GSM-7.

    French unless ``locale`` is English ("en", "en-GB", "en_US"...).
    """
    if analysis.encoding == "GSM-7":
        return None
    language = "en" if locale.replace("_", "-").split("-")[0].lower() == "en" else "fr"
    chars = ", ".join(_display(char, language) for char in analysis.ucs2_characters)
    return _WARNINGS[language].format(single=UCS2_SINGLE, gsm=GSM7_SINGLE, chars=chars)


def _display(char: str, language: str) -> str:
    name = _INVISIBLE_NAMES[language].get(char)
    if name is not None:
        return f"{name} (U+{ord(char):04X})"
    if not char.isprintable() or char.isspace():
        return f"U+{ord(char):04X}"
    return char
