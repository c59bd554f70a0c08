"""UAI, the national identifier of a school (RULES F1)."""

from __future__ import annotations

import re

_UAI = re.compile(r"^\d{7}[A-Z]$")
_CHECK_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def uai_check_letter(digits: str) -> str:
    return _CHECK_LETTERS[int(digits) % 23]


def is_valid_uai(value: str) -> bool:
    """``0750654D`` is valid; ``0750654E`` is not (wrong check letter)."""
    return bool(_UAI.match(value)) and uai_check_letter(value[:7]) == value[7]


def make_uai(digits: str) -> str:
    """The complete UAI for seven digits (used by the demo seed and tests)."""
    return digits + uai_check_letter(digits)
