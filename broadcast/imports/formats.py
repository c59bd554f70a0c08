"""Which reader reads a file: detected from its content (zip, XML root element, CSV header)."""

from __future__ import annotations

import contextlib
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from broadcast.imports.csv_reader import CsvReader
from broadcast.imports.errors import ImportRefused
from broadcast.imports.onde import OndeReader, looks_like_onde
from broadcast.imports.records import ImportKind, Reader
from broadcast.imports.siecle import (
    GUARDIANS_ROOT,
    PUPILS_ROOT,
    SiecleGuardiansReader,
    SieclePupilsReader,
)
from broadcast.imports.stsweb import STS_ROOT, StsWebReader
from broadcast.imports.textio import CsvRows, Opener
from broadcast.imports.xmlstream import stream_elements

MAX_UNCOMPRESSED_BYTES = 1 << 30
"""A zip whose members would inflate beyond this is refused (a zip bomb, or not an export)."""

_XML_READERS: dict[str, Callable[[Opener, str], Reader]] = {
    PUPILS_ROOT: SieclePupilsReader,
    GUARDIANS_ROOT: SiecleGuardiansReader,
    STS_ROOT: StsWebReader,
}
_KIND_OF_ROOT = {
    PUPILS_ROOT: ImportKind.siecle,
    GUARDIANS_ROOT: ImportKind.siecle,
    STS_ROOT: ImportKind.stsweb,
}


@contextlib.contextmanager
def open_readers(path: Path, kind: ImportKind | None = None) -> Iterator[list[Reader]]:
    """The readers of a file, or of each importable member of a zip (SIECLE pupils first, so
    that guardians find their pupils' classes). Refuses a file nothing can read."""
    if zipfile.is_zipfile(path):
        with _zip_readers_of(path, kind) as readers:
            yield readers
        return

    def open_file() -> IO[bytes]:
        return path.open("rb")

    reader = reader_for(open_file, path.name, kind)
    if reader is None:
        raise ImportRefused(
            "format non reconnu (CSV, SIECLE, ONDE, STS-Web ou zip attendu).",
            "unknown format (CSV, SIECLE, ONDE, STS-Web or zip expected).",
        )
    yield [reader]


_UNREADABLE_ZIP = ("archive zip illisible (abîmée ou chiffrée).", "unreadable zip.")


@contextlib.contextmanager
def _zip_readers_of(path: Path, kind: ImportKind | None) -> Iterator[list[Reader]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ImportRefused(*_UNREADABLE_ZIP) from exc
    with archive:
        try:
            readers = _zip_readers(archive, kind)
        except (zipfile.BadZipFile, zlib.error, RuntimeError) as exc:  # Runtime: encrypted
            raise ImportRefused(*_UNREADABLE_ZIP) from exc
        try:
            yield readers
        except (zipfile.BadZipFile, zlib.error) as exc:  # a member's data is damaged
            raise ImportRefused(*_UNREADABLE_ZIP) from exc


def reader_for(open_file: Opener, name: str, kind: ImportKind | None) -> Reader | None:
    root = _xml_root(open_file)
    if root is not None:
        return _xml_reader(open_file, name, root, kind)
    if name.lower().endswith(".xml"):
        return None
    rows = CsvRows(open_file, lambda header: header)
    headers = rows.read_header()
    onde = kind == ImportKind.onde or (kind is None and looks_like_onde(headers))
    if kind not in (None, ImportKind.csv, ImportKind.onde):
        _wrong_kind(kind, ImportKind.onde if onde else ImportKind.csv)
    return OndeReader(open_file, name) if onde else CsvReader(open_file, name)


def _xml_reader(open_file: Opener, name: str, root: str, kind: ImportKind | None) -> Reader:
    if root not in _XML_READERS:
        raise ImportRefused(
            f"{name} : document XML inconnu ({root}).", f"{name}: unknown XML document ({root})."
        )
    if kind is not None and kind != _KIND_OF_ROOT[root]:
        _wrong_kind(kind, _KIND_OF_ROOT[root])
    return _XML_READERS[root](open_file, name)


def _wrong_kind(asked: ImportKind, found: ImportKind) -> None:
    raise ImportRefused(
        f"un fichier {asked} était annoncé, c'est un fichier {found}.",
        f"a {asked} file was announced, this is a {found} file.",
    )


def _xml_root(open_file: Opener) -> str | None:
    """The root element's tag when the file starts like XML, else None."""
    with open_file() as stream:
        start = stream.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not start.startswith(b"<"):
            return None
    with open_file() as stream:
        return _first_tag(stream)


def _first_tag(stream: IO[bytes]) -> str:
    root = next(stream_elements(stream, frozenset()), None)
    if root is None:
        raise ImportRefused("XML vide.", "empty XML.")
    return str(root.tag)


def _zip_readers(archive: zipfile.ZipFile, kind: ImportKind | None) -> list[Reader]:
    members = [m for m in archive.infolist() if _importable_name(m.filename)]
    if sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
        raise ImportRefused("archive trop volumineuse une fois décompressée.", "zip too large.")
    readers = [
        reader
        for member in members
        if (reader := _member_reader(archive, member, kind)) is not None
    ]
    if not readers:
        raise ImportRefused(
            "l'archive ne contient aucun fichier importable.", "the zip holds nothing to import."
        )
    return sorted(readers, key=_reading_order)


def _importable_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return (
        not name.endswith("/")
        and not name.startswith("__MACOSX/")
        and not base.startswith(".")
        and base.lower().endswith((".csv", ".xml"))
    )


def _member_reader(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, kind: ImportKind | None
) -> Reader | None:
    def open_member() -> IO[bytes]:
        return archive.open(member)

    name = member.filename.rsplit("/", 1)[-1]
    return reader_for(open_member, name, kind)


def _reading_order(reader: Reader) -> int:
    return 0 if isinstance(reader, SieclePupilsReader) else 1
