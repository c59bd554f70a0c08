"""Streaming over large XML exports: each record element is handed over complete, then freed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import IO

from broadcast.imports.errors import ImportRefused


def stream_elements(stream: IO[bytes], tags: frozenset[str]) -> Iterator[ET.Element]:
    """Yield the root first, then every complete element whose tag is in ``tags``.

    Elements are cleared from their parent once the caller is done, so memory stays that of one
    record whatever the file size. A file that is not well-formed raises :class:`ImportRefused`.
    """
    stack: list[ET.Element] = []
    try:
        # Stdlib expat: no external entities, and it bounds entity expansion (billion laughs).
        for event, element in ET.iterparse(stream, events=("start", "end")):  # noqa: S314
            if event == "start":
                if not stack:
                    yield element
                stack.append(element)
                continue
            stack.pop()
            if element.tag in tags:
                yield element
                if stack:
                    stack[-1].clear()
    except ET.ParseError as exc:
        line, column = exc.position
        raise ImportRefused(
            f"XML mal formé (ligne {line}, colonne {column}).",
            f"malformed XML (line {line}, column {column}).",
        ) from exc


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
