"""CSV for spreadsheets, guarded against formula injection (RULES A7).

A spreadsheet may split a cell again on ``,``, ``;`` (French settings) or tab, whatever the quotes
say, so every piece of a cell that follows one of those separators (or a line break) is guarded as
a cell of its own, and every cell is quoted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_AFTER_SEPARATOR = re.compile(r"([,;\t\r\n] *)(?=[=+\-@])")


def safe_cell(value: object) -> str:
    """The value as text, with ``'`` before the cell and before every piece of it that a
    spreadsheet would read as a formula (phone numbers such as +33612345678 included)."""
    text = "" if value is None else str(value)
    guarded = _FORMULA_AFTER_SEPARATOR.sub(r"\1'", text)
    return "'" + guarded if guarded.lstrip(" ").startswith(FORMULA_TRIGGERS) else guarded


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV document, every cell guarded and quoted, with a byte order mark so that
    spreadsheets read UTF-8 accents right."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow([safe_cell(name) for name in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()
