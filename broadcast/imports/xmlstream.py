"""Streaming over large XML exports: each record element is handed over complete, then freed.

Memory stays that of one record whatever the file holds (RULES A5, issue 9): every element is
freed once it ends, records after the caller has read them, and everything else (containers,
elements no reader wants) at once; a record larger than ``MAX_RECORD_BYTES``, more than
``MAX_BYTES_BETWEEN_TAGS`` of text or of one tag, or nesting deeper than ``MAX_DEPTH`` refuses
the file with a French reason, before the parser could hold it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import IO

from broadcast.imports.errors import ImportRefused

CHUNK_BYTES = 1 << 16
MAX_RECORD_BYTES = 256 << 10
"""A SIECLE pupil or guardian takes a few kilobytes; 256 KB is no export's record."""
MAX_BYTES_BETWEEN_TAGS = 1 << 20
"""The longest text, or tag with its attributes, the parser may gather."""
MAX_DEPTH = 32


def stream_elements(stream: IO[bytes], tags: frozenset[str]) -> Iterator[ET.Element]:
    """Yield the root first, then every complete element whose tag is in ``tags``.

    A file that is not well-formed, or beyond the bounds above, raises :class:`ImportRefused`.
    """
    # Stdlib expat: no external entities, and it bounds entity expansion (billion laughs).
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    walk = _Walk(tags)
    fed = 0
    try:
        while chunk := stream.read(CHUNK_BYTES):
            parser.feed(chunk)
            fed += len(chunk)
            yield from walk.events(_elements(parser), fed)
        parser.close()
        yield from walk.events(_elements(parser), fed)
    except ET.ParseError as exc:
        line, column = exc.position
        raise ImportRefused(
            f"XML mal formé (ligne {line}, colonne {column}).",
            f"malformed XML (line {line}, column {column}).",
        ) from exc


def _elements(parser: ET.XMLPullParser[ET.Element]) -> list[tuple[str, ET.Element]]:
    """The start and end events read so far (the only events asked for)."""
    return [(str(event), element) for event, element in parser.read_events()]  # type: ignore[misc]


class _Walk:
    """The open elements and where the current record started, in bytes fed."""

    def __init__(self, tags: frozenset[str]) -> None:
        self._tags = tags
        self._stack: list[ET.Element] = []
        self._record_depth: int | None = None
        self._record_start = 0
        self._last_event = 0

    def events(self, events: list[tuple[str, ET.Element]], fed: int) -> Iterator[ET.Element]:
        if not events:
            self._check_gap(fed)
            return
        for event, element in events:
            if event == "start":
                yield from self._start(element, fed)
            else:
                yield from self._end(element)
        self._last_event = fed
        self._check_record(fed)

    def _start(self, element: ET.Element, fed: int) -> Iterator[ET.Element]:
        if not self._stack:
            yield element
        self._stack.append(element)
        if len(self._stack) > MAX_DEPTH:
            raise _refused(
                f"éléments imbriqués sur plus de {MAX_DEPTH} niveaux.",
                f"elements nested over {MAX_DEPTH} levels.",
            )
        if self._record_depth is None and element.tag in self._tags:
            self._record_depth, self._record_start = len(self._stack), fed

    def _end(self, element: ET.Element) -> Iterator[ET.Element]:
        depth = len(self._stack)
        self._stack.pop()
        if self._record_depth is not None and depth > self._record_depth:
            return  # a part of the record: kept until the record ends
        if depth == self._record_depth:
            self._record_depth = None
            yield element
        if self._stack:
            del self._stack[-1][:]  # frees the element (the parent's only child by now)

    def _check_gap(self, fed: int) -> None:
        if fed - self._last_event > MAX_BYTES_BETWEEN_TAGS:
            raise _refused("texte ou balise de plus de 1 Mo.", "text or tag over 1 MB.")

    def _check_record(self, fed: int) -> None:
        if self._record_depth is None or fed - self._record_start <= MAX_RECORD_BYTES:
            return
        tag = self._stack[self._record_depth - 1].tag
        raise _refused(
            f"élément {tag} de plus de 256 Ko : ce n'est pas un export attendu.",
            f"element {tag} over 256 KB: not an expected export.",
        )


def _refused(reason_fr: str, reason_en: str) -> ImportRefused:
    return ImportRefused(reason_fr, reason_en)


def text_of(element: ET.Element, tag: str) -> str:
    """The stripped text of ``tag`` under ``element`` (or its attribute of that name)."""
    value = element.get(tag)
    if value is None:
        child = element.find(tag)
        value = child.text if child is not None else None
    return (value or "").strip()


def uai_of(element: ET.Element) -> str | None:
    """``<UAJ>0670100X</UAJ>`` (SIECLE) or ``<UAJ CODE="0670100X">`` (STS-Web)."""
    return (element.get("CODE") or element.text or "").strip().upper() or None
