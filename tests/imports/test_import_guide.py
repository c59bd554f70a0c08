"""The guide lists every header the importers accept, as the code declares them (issue 9 #18)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from broadcast.imports.csv_reader import ACCEPTED_HEADERS, CSV_HEADERS
from broadcast.imports.onde import ACCEPTED_HEADERS as ONDE_HEADERS
from broadcast.imports.onde import onde_field
from broadcast.imports.textio import normalise_header
from broadcast.reference.service import SCHOOL_HEADERS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide.md"


def _section() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("### Accepted headers")
    return text[start : text.index("\n## ", start)]


def _tables(section: str) -> list[set[str]]:
    """The back-quoted headers of each table's right-hand column."""
    tables: list[set[str]] = []
    for block in re.split(r"\n\s*\n", section):
        rows = [line for line in block.splitlines() if line.startswith("| ")][1:]
        if rows:
            tables.append(
                {h for row in rows for h in re.findall(r"`([^`]+)`", row.rsplit(" | ", 1)[1])}
            )
    return tables


@pytest.mark.parametrize(
    "accepted",
    [ACCEPTED_HEADERS, ONDE_HEADERS, SCHOOL_HEADERS],
    ids=["csv", "onde", "schools"],
)
def test_every_accepted_header_is_in_the_guide(accepted: dict[str, tuple[str, ...]]) -> None:
    headers = {header for headers in accepted.values() for header in headers}
    assert headers in _tables(_section())


def test_every_header_the_guide_lists_is_read_by_its_importer() -> None:
    csv_table, onde_table, _schools = _tables(_section())
    assert {normalise_header(h) for h in csv_table} == set(CSV_HEADERS)
    assert all(onde_field(normalise_header(h)) for h in onde_table)
    assert onde_field(normalise_header("Tél. portable resp. légal2")) == "g2_mobile"
