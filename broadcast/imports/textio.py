"""Text files as people export them: UTF-8 (with or without BOM) or Latin-1, comma or
semicolon, headers in French or English. Everything streams: a file is never read whole."""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from broadcast.imports.errors import ImportRefused

Opener = Callable[[], IO[bytes]]
"""Opens the file afresh, from its start: encoding detection reads it once before parsing."""

_CHUNK = 1 << 16
MAX_LINE_CHARS = 1 << 20
"""The longest line read (a contact's row takes a few hundred characters): a longer one is
refused before it is held whole (a 1 GB line compresses to 1 MB in a zip)."""
_SHOWN_COLUMNS, _SHOWN_HEADER = 30, 60


def detect_encoding(open_file: Opener) -> str:
    """``utf-8-sig`` with a BOM, ``utf-8`` when the whole file decodes strictly, else
    ``latin-1`` (which decodes anything: a Windows export of Excel or ONDE)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with open_file() as stream:
        first = stream.read(_CHUNK)
        if first.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        chunk = first
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = stream.read(_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def open_text(open_file: Opener) -> IO[str]:
    encoding = detect_encoding(open_file)
    return io.TextIOWrapper(open_file(), encoding=encoding, newline="")


def sniff_delimiter(header_line: str) -> str:
    """``;`` (the French Excel default) or ``,``, whichever splits the header more."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def normalise_header(name: str) -> str:
    """``Tél. portable resp. légal1`` -> ``tel portable resp legal 1``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    spaced = re.sub(r"(?<=[a-z])(?=\d)", " ", ascii_name.lower())
    return " ".join(re.split(r"[^a-z0-9]+", spaced)).strip()


def _first_line(text: IO[str]) -> str:
    line = text.readline(MAX_LINE_CHARS + 1)
    if len(line) > MAX_LINE_CHARS:
        raise _too_long(1)
    return line


def _too_long(number: int) -> ImportRefused:
    return ImportRefused(
        f"ligne {number} trop longue (plus d'un million de caractères) : ce n'est pas un "
        "fichier de contacts.",
        f"line {number} too long (over a million characters): not a contacts file.",
    )


class BoundedLines:
    """The lines of a text, none longer than ``MAX_LINE_CHARS``, and no CSV record (which a
    quoted field may spread over lines) longer than that either."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._number = 1
        self._record_chars = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._text.readline(MAX_LINE_CHARS + 1)
        if not line:
            raise StopIteration
        self._number += 1
        self._record_chars += len(line)
        if len(line) > MAX_LINE_CHARS or self._record_chars > MAX_LINE_CHARS:
            raise _too_long(self._number)
        return line

    def record_read(self) -> None:
        self._record_chars = 0


class CsvRows:
    """The rows of a CSV file as ``{canonical field: value}``, with their line numbers.

    ``field_of`` maps a normalised header to a canonical field (None: the column is ignored).
    """

    def __init__(self, open_file: Opener, field_of: Callable[[str], str | None]) -> None:
        self._open = open_file
        self._field_of = field_of
        self.fields: tuple[str | None, ...] = ()
        self.headers: tuple[str, ...] = ()
        self.written: tuple[str, ...] = ()
        """The headers as the file writes them, for the messages a person reads."""
        self.columns: dict[str, str] = {}
        """Canonical field -> the file's own header for it (its first column)."""

    def read_header(self) -> tuple[str, ...]:
        """The normalised headers of the file, read without keeping the file open."""
        with open_text(self._open) as text:
            line = _first_line(text)
        if not line.strip():
            raise ImportRefused("le fichier est vide.", "the file is empty.")
        reader = csv.reader([line], delimiter=sniff_delimiter(line))
        self.written = tuple(h.strip() for h in next(reader))
        self.headers = tuple(normalise_header(h) for h in self.written)
        self.fields = tuple(self._field_of(h) for h in self.headers)
        for field, written in zip(self.fields, self.written, strict=True):
            if field is not None:
                self.columns.setdefault(field, written)
        return self.headers

    def require(self, fields: Iterable[str], label: str, accepted: Iterable[str]) -> None:
        """Refuse the file when none of ``fields`` has a column, naming what is missing, the
        headers accepted for it, and the file's own columns."""
        if any(f in self.fields for f in fields):
            return
        names = ", ".join(f"« {name} »" for name in accepted)
        found = self.written_columns()
        raise ImportRefused(
            f"colonne obligatoire absente : {label} (en-têtes acceptés : {names}). "
            f"Colonnes du fichier : {found}.",
            f"required column missing: {'|'.join(fields)} (accepted headers: {names}). "
            f"Columns of the file: {found}.",
        )

    def column_labels(self) -> dict[str, str]:
        """Canonical field -> ``colonne « <the file's header> »``."""
        return {field: f"colonne « {written} »" for field, written in self.columns.items()}

    def written_columns(self) -> str:
        """The file's columns as it writes them, shortened to what a message can hold."""
        shown = [f"« {h[:_SHOWN_HEADER]} »" for h in self.written[:_SHOWN_COLUMNS] if h]
        more = len(self.written) - _SHOWN_COLUMNS
        return ", ".join(shown) + (f" et {more} autre(s)" if more > 0 else "") or "aucune"

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        if not self.fields:
            self.read_header()
        with open_text(self._open) as text:
            line = _first_line(text)
            lines = BoundedLines(text)
            reader = csv.reader(lines, delimiter=sniff_delimiter(line))
            try:
                for values in reader:
                    lines.record_read()
                    if any(v.strip() for v in values):
                        yield reader.line_num + 1, self._row(values)
            except csv.Error as exc:
                number = reader.line_num + 1
                raise ImportRefused(
                    f"CSV mal formé (ligne {number}).", f"malformed CSV (line {number})."
                ) from exc

    def _row(self, values: list[str]) -> dict[str, str]:
        row: dict[str, str] = {}
        for field, value in zip(self.fields, values, strict=False):
            if field is not None and value.strip() and field not in row:
                row[field] = value.strip()
        return row
