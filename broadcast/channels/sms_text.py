"""What an SMS text will cost before it is sent: encoding, length and segments (RULES S4).

Operators pay per segment, not per message. A text written only with the GSM 03.38 alphabet
travels as GSM-7: 160 characters in one SMS, 153 per part once it is split. A single character
outside that alphabet switches the whole message to UCS-2: 70 characters in one SMS, 67 per
part. French is the trap: é è à ù are GSM-7 but ê â î ô û ç are not, nor are the typographic
apostrophe ’, the guillemets « » or the no-break spaces a word processor puts around them. One
« gêne » halves the characters per SMS and can double or triple the bill for a whole school.

A long text is split into parts the way carriers and Twilio split it: walking the text, a part
holds 153 septets (GSM-7) or 67 UTF-16 code units (UCS-2), and a character that does not fit whole
starts the next part. A GSM-7 extension character is an escape pair (ESC + code, two septets) and
a character beyond U+FFFF a surrogate pair (two code units): neither is ever cut in two, so a part
may hold one unit less than its maximum and the count can exceed ``ceil(units / 153)``.

Twilio refuses a body over 1,600 characters (error 21617); :func:`too_long_message` says so in
French before anything is drafted, and the preview warns above :data:`SEGMENTS_WARNING_ABOVE`.

So the preview shows the encoding, the segment count and the characters that forced UCS-2, and
:func:`normalise_punctuation` offers, opt-in, to rewrite punctuation (never letters) into GSM-7.
Everything here is pure: no I/O, no settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
# Extension table characters: each is sent as ESC + code, so it takes two septets. Form feed
# (0x0A in the extension table) is one of them.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

MAX_BODY_CHARS = 1600
"""Twilio's limit on a message body (error 21617), counted in UTF-16 code units (a character
beyond U+FFFF counts twice): never fewer than the characters Twilio counts."""
TWILIO_BODY_TOO_LONG = 21617
SEGMENTS_WARNING_ABOVE = 3
"""The preview warns when one message bills more segments than this."""

# The opt-in normaliser's rewrites: punctuation and spaces only, never a letter.
# U+02BC (modifier letter apostrophe) and the acute accent ´ are what some keyboards type for an
# apostrophe; they are rewritten as one, never a letter carrying an accent.
PUNCTUATION_REWRITES = {
    "’": "'",
    "‘": "'",
    "\u02bc": "'",
    "′": "'",
    "´": "'",
    "‚": "'",
    "«": '"',
    "»": '"',
    "“": '"',
    "”": '"',
    "„": '"',
    "‹": "'",
    "›": "'",
    "…": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2007": " ",
    "\u2009": " ",
    "–": "-",
    "—": "-",
    "\u2010": "-",
    "\u2011": "-",
}
_PUNCTUATION_TABLE = str.maketrans(PUNCTUATION_REWRITES)
# French sets guillemets apart with a (no-break) space: « Bonjour » reads "Bonjour" in ASCII.
_SPACES = "[ \u00a0\u202f\u2007\u2009]*"
_OPENING_GUILLEMET = re.compile(f"([«‹]){_SPACES}")
_CLOSING_GUILLEMET = re.compile(f"{_SPACES}([»›])")

# Characters a person cannot see in a preview are named instead of shown.
_INVISIBLE_NAMES = {
    "fr": {"\u00a0": "espace insécable", "\u202f": "espace fine insécable"},
    "en": {"\u00a0": "no-break space", "\u202f": "narrow no-break space"},
}
_SEGMENT_WARNINGS = {
    "fr": "Chaque SMS sera facturé {segments} segments (plus de {limit}) : raccourcissez le "
    "message pour réduire le coût.",
    "en": "Each SMS will be billed {segments} segments (more than {limit}): shorten the message "
    "to reduce the cost.",
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
        units = sum(_ucs2_units(char) for char in text)
        return SmsAnalysis("UCS-2", units, len(split_parts(text)), offending)
    units = sum(_septets(char) for char in text)
    return SmsAnalysis("GSM-7", units, len(split_parts(text)))


def split_parts(text: str) -> list[str]:
    """The parts ``text`` is sent as, split as carriers and Twilio split it (module docstring)."""
    if not text:
        return []
    if _forcing_ucs2(text):
        return list(_packed(text, _ucs2_units, UCS2_SINGLE, UCS2_PART))
    return list(_packed(text, _septets, GSM7_SINGLE, GSM7_PART))


def _packed(text: str, size: Callable[[str], int], single: int, part: int) -> Iterator[str]:
    """One part when the whole fits ``single`` units; otherwise parts of at most ``part`` units,
    a character that does not fit whole opening the next part."""
    if sum(size(char) for char in text) <= single:
        yield text
        return
    start, used = 0, 0
    for index, char in enumerate(text):
        if used + size(char) > part:
            yield text[start:index]
            start, used = index, 0
        used += size(char)
    yield text[start:]


def _septets(char: str) -> int:
    return 2 if char in GSM7_EXTENSION else 1


def _ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def body_chars(text: str) -> int:
    """The length Twilio's 1,600-character limit applies to (see :data:`MAX_BODY_CHARS`)."""
    return sum(_ucs2_units(char) for char in text)


def _forcing_ucs2(text: str) -> tuple[str, ...]:
    """The distinct characters of ``text`` outside GSM-7, in order of first appearance."""
    return tuple(
        dict.fromkeys(
            char for char in text if char not in GSM7_BASIC and char not in GSM7_EXTENSION
        )
    )


def ucs2_runs(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into runs, each marked True when its characters force UCS-2: what the
    preview highlights."""
    runs: list[tuple[str, bool]] = []
    for char in text:
        forcing = char not in GSM7_BASIC and char not in GSM7_EXTENSION
        if runs and runs[-1][1] == forcing:
            runs[-1] = (runs[-1][0] + char, forcing)
        else:
            runs.append((char, forcing))
    return runs


def normalise_punctuation(text: str) -> str:
    """Rewrite French typographic punctuation into GSM-7 equivalents; letters are left alone."""
    text = _OPENING_GUILLEMET.sub(r"\1", text)
    text = _CLOSING_GUILLEMET.sub(r"\1", text)
    return text.translate(_PUNCTUATION_TABLE)


def warning(analysis: SmsAnalysis, locale: str = "fr") -> str | None:
    """The preview sentence explaining why the text went UCS-2, or None for GSM-7.

    French unless ``locale`` is English ("en", "en-GB", "en_US"...).
    """
    if analysis.encoding == "GSM-7":
        return None
    language = _language(locale)
    chars = ", ".join(_display(char, language) for char in analysis.ucs2_characters)
    return _WARNINGS[language].format(single=UCS2_SINGLE, gsm=GSM7_SINGLE, chars=chars)


def segments_warning(analysis: SmsAnalysis, locale: str = "fr") -> str | None:
    """The preview sentence when one message bills more than :data:`SEGMENTS_WARNING_ABOVE`
    segments, or None."""
    if analysis.segments <= SEGMENTS_WARNING_ABOVE:
        return None
    template = _SEGMENT_WARNINGS[_language(locale)]
    return template.format(segments=analysis.segments, limit=SEGMENTS_WARNING_ABOVE)


def too_long_message(text: str) -> str | None:
    """The French sentence refusing a body over Twilio's limit (error 21617), or None."""
    length = body_chars(text)
    if length <= MAX_BODY_CHARS:
        return None
    return (
        f"Le SMS ferait {length} caractères : au-delà de {MAX_BODY_CHARS} caractères, limite de "
        "l'opérateur (Twilio, erreur 21617), il ne peut pas être envoyé. Raccourcissez le message."
    )


def _language(locale: str) -> str:
    return "en" if locale.replace("_", "-").split("-")[0].lower() == "en" else "fr"


def _display(char: str, language: str) -> str:
    name = _INVISIBLE_NAMES[language].get(char)
    if name is not None:
        return f"{name} (U+{ord(char):04X})"
    if not char.isprintable() or char.isspace():
        return f"U+{ord(char):04X}"
    return char
