"""The send's page: live progress per channel, failures by reason, the deliveries (masked),
pause / resume / cancel after a confirmation page, "Envoyer la suite" (the notice resolved, sent
to the same addresses) and the delivery report as CSV. The rules are
:mod:`broadcast.broadcasts`'s; these routes read the form and choose the page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from admin.console.deps import ConsoleUser, console_requires
from admin.console.texts import broadcast_status, translate
from admin.console.web import SESSION_COOKIE, action_named, page, redirect, render
from admin.deps import SettingsDep, UowDep
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.broadcasts import control, follow_up, service
from broadcast.broadcasts.live_progress import LiveProgress, Snapshot
from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.broadcasts.overview import FINISHED, ChannelProgress, progress_of
from broadcast.broadcasts.send_view import (
    DELIVERY_STATUS_FR,
    DeliverySearch,
    delivery_report,
    send_overview,
)
from broadcast.core.validation import ROW_ID_MAX, RowId, Text
from broadcast.notices.schemas import MAX_MESSAGE

router = APIRouter(prefix="/console/envois", include_in_schema=False)
Reader = Annotated[ConsoleUser, console_requires(Permission.broadcasts_read)]
DeliveryReader = Annotated[ConsoleUser, console_requires(Permission.deliveries_read)]
Sender = Annotated[ConsoleUser, console_requires(Permission.broadcasts_send)]

RESOLVED_MESSAGE = "Le problème est résolu : le service fonctionne de nouveau normalement."


@dataclass(frozen=True, slots=True)
class Action:
    """A change of a send in flight, and the page that asks to confirm it."""

    title: str
    explanation: str
    button: str
    allowed: tuple[str, ...]


ACTIONS = {
    "suspendre": Action(
        "Suspendre l'envoi ?",
        "Aucun nouveau message ne partira ; ceux en cours d'envoi se terminent. "
        "Vous pourrez reprendre l'envoi plus tard.",
        "Suspendre l'envoi",
        control.PAUSABLE,
    ),
    "reprendre": Action(
        "Reprendre l'envoi ?",
        "Les messages qui restent partiront, au rythme prévu.",
        "Reprendre l'envoi",
        (BroadcastStatus.paused,),
    ),
    "annuler": Action(
        "Annuler l'envoi ?",
        "Les messages qui ne sont pas encore partis ne partiront pas. Cette action est définitive.",
        "Annuler l'envoi",
        (
            BroadcastStatus.draft,
            BroadcastStatus.pending_approval,
            BroadcastStatus.scheduled,
            BroadcastStatus.queued,
            BroadcastStatus.sending,
            BroadcastStatus.paused,
        ),
    ),
}


def send_path(broadcast_id: int) -> str:
    return f"/console/envois/{broadcast_id}"


def _can_follow_up(broadcast: Broadcast) -> bool:
    planned = broadcast.fanout_done or broadcast.status == BroadcastStatus.cancelled
    return broadcast.status in follow_up.PLANNED and planned


@router.get("/{broadcast_id}")
async def send_page(
    request: Request,
    uow: UowDep,
    user: Reader,
    broadcast_id: RowId,
    adresse: Annotated[Text, Query(max_length=320)] = "",
    canal: Annotated[Text, Query(max_length=16)] = "",
    statut: Annotated[Text, Query(max_length=16)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    search = DeliverySearch(adresse, canal, statut, page_number)
    overview = await send_overview(uow.session, user.principal, broadcast_id, search)
    return page(
        request,
        "send.html",
        locale=user.locale,
        user=user,
        send=overview,
        search=search,
        controls=_controls(user.principal, overview.broadcast),
        delivery_statuses=DELIVERY_STATUS_FR,
    )


@dataclass(frozen=True, slots=True)
class Controls:
    """The buttons a send's status and the operator's role offer."""

    broadcast_id: int
    can_send: bool
    actions: dict[str, Action]
    can_follow_up: bool


def _controls(principal: Principal, broadcast: Broadcast) -> Controls:
    return Controls(
        broadcast.id or 0,
        principal.can(Permission.broadcasts_send),
        {name: a for name, a in ACTIONS.items() if broadcast.status in a.allowed},
        _can_follow_up(broadcast),
    )


def _announcement(status: str, progress: list[ChannelProgress], locale: str) -> str:
    """What the live region says: the status and, while sending, the share gone out in tens
    of percent, so that a screen reader hears a change, not every poll."""
    planned = sum(p.planned for p in progress)
    done = sum(p.done for p in progress)
    label = broadcast_status(status, locale)
    if status in FINISHED:
        return translate("{status} : {done} messages partis sur {planned}.", locale).format(
            status=label, done=done, planned=planned
        )
    tens = 10 * (100 * done // planned // 10) if planned else 0
    return translate("{status} : environ {percent} % des messages partis.", locale).format(
        status=label, percent=tens
    )


@router.get("/{broadcast_id}/progression")
async def progression(
    request: Request, uow: UowDep, user: Reader, broadcast_id: RowId
) -> JSONResponse:
    """What the page's script puts in place (see :func:`progress_answer`). Answered first by
    :class:`ProgressFastPath`; this route serves what it leaves: no session, a first factor
    only, no permission, a send absent or outside the scope."""
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    progress = await progress_of(uow.session, broadcast, request.app.state.live_counts)
    body = progress_answer(request, user.principal, user.locale, broadcast, progress)
    return JSONResponse(body, headers={"cache-control": "no-store"})


def progress_answer(
    request: Request,
    principal: Principal,
    locale: str,
    broadcast: Broadcast,
    progress: list[ChannelProgress],
) -> dict[str, object]:
    """The progress list and the buttons rendered by the page's own templates, the status,
    and the sentence for the live region."""
    html = render(request, "_progress_live.html", locale=locale, line={"progress": progress})
    controls = render(
        request, "_send_controls.html", locale=locale, controls=_controls(principal, broadcast)
    )
    return {
        "status": broadcast.status,
        "status_label": broadcast_status(broadcast.status, locale),
        "final": broadcast.status in FINISHED,
        "html": html,
        "controls": controls,
        "announcement": _announcement(broadcast.status, progress, locale),
    }


_PROGRESS_PATH = re.compile(r"/console/envois/([0-9]{1,10})/progression")
_JSON_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
]


class ProgressFastPath:
    """``GET /console/envois/{id}/progression`` answered before FastAPI's routing: every
    operator watching a send polls it, and the dependencies (the session's row, the
    operator's, the organisation's) cost most of an answer. The session comes from
    :class:`~broadcast.accounts.session_cache.SessionCache` (at most two seconds old, never
    past its timeout), the send's row and progress from :class:`~broadcast.broadcasts.
    live_progress.LiveProgress` (at most a second old, its scope checked on every request),
    and the answer is built once per second per send, language and role. Whatever it
    cannot answer with a 200 (no live session, no permission, a send absent or outside the
    scope) goes on to :func:`progression`, which answers it as before. Placed inside the
    security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _PROGRESS_PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if found is None or scope["method"] != "GET" or int(found.group(1)) > ROW_ID_MAX:
            await self.app(scope, receive, send)
            return
        body = await self._answer(scope, int(found.group(1)))
        if body is None:
            await self.app(scope, receive, send)
            return
        length = str(len(body)).encode()
        headers = [*_JSON_HEADERS, (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, broadcast_id: int) -> bytes | None:
        state: State = scope["app"].state
        token = Request(scope).cookies.get(SESSION_COOKIE)
        known = await state.console_sessions.lookup(state.session_factory, token)
        if known is None or not known.principal.can(Permission.broadcasts_read):
            return None
        principal, locale = known.principal, known.locale

        async def build(snapshot: Snapshot) -> bytes:
            body = progress_answer(
                Request(scope), principal, locale, snapshot.broadcast, snapshot.progress
            )
            return bytes(JSONResponse(body).body)

        variant = (locale, principal.can(Permission.broadcasts_send))
        live: LiveProgress = state.live_progress
        return await live.answer(state.session_factory, principal, broadcast_id, variant, build)


@router.get("/{broadcast_id}/suite")
async def follow_up_page(
    request: Request, uow: UowDep, user: Sender, broadcast_id: RowId
) -> Response:
    """The "résolu" follow-up, prefilled, to the addresses this send planned."""
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    return _follow_up_form(request, user, broadcast, await progress_of(uow.session, broadcast))


def _follow_up_form(
    request: Request,
    user: ConsoleUser,
    broadcast: Broadcast,
    progress: list[ChannelProgress],
    *,
    message: str = RESOLVED_MESSAGE,
    error: str | None = None,
) -> Response:
    return page(
        request,
        "send_follow_up.html",
        locale=user.locale,
        user=user,
        broadcast=broadcast,
        planned=sum(p.planned for p in progress),
        ready=_can_follow_up(broadcast),
        message=message,
        error=error,
        status_code=422 if error else 200,
    )


@router.post("/{broadcast_id}/suite")
async def send_follow_up(
    request: Request,
    uow: UowDep,
    user: Sender,
    settings: SettingsDep,
    broadcast_id: RowId,
    message: Annotated[Text, Form(max_length=MAX_MESSAGE)] = "",
) -> Response:
    """The notice resolved and the follow-up confirmed: to its page (or waiting for approval)."""
    earlier = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    if not message.strip():
        progress = await progress_of(uow.session, earlier)
        return _follow_up_form(
            request,
            user,
            earlier,
            progress,
            message="",
            error=translate("Écrivez le message de la suite avant de l'envoyer.", user.locale),
        )
    sent = await follow_up.send_resolution(  # confirmed: its jobs follow the commit
        uow.session, user.principal, earlier, message.strip(), settings
    )
    return redirect(send_path(sent.id or 0))


@router.get("/{broadcast_id}/rapport.csv")
async def report(uow: UowDep, user: DeliveryReader, broadcast_id: RowId) -> Response:
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    text = await delivery_report(uow.session, user.principal, broadcast)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="envoi-{broadcast_id}.csv"',
            "cache-control": "no-store",
        },
    )


# Last: "/{broadcast_id}/{action}" would also match the routes above.
@router.get("/{broadcast_id}/{action}")
async def confirm_action_page(
    request: Request, uow: UowDep, user: Sender, broadcast_id: RowId, action: str
) -> Response:
    chosen = action_named(ACTIONS, action)
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    return page(
        request,
        "send_confirm.html",
        locale=user.locale,
        user=user,
        broadcast=broadcast,
        action=action,
        chosen=chosen,
        channels=await progress_of(uow.session, broadcast),
    )


@router.post("/{broadcast_id}/{action}")
async def do_action(
    uow: UowDep,
    user: Sender,
    settings: SettingsDep,
    broadcast_id: RowId,
    action: str,
) -> Response:
    """The change confirmed; a send no longer in a state for it is a 409 page."""
    action_named(ACTIONS, action)
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    if action == "suspendre":
        await control.pause(uow.session, user.principal, broadcast)
    elif action == "reprendre":
        await control.resume(uow.session, user.principal, broadcast, settings.dispatch_batch_size)
    else:
        await service.cancel(uow.session, user.principal, broadcast)
    return redirect(send_path(broadcast_id))
