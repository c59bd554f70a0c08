"""Where each public resource lives. A resource's key is its path in the exported site
(``status/STRAS/index.html``); the live service answers the same paths, directories included
(``/status/STRAS/`` and ``/status/STRAS``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "status"
ASSETS = (
    "static/status.css",
    "static/status.js",
    "static/banner.js",
    "static/icon.svg",
    "sw.js",
)
_CODE = r"[A-Za-z0-9_-]{1,32}"
_ORG_RESOURCES = {
    "index.html": ("page", "fr"),
    "en/index.html": ("page", "en"),
    "banner/index.html": ("banner", "fr"),
    "banner/en/index.html": ("banner", "en"),
    "status.json": ("json", "fr"),
    "feed.atom": ("atom", "fr"),
    "manifest.webmanifest": ("manifest", "fr"),
}
_ORG_KEY = re.compile(rf"^{ROOT}/({_CODE})/(.+)$")


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    """``index``, ``page``, ``banner``, ``json``, ``atom``, ``manifest`` or ``asset``."""
    locale: str
    code: str | None = None
    asset: str | None = None


def page_path(code: str, locale: str = "fr") -> str:
    return f"/{ROOT}/{code}/" + ("en/" if locale == "en" else "")


def index_path(locale: str = "fr") -> str:
    return f"/{ROOT}/" + ("en/" if locale == "en" else "")


def banner_path(code: str, locale: str = "fr") -> str:
    return f"/{ROOT}/{code}/banner/" + ("en/" if locale == "en" else "")


def json_path(code: str) -> str:
    return f"/{ROOT}/{code}/status.json"


def atom_path(code: str) -> str:
    return f"/{ROOT}/{code}/feed.atom"


def manifest_path(code: str) -> str:
    return f"/{ROOT}/{code}/manifest.webmanifest"


def org_keys(code: str) -> list[str]:
    return [f"{ROOT}/{code}/{name}" for name in _ORG_RESOURCES]


def index_keys() -> list[str]:
    return [f"{ROOT}/index.html", f"{ROOT}/en/index.html"]


def asset_keys() -> list[str]:
    return [f"{ROOT}/{name}" for name in ASSETS]


def key_of_path(path: str) -> str | None:
    """The resource key a request path names (``/status/STRAS`` -> ``status/STRAS/index.html``),
    or None outside the site."""
    clean = path.strip("/")
    if not (clean == ROOT or clean.startswith(ROOT + "/")) or ".." in clean:
        return None
    if clean.endswith((".html", ".json", ".atom", ".js", ".css", ".svg", ".webmanifest")):
        return clean
    return clean + "/index.html"


def resource_of(key: str) -> Resource | None:
    """What a key names; None for a key the site does not have."""
    if key in index_keys():
        return Resource("index", "en" if key.endswith("en/index.html") else "fr")
    if key in asset_keys():
        return Resource("asset", "fr", asset=key.removeprefix(ROOT + "/"))
    match = _ORG_KEY.match(key)
    if match is None or match.group(2) not in _ORG_RESOURCES:
        return None
    kind, locale = _ORG_RESOURCES[match.group(2)]
    return Resource(kind, locale, code=match.group(1))


def negotiated(key: str, accept_language: str) -> str:
    """A French page key becomes its English one when the reader prefers English (the
    static copy has both under their own paths)."""
    if not _prefers_english(accept_language):
        return key
    if key == f"{ROOT}/index.html":
        return f"{ROOT}/en/index.html"
    match = _ORG_KEY.match(key)
    if match and match.group(2) in ("index.html", "banner/index.html"):
        return key.removesuffix("index.html") + "en/index.html"
    return key


def _prefers_english(accept_language: str) -> bool:
    """The first language named decides: ``en-GB,en;q=0.9,fr;q=0.8`` is English."""
    first = accept_language.split(",")[0].strip().lower()
    return first.startswith("en")
