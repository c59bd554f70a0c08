"""docs/rules.md stays true: every test it names exists, and so does every module it points to."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
RULE_NUMBERS = re.findall(r"^\| ([A-Z]\d) \|", RULES, flags=re.MULTILINE)


def _named_tests() -> list[tuple[str, str]]:
    return re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", RULES)


def _named_places() -> list[str]:
    places: list[str] = []
    for row in RULES.splitlines():
        cells = row.split("|")
        if len(cells) > 4 and re.fullmatch(r" [A-Z]\d ", cells[1]):
            places += re.findall(r"`([\w/]+(?:\.py|/))`", cells[3])
    return places


def test_every_rule_of_the_shared_list_is_documented_once() -> None:
    counts = {"D": 6, "S": 5, "E": 3, "P": 3, "W": 4, "A": 7, "R": 5, "F": 3}
    expected = [f"{letter}{n}" for letter, count in counts.items() for n in range(1, count + 1)]
    assert sorted(RULE_NUMBERS) == sorted(expected)


def test_every_named_test_exists() -> None:
    named = _named_tests()
    assert len(named) > 60
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not (ROOT / path).exists()
        or not re.search(rf"def {name}\(", (ROOT / path).read_text(encoding="utf-8"))
    ]
    assert missing == []


def test_every_named_module_exists() -> None:
    places = _named_places()
    assert places
    missing = [
        place
        for place in places
        if not (ROOT / place).exists() and not (ROOT / "broadcast" / place).exists()
    ]
    assert missing == []
