"""How a message names an organisation: a short label for an SMS, and French phrases with the
right article ("du collège Pasteur", "de l'école Jules Ferry", "à l'académie de Strasbourg").

The article depends on the noun the name starts with ("Collège Pasteur", "École élémentaire du
Neuhof"), or else on the school type stored in ``Organisation.school_type`` (``ecole``,
``college``, ``lycee``, ``lp``, ``erea``) or the organisation's kind: a school named "Pasteur"
of type ``college`` is "le collège Pasteur", an académie named "Strasbourg" is "l'académie de
Strasbourg". A name imported with its commune ("Collège Pasteur (Strasbourg)") is used without
it: families know their own school's town, and an SMS pays for every character.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

LABEL_MAX = 30
"""Characters of the label an SMS starts with: a 100-character update still fits one SMS."""

_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüœ")
_TRAILING_COMMUNE = re.compile(r"\s*\([^()]*\)\s*$")


@dataclass(frozen=True, slots=True)
class _Noun:
    words: str
    """As written after an article: ``collège``, ``lycée professionnel``, ``EREA``."""
    feminine: bool = False
    abbreviation: str | None = None
    """Shorter in a label: ``LP`` for ``lycée professionnel``."""
    before_name: str = ""
    """What joins the noun to a name that lacks it: ``académie de Strasbourg``."""


_ESTABLISHMENT = _Noun("établissement")
_SCHOOL_TYPES = {
    "ecole": _Noun("école", feminine=True),
    "college": _Noun("collège"),
    "lycee": _Noun("lycée"),
    "lp": _Noun("lycée professionnel", abbreviation="LP"),
    "erea": _Noun("EREA"),
}
_KINDS = {
    "academie": _Noun("académie", feminine=True, before_name="de"),
    "region_academique": _Noun("région académique", feminine=True),
    "departement": _Noun("département"),
}
# Nouns a name may start with, longest first so that "Lycée professionnel X" is not a "lycée".
_LEADING_NOUNS = sorted(
    (
        *_SCHOOL_TYPES.values(),
        *_KINDS.values(),
        _ESTABLISHMENT,
        _Noun("lycée général et technologique", abbreviation="LGT"),
        _Noun("lycée polyvalent", abbreviation="LPO"),
        _Noun("cité scolaire", feminine=True),
        _Noun("groupe scolaire"),
        _Noun("institution", feminine=True),
        _Noun("LP"),
    ),
    key=lambda noun: -len(noun.words),
)


@dataclass(frozen=True, slots=True)
class OrganisationWording:
    """The ways a message names one organisation."""

    label: str
    """Short, capitalised, for the start of an SMS or a subject: ``Collège Pasteur``."""
    the: str
    """``le collège Pasteur``, ``l'école du Neuhof``, ``la cité scolaire Kléber``."""
    of: str
    """``du collège Pasteur``, ``de l'école du Neuhof``, ``de la cité scolaire Kléber``."""
    at: str
    """``au collège Pasteur``, ``à l'école du Neuhof``, ``à la cité scolaire Kléber``."""


def short_name(name: str) -> str:
    """The name without the commune the import appends: ``Collège Pasteur (Strasbourg)`` ->
    ``Collège Pasteur``; a name that is only a parenthesis is kept."""
    return _TRAILING_COMMUNE.sub("", name).strip() or name.strip()


def wording(
    name: str, kind: str | None = None, school_type: str | None = None
) -> OrganisationWording:
    """How messages name the organisation called ``name`` (see the module docstring)."""
    named = short_name(name)
    noun = _leading_noun(named)
    if noun is None:
        noun = _noun_for(kind, school_type)
        phrase = _joined(noun, named)
        rest = named
    else:
        phrase = _lower_first(named) if noun.words[:1].islower() else named
        rest = named[len(noun.words) :].strip()
    return OrganisationWording(
        label=_label(noun, phrase, rest),
        the=_with_article(phrase, noun, "le ", "la ", "l'"),
        of=_with_article(phrase, noun, "du ", "de la ", "de l'"),
        at=_with_article(phrase, noun, "au ", "à la ", "à l'"),
    )


def without_leading_name(title: str, *names: str) -> str:
    """``title`` without a leading organisation name and its separator: a subject or an SMS
    already names the school, so "Collège Pasteur : ENT indisponible" reads "ENT indisponible"."""
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        if _folded(title[: len(name)]) == _folded(name):
            rest = title[len(name) :].lstrip()
            if rest[:1] in (":", "-", "–", "—", "|", ","):
                stripped = rest[1:].strip()
                if stripped:
                    return stripped
    return title


def _noun_for(kind: str | None, school_type: str | None) -> _Noun:
    if kind is not None and kind in _KINDS:
        return _KINDS[kind]
    if school_type is not None and school_type in _SCHOOL_TYPES:
        return _SCHOOL_TYPES[school_type]
    return _ESTABLISHMENT


def _leading_noun(name: str) -> _Noun | None:
    folded = _folded(name)
    for noun in _LEADING_NOUNS:
        words = _folded(noun.words)
        if folded == words or folded.startswith(words + " "):
            return noun
    return None


def _joined(noun: _Noun, name: str) -> str:
    if not noun.before_name:
        return f"{noun.words} {name}"
    if noun.before_name == "de" and _starts_with_vowel(name):
        return f"{noun.words} d'{name}"
    return f"{noun.words} {noun.before_name} {name}"


def _with_article(phrase: str, noun: _Noun, masculine: str, feminine: str, elided: str) -> str:
    if _starts_with_vowel(phrase):
        return elided + phrase
    return (feminine if noun.feminine else masculine) + phrase


def _label(noun: _Noun, phrase: str, rest: str) -> str:
    label = _upper_first(phrase)
    if len(label) > LABEL_MAX and noun.abbreviation and rest:
        label = f"{noun.abbreviation} {rest}"
    if len(label) <= LABEL_MAX:
        return label
    cut = label[: LABEL_MAX + 1].rsplit(" ", 1)[0]
    return cut if cut and len(cut) <= LABEL_MAX else label[:LABEL_MAX]


def _starts_with_vowel(text: str) -> bool:
    return text[:1].lower() in _VOWELS


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())
