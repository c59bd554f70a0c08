"""A request body limit applied before anything else, authentication included (RULES A5).

An ASGI middleware: a declared ``Content-Length`` over the limit is answered 413 at once, without
reading the body; a body sent without one (chunked) is counted as it streams and refused as soon
as it passes the limit. JSON bodies are limited to :data:`JSON_BODY_LIMIT`; an import upload to
the import limit of the settings, plus what the multipart envelope adds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_BODY_LIMIT = 1 << 20
MULTIPART_ENVELOPE = 64 << 10
"""Room for the multipart boundaries and form fields around an uploaded file."""
IMPORT_PATH = "/api/v1/imports"


def too_large_message(limit: int, locale: str) -> str:
    size = _size(limit)
    if locale == "en":
        return f"The request body is too large: at most {size}."
    return f"Le corps de la requête est trop volumineux : {size} au plus."


def _size(limit: int) -> str:
    return f"{limit / (1 << 20):.0f} Mo" if limit >= 1 << 20 else f"{limit >> 10} Ko"


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; the app's HTTP error handler answers it (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(limit, "en"))
        self.limit = limit


class BodyLimit:
    def __init__(self, app: App, *, import_limit: int) -> None:
        self.app = app
        self.import_limit = import_limit + MULTIPART_ENVELOPE

    def limit_for(self, scope: Scope) -> int:
        return self.import_limit if scope["path"] == IMPORT_PATH else JSON_BODY_LIMIT

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared[:20]) > limit):
            await _refuse(scope, send, limit)
            return
        await self.app(scope, _counting(receive, limit), send)


def _counting(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1").strip()
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    language = (_header(scope, b"accept-language") or "").lower()
    message = too_large_message(limit, "en" if language.startswith("en") else "fr")
    body = {"error": {"code": "payload_too_large", "message": message, "details": None}}
    response = JSONResponse(status_code=413, content=body, headers={"Connection": "close"})
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
