"""Pydantic validation errors as messages a person understands, in French or English."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("champ obligatoire", "field required"),
    "extra_forbidden": ("champ inconnu", "unknown field"),
    "string_too_long": ("texte trop long", "text too long"),
    "string_too_short": ("texte trop court", "text too short"),
    "too_long": ("trop d'éléments", "too many items"),
    "too_short": ("pas assez d'éléments", "not enough items"),
    "int_parsing": ("nombre entier attendu", "integer expected"),
    "int_type": ("nombre entier attendu", "integer expected"),
    "string_type": ("texte attendu", "text expected"),
    "bool_parsing": ("vrai ou faux attendu", "true or false expected"),
    "enum": ("valeur non permise", "value not allowed"),
    "literal_error": ("valeur non permise", "value not allowed"),
    "greater_than_equal": ("valeur trop petite", "value too small"),
    "less_than_equal": ("valeur trop grande", "value too large"),
    "json_invalid": ("JSON invalide", "invalid JSON"),
    "model_type": ("objet attendu", "object expected"),
    "list_type": ("liste attendue", "list expected"),
}


def _field(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path"))


def _message(error: dict[str, Any], locale: str) -> str:
    pair = _MESSAGES.get(error["type"])
    if pair is None:  # value errors raised by our own validators carry their text
        text = str(error.get("msg", "")).removeprefix("Value error, ")
        return text or ("valeur invalide" if locale != "en" else "invalid value")
    return pair[1] if locale == "en" else pair[0]


def describe_errors(errors: Sequence[Any], locale: str = "fr") -> list[dict[str, str]]:
    """``[{"field": "email", "message": "adresse e-mail invalide"}, ...]``."""
    return [{"field": _field(e["loc"]), "message": _message(e, locale)} for e in errors]
