"""One public resource as served: its bytes, pre-compressed, and its strong ETag; and the
answer to a GET for it (304 on a matching ``If-None-Match``, the encoding the client accepts)."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

try:  # optional: brotli where it installs, gzip everywhere
    import brotli
except ImportError:  # pragma: no cover - depends on the platform's wheels
    brotli = None

BROTLI_QUALITY = 5
"""Quality 11 took about 40 ms a page (a publication renders a dozen resources: most of its
latency) for a few per cent fewer bytes than 5, which takes about 1 ms."""
CACHE_CONTROL = "public, max-age=30, stale-while-revalidate=300, stale-if-error=86400"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".atom": "application/atom+xml; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors {ancestors}"
)


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    gzip: bytes
    brotli: bytes | None
    etag: str
    """Strong, of the identity body; the compressed forms carry ``-gz`` / ``-br`` after it."""
    content_type: str

    @classmethod
    def of(cls, key: str, body: bytes) -> Entry:
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(
            body=body,
            gzip=gzip.compress(body, compresslevel=9, mtime=0),
            brotli=brotli.compress(body, quality=BROTLI_QUALITY) if brotli is not None else None,
            etag=digest,
            content_type=content_type_of(key),
        )

    def to_redis(self) -> dict[str, bytes]:
        fields = {
            "body": self.body,
            "gzip": self.gzip,
            "etag": self.etag.encode(),
            "type": self.content_type.encode(),
        }
        if self.brotli is not None:
            fields["brotli"] = self.brotli
        return fields

    @classmethod
    def from_redis(cls, fields: dict[bytes, bytes]) -> Entry | None:
        if b"body" not in fields or b"etag" not in fields:
            return None
        return cls(
            body=fields[b"body"],
            gzip=fields.get(b"gzip") or gzip.compress(fields[b"body"], mtime=0),
            brotli=fields.get(b"brotli"),
            etag=fields[b"etag"].decode(),
            content_type=fields.get(b"type", b"application/octet-stream").decode(),
        )


def content_type_of(key: str) -> str:
    suffix = key[key.rfind(".") :] if "." in key else ""
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def answer(
    entry: Entry,
    *,
    accept_encoding: str,
    if_none_match: str | None,
    vary_language: bool,
    embeddable: bool = False,
    head: bool = False,
) -> Answer:
    """200 with the best encoding the client accepts, or 304 when it holds this version."""
    encoding, body = _encoded(entry, accept_encoding)
    etag = f'"{entry.etag}{_ETAG_SUFFIX[encoding]}"'
    headers = _headers(entry, etag, vary_language, embeddable)
    if _matches(if_none_match, entry.etag):
        return Answer(304, headers, b"")
    if encoding != "identity":
        headers.append(("content-encoding", encoding))
    headers.append(("content-length", str(len(body))))
    return Answer(200, headers, b"" if head else body)


_ETAG_SUFFIX = {"identity": "", "gzip": "-gz", "br": "-br"}


def _encoded(entry: Entry, accept_encoding: str) -> tuple[str, bytes]:
    accepted = _accepted_encodings(accept_encoding)
    if entry.brotli is not None and "br" in accepted:
        return "br", entry.brotli
    if "gzip" in accepted:
        return "gzip", entry.gzip
    return "identity", entry.body


def _accepted_encodings(header: str) -> set[str]:
    accepted = set()
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if params.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue
        accepted.add(name.strip())
    return accepted


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = (t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(","))
    return any(tag.removesuffix("-gz").removesuffix("-br") == etag for tag in tags)


def _headers(
    entry: Entry, etag: str, vary_language: bool, embeddable: bool
) -> list[tuple[str, str]]:
    headers = [
        ("content-type", entry.content_type),
        ("cache-control", CACHE_CONTROL),
        ("etag", etag),
        ("vary", "Accept-Encoding, Accept-Language" if vary_language else "Accept-Encoding"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ]
    if entry.content_type.startswith("application/json"):
        headers.append(("access-control-allow-origin", "*"))
    if entry.content_type.startswith("text/html"):
        headers.append(
            ("content-security-policy", _CSP.format(ancestors="*" if embeddable else "'self'"))
        )
    return headers


def follow_page_headers() -> list[tuple[str, str]]:
    """The email follow's answers: HTML made for one person, never stored by a cache, and
    never sending the link's token on as a referrer."""
    return [
        ("content-type", CONTENT_TYPES[".html"]),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("content-security-policy", _CSP.format(ancestors="'self'")),
    ]
