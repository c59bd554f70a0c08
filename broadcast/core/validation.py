"""What every input goes through: bounded integers and dates, text without NUL, and pydantic's
validation errors as French (or English) messages a person understands.

Routes and schemas use these types instead of a bare ``int``, ``str`` or ``datetime``, so that no
value reaches the database that it would refuse with a server error: PostgreSQL's ``INTEGER``
holds 32 bits and its ``BIGINT`` 64, SQLite's integers 64; neither stores a NUL character in
text; dates before year 1 or after 9999 overflow once converted to UTC.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
ROW_ID_MAX = 2**31 - 1
"""Ids of rows kept in an ``INTEGER`` column (32 bits on PostgreSQL)."""
FIRST_YEAR = 1970
LAST_YEAR = 2999

Int64 = Annotated[int, Ge(INT64_MIN), Le(INT64_MAX)]
"""Any integer a 64-bit column holds."""
RowId = Annotated[int, Ge(0), Le(ROW_ID_MAX)]
"""The id of a row of an ``INTEGER`` id column: organisations, notices, broadcasts..."""
BigRowId = Annotated[int, Ge(0), Le(INT64_MAX)]
"""The id of a row of a ``BIGINT`` id column: deliveries, webhook messages."""


def refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "caractère nul (U+0000) interdit")
    return value


Text = Annotated[str, AfterValidator(refuse_nul)]
"""Text as stored: any character but NUL, which PostgreSQL refuses."""

_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")


def refuse_bare_number(value: Any) -> Any:
    """pydantic reads ``1700000000`` as seconds since 1970; a person means no date by it."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError(
            "date_is_a_number", "date attendue (AAAA-MM-JJ ou AAAA-MM-JJTHH:MM), pas un nombre"
        )
    return value


def within_years(value: datetime) -> datetime:
    """Checked on the written date, before any conversion that could overflow."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise PydanticCustomError(
            "date_out_of_range",
            "date hors limites : entre l'an {first} et l'an {last}",
            {"first": str(FIRST_YEAR), "last": str(LAST_YEAR)},
        )
    return value


Moment = Annotated[datetime, BeforeValidator(refuse_bare_number), AfterValidator(within_years)]
"""A date and time written in ISO 8601, between years 1970 and 2999."""


# -- messages ------------------------------------------------------------------------------

_Template = tuple[str, str]

_MESSAGES: dict[str, _Template] = {
    "missing": ("champ obligatoire", "field required"),
    "extra_forbidden": ("champ inconnu", "unknown field"),
    "string_type": ("texte attendu", "text expected"),
    "string_too_long": (
        "texte trop long : {max_length} caractères au plus",
        "text too long: at most {max_length} characters",
    ),
    "string_too_short": (
        "texte trop court : {min_length} caractère(s) au moins",
        "text too short: at least {min_length} character(s)",
    ),
    "string_pattern_mismatch": ("format non reconnu", "unrecognised format"),
    "string_unicode": ("texte UTF-8 attendu", "UTF-8 text expected"),
    "too_long": (
        "trop d'éléments : {max_length} au plus",
        "too many items: at most {max_length}",
    ),
    "too_short": (
        "pas assez d'éléments : {min_length} au moins",
        "not enough items: at least {min_length}",
    ),
    "int_type": ("nombre entier attendu", "integer expected"),
    "int_parsing": ("nombre entier attendu", "integer expected"),
    "int_parsing_size": ("nombre entier trop grand", "integer too large"),
    "int_from_float": ("nombre entier attendu, sans décimales", "integer expected, no decimals"),
    "float_type": ("nombre attendu", "number expected"),
    "float_parsing": ("nombre attendu", "number expected"),
    "finite_number": ("nombre fini attendu", "finite number expected"),
    "bool_type": ("vrai ou faux attendu (true, false)", "true or false expected"),
    "bool_parsing": ("vrai ou faux attendu (true, false)", "true or false expected"),
    "enum": (
        "valeur non permise ; valeurs acceptées : {expected}",
        "value not allowed; accepted values: {expected}",
    ),
    "literal_error": (
        "valeur non permise ; valeurs acceptées : {expected}",
        "value not allowed; accepted values: {expected}",
    ),
    "greater_than": ("valeur trop petite : plus de {gt} attendu", "value too small: over {gt}"),
    "greater_than_equal": (
        "valeur trop petite : {ge} au moins",
        "value too small: at least {ge}",
    ),
    "less_than": ("valeur trop grande : moins de {lt} attendu", "value too large: under {lt}"),
    "less_than_equal": ("valeur trop grande : {le} au plus", "value too large: at most {le}"),
    "json_invalid": ("JSON invalide", "invalid JSON"),
    "json_type": ("JSON attendu", "JSON expected"),
    "model_type": ("objet attendu", "object expected"),
    "model_attributes_type": ("objet attendu", "object expected"),
    "dict_type": ("objet attendu", "object expected"),
    "list_type": ("liste attendue", "list expected"),
    "tuple_type": ("liste attendue", "list expected"),
    "set_type": ("liste attendue", "list expected"),
    "datetime_type": (
        "date et heure attendues (AAAA-MM-JJTHH:MM)",
        "date and time expected (YYYY-MM-DDTHH:MM)",
    ),
    "datetime_parsing": (
        "date et heure illisibles (AAAA-MM-JJTHH:MM attendu)",
        "unreadable date and time (YYYY-MM-DDTHH:MM expected)",
    ),
    "datetime_from_date_parsing": (
        "date illisible (AAAA-MM-JJ ou AAAA-MM-JJTHH:MM attendu)",
        "unreadable date (YYYY-MM-DD or YYYY-MM-DDTHH:MM expected)",
    ),
    "datetime_object_invalid": ("date impossible", "impossible date"),
    "date_type": ("date attendue (AAAA-MM-JJ)", "date expected (YYYY-MM-DD)"),
    "date_parsing": ("date illisible (AAAA-MM-JJ attendu)", "unreadable date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": (
        "date illisible (AAAA-MM-JJ attendu)",
        "unreadable date (YYYY-MM-DD)",
    ),
    "timezone_aware": ("fuseau horaire attendu", "time zone expected"),
    "timezone_naive": ("heure sans fuseau attendue", "time without zone expected"),
    "url_parsing": ("adresse URL illisible", "unreadable URL"),
    "url_scheme": ("adresse URL : schéma non permis", "URL scheme not allowed"),
    "url_type": ("adresse URL attendue", "URL expected"),
    "union_tag_invalid": ("type d'objet inconnu", "unknown object type"),
    "none_required": ("aucune valeur attendue", "no value expected"),
    "bytes_type": ("texte attendu", "text expected"),
    "nul_character": ("caractère nul (U+0000) interdit", "NUL character (U+0000) not allowed"),
    "date_is_a_number": (
        "date attendue (AAAA-MM-JJ ou AAAA-MM-JJTHH:MM), pas un nombre",
        "date expected (YYYY-MM-DD or YYYY-MM-DDTHH:MM), not a number",
    ),
    "date_out_of_range": (
        "date hors limites : entre l'an {first} et l'an {last}",
        "date out of range: between year {first} and year {last}",
    ),
}
_OWN_TEXT = frozenset({"value_error", "assertion_error", "level_spelling", "level_unknown"})
"""Raised by our own validators: their text is already written for a person (in French)."""
_FALLBACK: _Template = ("valeur invalide", "invalid value")


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path", "header"))


def _context(error: dict[str, Any]) -> dict[str, str]:
    context = {key: _readable(value) for key, value in (error.get("ctx") or {}).items()}
    context.setdefault("expected", "")
    return context


def _readable(value: Any) -> str:
    """pydantic's ``'a', 'b' or 'c'`` read as « a », « b », « c »; numbers with spaces."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}".replace(",", "\u202f")
    text = str(value)
    quoted = re.findall(r"'([^']*)'", text)
    return ", ".join(f"« {item} »" for item in quoted) if quoted else text


def _message(error: dict[str, Any], locale: str) -> str:
    kind = error["type"]
    if kind in _OWN_TEXT:
        text = (
            str(error.get("msg", ""))
            .removeprefix("Value error, ")
            .removeprefix("Assertion failed, ")
        )
        if text:
            return text
    french, english = _MESSAGES.get(kind, _FALLBACK)
    template = english if locale == "en" else french
    try:
        return template.format(**_context(error))
    except (KeyError, IndexError):
        return _FALLBACK[1] if locale == "en" else _FALLBACK[0]


def describe_errors(errors: Sequence[Any], locale: str = "fr") -> list[dict[str, str]]:
    """``[{"field": "email", "message": "adresse e-mail invalide"}, ...]``."""
    return [{"field": _field(e["loc"]), "message": _message(e, locale)} for e in errors]


def summary(details: Sequence[dict[str, str]], locale: str = "fr") -> str:
    """One sentence naming each field and what is wrong with it."""
    parts = "; ".join(
        f"« {d['field']} » : {d['message']}" if d["field"] else d["message"] for d in details[:5]
    )
    more = len(details) - 5
    if locale == "en":
        tail = f" (and {more} more)" if more > 0 else ""
        return f"Some data is invalid: {parts}{tail}."
    tail = f" (et {more} autre(s))" if more > 0 else ""
    return f"Certaines données sont invalides : {parts}{tail}."
