"""The ``Idempotency-Key`` header of the creation routes (RULES D6), as a route decorator."""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from broadcast.accounts import idempotency
from broadcast.core.uow import UnitOfWork

Endpoint = Callable[..., Awaitable[Any]]

KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=idempotency.MAX_KEY_LENGTH,
        description="Rejouer la même requête avec la même clé renvoie la première réponse (24 h).",
    ),
]


def idempotent(endpoint: Endpoint) -> Endpoint:
    """Give ``endpoint`` (a route taking ``uow`` and ``principal``) the ``Idempotency-Key`` header.

    With a key already seen for the caller's API key, the stored response is returned and the
    route does not run; with a new key, the route's response is stored in the request's own
    transaction (only a success is: a failure raises, and the transaction rolls back). Without
    the header the route runs as it always did."""
    signature = inspect.signature(endpoint, eval_str=True)
    if not {"uow", "principal"} <= signature.parameters.keys():
        raise TypeError(f"{endpoint.__name__} must take `uow` and `principal` to be idempotent")
    keyword = inspect.Parameter.KEYWORD_ONLY
    extra = [
        inspect.Parameter("idempotency_request", keyword, annotation=Request),
        inspect.Parameter("idempotency_key", keyword, annotation=KeyHeader, default=None),
    ]

    @functools.wraps(endpoint)
    async def wrapper(
        *, idempotency_request: Request, idempotency_key: str | None = None, **kwargs: Any
    ) -> Any:
        api_key_id: int | None = kwargs["principal"].api_key_id
        if idempotency_key is None or api_key_id is None:
            return await endpoint(**kwargs)
        run = functools.partial(endpoint, **kwargs)
        request, uow = idempotency_request, kwargs["uow"]
        return await _replay_or_run(run, request, uow, api_key_id, idempotency_key)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    return wrapper


async def _replay_or_run(
    run: Callable[[], Awaitable[Any]],
    request: Request,
    uow: UnitOfWork,
    api_key_id: int,
    key: str,
) -> JSONResponse:
    method_path = f"{request.method} {request.url.path}"[:255]
    body_hash = await _request_hash(request)
    found = await idempotency.find(uow.session, api_key_id, key)
    if found is not None:
        idempotency.ensure_same_request(found, method_path, body_hash)
        return JSONResponse(found.response_body, status_code=found.status_code)
    body = jsonable_encoder(await run())
    status_code = getattr(request.scope.get("route"), "status_code", None) or 200
    await idempotency.remember(
        uow.session,
        api_key_id=api_key_id,
        key=key,
        method_path=method_path,
        body_hash=body_hash,
        status_code=status_code,
        response_body=body,
    )
    return JSONResponse(body, status_code=status_code)


async def _request_hash(request: Request) -> str:
    """The hash of what was asked: the raw body, or for an upload (whose stream the form parser
    consumed) its fields and files, each file read once and rewound for the route."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return idempotency.request_hash(await request.body())
    digest = hashlib.sha256()
    for name, value in sorted((await request.form()).multi_items(), key=lambda item: item[0]):
        digest.update(name.encode() + b"\0")
        if isinstance(value, UploadFile):
            digest.update((value.filename or "").encode() + b"\0")
            while chunk := await value.read(1 << 20):
                digest.update(chunk)
            await value.seek(0)
        else:
            digest.update(value.encode())
        digest.update(b"\0")
    return digest.hexdigest()
