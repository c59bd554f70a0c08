"""The school levels of French schools, as the imports store them (``6e``, ``CM2``, ``Tle``),
and what a person may write instead ("3ème", "seconde", "terminale"): an audience naming an
unknown level is refused with the level meant, rather than silently matching nobody."""

from __future__ import annotations

import re
import unicodedata

from pydantic_core import PydanticCustomError

PRIMARY = ("TPS", "PS", "MS", "GS", "CP", "CE1", "CE2", "CM1", "CM2")
COLLEGE = ("6e", "5e", "4e", "3e")
LYCEE = ("2de", "1re", "Tle", "2de pro", "1re pro", "Tle pro", "CAP 1", "CAP 2")
KNOWN_LEVELS = (*PRIMARY, *COLLEGE, *LYCEE)


def _key(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_text.lower())


_EXACT = {_key(level): level for level in KNOWN_LEVELS}
_ALIASES = {
    **_EXACT,
    **{digit: f"{digit}e" for digit in "6543"},
    **{"sixieme": "6e", "cinquieme": "5e", "quatrieme": "4e", "troisieme": "3e"},
    **{"2": "2de", "seconde": "2de", "premiere": "1re", "1": "1re"},
    **{"terminale": "Tle", "term": "Tle", "t": "Tle"},
    **{"petitesection": "PS", "moyennesection": "MS", "grandesection": "GS"},
}
_ORDINAL_ENDING = re.compile(r"(ieme|eme|em|ere|er|nde|nd|de|e)$")
_WITH_PRO = ("2de", "1re", "Tle")


def suggestion(text: str) -> str | None:
    """The known level ``text`` most likely means: ``3ème`` -> ``3e``, ``Seconde pro`` ->
    ``2de pro``, ``cm 2`` -> ``CM2``; None when nothing comes close."""
    key = _key(text)
    pro = key.endswith("pro") and key != "pro"
    base = key.removesuffix("pro") if pro else key
    level = _ALIASES.get(base) or _ALIASES.get(_ORDINAL_ENDING.sub("", base))
    if level is None:
        return None
    return f"{level} pro" if pro and level in _WITH_PRO else level


def known_level(value: str) -> str:
    """The level as stored (``6E`` -> ``6e``); a level written another way is refused with the
    one it most likely means, any other with the list of known levels."""
    exact = _EXACT.get(_key(value))
    if exact is not None and _key(value) == _key(exact) and _looks_written_as(value, exact):
        return exact
    meant = suggestion(value)
    if meant is not None:
        raise PydanticCustomError(
            "level_spelling",
            "niveau inconnu « {value} » : vouliez-vous dire « {meant} » ?",
            {"value": value, "meant": meant},
        )
    raise PydanticCustomError(
        "level_unknown",
        "niveau inconnu « {value} » ; niveaux connus : {known}",
        {"value": value, "known": ", ".join(KNOWN_LEVELS)},
    )


def _looks_written_as(value: str, level: str) -> bool:
    """Same letters and digits, in any case and spacing: ``cm2`` is ``CM2``, ``3ème`` is not
    ``3e`` (it is suggested instead)."""
    return re.sub(r"\s+", "", value).lower() == re.sub(r"\s+", "", level).lower()
