"""Message templates rendered in Jinja2's sandbox (RULES A5).

Templates live in ``templates/<channel>/<name>.<locale>.<part>``: for email,
``notice.fr.subject.txt``, ``notice.fr.txt`` and ``notice.fr.html`` give the parts ``subject``,
``text`` and ``html``. A locale without templates falls back to its language (``fr-CA`` -> ``fr``)
and then to French.

A message is rendered once per (template, locale), never per recipient: whatever differs per
recipient is passed as a placeholder string (see :data:`UNSUBSCRIBE_PLACEHOLDER`) that the channel
replaces in the encoded bytes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    meta,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

UNSUBSCRIBE_PLACEHOLDER = "@@BROADCAST_UNSUBSCRIBE_URL@@"
"""Rendered in place of the personal unsubscribe URL; each channel swaps in the real one."""

DEFAULT_LOCALE = "fr"
TEMPLATES_DIR = Path(__file__).parent.parent / "templates"

PlainValue = str | int | bool | None
"""The only values a template may see: no objects, so no attribute walks out of the sandbox."""

_PLAIN_TYPES = (str, int, bool, type(None))
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PART_NAMES = {"txt": "text", "html": "html"}


class Renderer:
    """Renders every part of one template for one channel and locale."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.templates_dir = TEMPLATES_DIR if templates_dir is None else templates_dir
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(self.templates_dir),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(
        self, channel: str, name: str, locale: str, context: Mapping[str, PlainValue]
    ) -> dict[str, str]:
        """The rendered parts (e.g. ``{"subject", "text", "html"}``) of ``name`` in ``locale``.

        Raises ``TemplateNotFound`` when neither the locale nor French has the template.
        """
        _check_plain(context)
        files = self.template_files(channel, name, locale)
        return {part: self._env.get_template(path).render(context) for part, path in files.items()}

    def template_files(self, channel: str, name: str, locale: str) -> dict[str, str]:
        """Part name -> template path (relative to the templates folder) for the best locale."""
        for segment in (channel, name):
            _check_segment(segment)
        for candidate in _candidate_locales(locale):
            files = self._files_for(channel, name, candidate)
            if files:
                return files
        raise TemplateNotFound(f"{channel}/{name}.{locale}.*")

    def _files_for(self, channel: str, name: str, locale: str) -> dict[str, str]:
        prefix = f"{name}.{locale}."
        folder = self.templates_dir / channel
        if not folder.is_dir():
            return {}
        return {
            _part_name(path.name.removeprefix(prefix)): f"{channel}/{path.name}"
            for path in sorted(folder.iterdir())
            if path.name.startswith(prefix) and path.is_file()
        }


_TEXT_ENVIRONMENT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def render_text(source: str, context: Mapping[str, PlainValue]) -> str:
    """A plain-text template given as a string (a notice template, say), rendered in the
    sandbox with plain values only; a missing variable raises ``UndefinedError``."""
    _check_plain(context)
    return _compiled_text(source).render(context)


def text_variables(source: str) -> frozenset[str]:
    """The variables a plain-text template reads."""
    return frozenset(meta.find_undeclared_variables(_TEXT_ENVIRONMENT.parse(source)))


@functools.lru_cache(maxsize=256)
def _compiled_text(source: str) -> Template:
    return _TEXT_ENVIRONMENT.from_string(source)


def _part_name(suffix: str) -> str:
    """``txt`` -> ``text``, ``html`` -> ``html``, ``subject.txt`` -> ``subject``."""
    if suffix in _PART_NAMES:
        return _PART_NAMES[suffix]
    return suffix.split(".", 1)[0]


def _candidate_locales(locale: str) -> list[str]:
    """``fr-CA`` -> ``["fr-CA", "fr"]``; always ending with the default locale."""
    language = re.split(r"[-_]", locale, maxsplit=1)[0]
    candidates = [locale, language, DEFAULT_LOCALE]
    valid = [c for c in candidates if _SAFE_SEGMENT.match(c)]
    return list(dict.fromkeys(valid))


def _check_segment(segment: str) -> None:
    if not _SAFE_SEGMENT.match(segment):
        raise ValueError(f"invalid template path segment: {segment!r}")


def _check_plain(context: Mapping[str, PlainValue]) -> None:
    for key, value in context.items():
        if not isinstance(value, _PLAIN_TYPES):
            raise TypeError(f"template context value {key!r} must be a plain value")
