"""Rédiger, later steps: the audience (with its count, also as JSON for the page's script), the
channels and options, « Vérifier » with its send button, and the page that follows the send.
The draft broadcast row carries the state from one page to the next."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from admin.console.deps import ConsoleUser, console_requires
from admin.console.forms import discard, form_error, form_lists, form_values
from admin.console.texts import translate
from admin.console.web import french_number, page, redirect
from admin.deps import SettingsDep, UowDep
from broadcast.accounts.permissions import Permission
from broadcast.accounts.scoped import covers
from broadcast.audiences.criteria import AudienceCriteria, SchoolType
from broadcast.audiences.preview import AudiencePreview
from broadcast.audiences.saved import list_saved_audiences
from broadcast.broadcasts import compose, service
from broadcast.broadcasts.models import Broadcast, BroadcastStatus, Priority
from broadcast.broadcasts.schemas import BroadcastPatch
from broadcast.core.errors import DomainError
from broadcast.core.validation import RowId
from broadcast.directory.models import ContactRole, Organisation
from broadcast.directory.service import organisations_in_scope
from broadcast.notices.service import get_notice

router = APIRouter(prefix="/console/rediger", include_in_schema=False)
Sender = Annotated[ConsoleUser, console_requires(Permission.broadcasts_send)]
ROLES = [role.value for role in ContactRole if role != ContactRole.follower]
SCHOOL_TYPES = [school_type.value for school_type in SchoolType]
ROLE_LABELS = {
    "guardian": "Familles (responsables légaux)",
    "pupil": "Élèves",
    "teacher": "Enseignants",
    "staff": "Personnels",
    "head": "Équipe de direction",
}
SCHOOL_TYPE_LABELS = {
    "ecole": "Écoles",
    "college": "Collèges",
    "lycee": "Lycées",
    "lp": "Lycées professionnels",
}
NORMALISED = {
    "1": "La ponctuation a été remplacée : le SMS ne contient plus de signes typographiques.",
    "0": "Rien à remplacer : la ponctuation convient déjà aux SMS.",
}
CHANNEL_ORDER = ("sms", "email", "push")
CHANNEL_WORDS = {
    "sms": ("{n} SMS", "{n} SMS"),
    "email": ("{n} e-mail", "{n} e-mails"),
    "push": ("{n} notification", "{n} notifications"),
}


async def _audience_organisations(
    uow: UowDep, user: ConsoleUser, broadcast: Broadcast
) -> list[Organisation]:
    """The organisations in scope under the notice's organisation, each after its parent."""
    notice = await get_notice(uow.session, user.principal, broadcast.notice_id)
    within = await uow.session.get(Organisation, notice.organisation_id)
    assert within is not None
    every = await organisations_in_scope(uow.session, user.principal)
    return [org for org in every if covers(within.path, org.path)]


def _criteria_of(form: dict[str, str], lists: dict[str, list[str]]) -> AudienceCriteria:
    def split(name: str) -> list[str]:
        return [part.strip() for part in form.get(name, "").split(",") if part.strip()]

    return AudienceCriteria.model_validate(
        {
            "organisation_ids": lists["organisation_ids"],
            "roles": lists["roles"],
            "school_types": lists["school_types"],
            "levels": split("levels"),
            "divisions": split("divisions"),
        }
    )


async def _posted_lists(request: Request) -> dict[str, list[str]]:
    return {
        name: await form_lists(request, name)
        for name in ("organisation_ids", "roles", "school_types")
    }


async def _audience_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    broadcast: Broadcast,
    *,
    criteria: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    criteria = criteria if criteria is not None else broadcast.audience
    count = None
    if error is None:
        count = await compose.audience_count(uow.session, user.principal, broadcast)
    return page(
        request,
        "compose_audience.html",
        locale=user.locale,
        status_code=status_code,
        user=user,
        broadcast=broadcast,
        organisations=await _audience_organisations(uow, user, broadcast),
        saved=await list_saved_audiences(uow.session, user.principal),
        roles=ROLES,
        role_labels=ROLE_LABELS,
        school_types=SCHOOL_TYPES,
        school_type_labels=SCHOOL_TYPE_LABELS,
        criteria=criteria,
        count=count,
        count_text=count_sentence(count, user.locale) if count else "",
        error=error,
    )


@router.get("/{broadcast_id}/audience")
async def audience_form(
    request: Request, uow: UowDep, user: Sender, broadcast_id: RowId
) -> Response:
    broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
    return await _audience_page(request, uow, user, broadcast)


@router.post("/{broadcast_id}/audience")
async def set_audience(
    request: Request, uow: UowDep, user: Sender, settings: SettingsDep, broadcast_id: RowId
) -> Response:
    broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
    form = await form_values(request)
    lists = await _posted_lists(request)
    saved = form.get("saved_audience_id", "")
    try:
        criteria = None if saved.isdigit() else _criteria_of(form, lists)
        await compose.set_audience(
            uow.session,
            user.principal,
            broadcast,
            criteria,
            int(saved) if saved.isdigit() else None,
            settings,
        )
    except (ValidationError, DomainError) as error:
        await discard(uow, user)
        message, status_code = form_error(error, user.locale)
        shown = {**lists, "levels": form.get("levels", ""), "divisions": form.get("divisions", "")}
        broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
        return await _audience_page(
            request, uow, user, broadcast, criteria=shown, error=message, status_code=status_code
        )
    return redirect(f"/console/rediger/{broadcast_id}/canaux")


@router.get("/{broadcast_id}/compte")
async def audience_count(
    request: Request, uow: UowDep, user: Sender, broadcast_id: RowId
) -> Response:
    """The count for the criteria in the query (the audience form's fields), for the page's
    script: ``{"contacts": 120, "channels": {"email": 118, "sms": 97}, "text": "..."}``."""
    broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
    query = request.query_params
    form = {key: query.get(key, "") for key in ("levels", "divisions")}
    lists = {name: query.getlist(name) for name in ("organisation_ids", "roles", "school_types")}
    try:
        criteria = _criteria_of(form, lists)
        preview = await compose.audience_count(uow.session, user.principal, broadcast, criteria)
    except (ValidationError, DomainError) as error:
        message, status_code = form_error(error, user.locale)
        return JSONResponse({"error": message}, status_code=status_code)
    return JSONResponse(
        {
            "contacts": preview.contacts,
            "channels": {c.channel: c.recipients for c in preview.channels},
            "text": count_sentence(preview, user.locale),
        }
    )


def count_sentence(preview: AudiencePreview, locale: str) -> str:
    """« 120 personnes : 118 e-mails, 97 SMS »."""
    parts = [_channel_words(c.channel, c.recipients, locale) for c in preview.channels]
    return translate("{n} personnes : {parts}", locale).format(
        n=french_number(preview.contacts), parts=", ".join(parts)
    )


def _channel_words(channel: str, count: int, locale: str) -> str:
    one, many = CHANNEL_WORDS.get(channel, ("{n} " + channel, "{n} " + channel))
    return translate(one if count == 1 else many, locale).format(n=french_number(count))


async def _channels_page(
    request: Request,
    user: ConsoleUser,
    broadcast: Broadcast,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    scheduled = broadcast.scheduled_at
    values = values or {
        "channels": broadcast.channels,
        "priority": broadcast.priority,
        "exercise": broadcast.is_exercise,
        "when": "later" if scheduled else "now",
        "scheduled_at": "",
    }
    return page(
        request,
        "compose_channels.html",
        locale=user.locale,
        status_code=status_code,
        user=user,
        broadcast=broadcast,
        values=values,
        error=error,
    )


@router.get("/{broadcast_id}/canaux")
async def channels_form(
    request: Request, uow: UowDep, user: Sender, broadcast_id: RowId
) -> Response:
    broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
    return await _channels_page(request, user, broadcast)


@router.post("/{broadcast_id}/canaux")
async def set_channels(
    request: Request, uow: UowDep, user: Sender, settings: SettingsDep, broadcast_id: RowId
) -> Response:
    broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
    form = await form_values(request)
    channels = await form_lists(request, "channels")
    later = form.get("when") == "later"
    try:
        patch = BroadcastPatch.model_validate(
            {"channels": channels, "scheduled_at": form.get("scheduled_at") if later else None}
        )
        if later and patch.scheduled_at is None:
            raise ValidationError.from_exception_data(
                "BroadcastPatch",
                [{"type": "missing", "loc": ("scheduled_at",), "input": None}],
            )
        options = compose.SendOptions(
            channels=patch.channels or [],
            priority=Priority(form.get("priority") or Priority.normal),
            is_exercise=form.get("exercise") == "1",
            scheduled_at=patch.scheduled_at,
        )
        await compose.set_options(uow.session, user.principal, broadcast, options, settings)
    except (ValidationError, DomainError, ValueError) as error:
        await discard(uow, user)
        if isinstance(error, (ValidationError, DomainError)):
            message, status_code = form_error(error, user.locale)
        else:
            message, status_code = translate("Priorité inconnue.", user.locale), 422
        values = {**form, "channels": channels, "exercise": form.get("exercise") == "1"}
        broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
        return await _channels_page(
            request, user, broadcast, values=values, error=message, status_code=status_code
        )
    return redirect(f"/console/rediger/{broadcast_id}/verifier")


def send_label(check: compose.Check, locale: str) -> str:
    """What the button does: « Envoyer 48 212 SMS et 51 030 e-mails »; « Programmer ... »
    when a time is set, « Demander l'approbation pour ... » when a second operator must."""
    present = [
        c for c in CHANNEL_ORDER if c in check.broadcast.channels and check.recipients_on(c) > 0
    ]
    parts = [_channel_words(c, check.recipients_on(c), locale) for c in present]
    if not parts:  # nobody to send to: the page shows no button
        return ""
    joined = (
        parts[0]
        if len(parts) == 1
        else ", ".join(parts[:-1]) + translate(" et ", locale) + parts[-1]
    )
    if check.preview.approval_reasons:
        verb = "Demander l'approbation pour {what}"
    elif check.broadcast.scheduled_at is not None:
        verb = "Programmer {what}"
    else:
        verb = "Envoyer {what}"
    return translate(verb, locale).format(what=joined)


async def _check_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    settings: SettingsDep,
    broadcast: Broadcast,
    *,
    error: str | None = None,
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    counts = request.app.state.recipient_counts
    try:
        check = await compose.check(uow.session, user.principal, broadcast, settings, counts)
    except DomainError as refused:  # an SMS over the provider's limit: nothing can be sent
        return page(
            request,
            "compose_refused.html",
            locale=user.locale,
            status_code=refused.status_code,
            user=user,
            broadcast=broadcast,
            message=refused.message(user.locale),
        )
    return page(
        request,
        "compose_check.html",
        locale=user.locale,
        status_code=status_code,
        user=user,
        check=check,
        send_label=send_label(check, user.locale),
        error=error,
        notice=notice,
        fast=request.query_params.get("rapide") == "1",
    )


@router.get("/{broadcast_id}/verifier")
async def check_page(
    request: Request, uow: UowDep, user: Sender, settings: SettingsDep, broadcast_id: RowId
) -> Response:
    broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
    normalised = request.query_params.get("normalise")
    notice = NORMALISED.get(normalised or "")
    return await _check_page(request, uow, user, settings, broadcast, notice=notice)


@router.post("/{broadcast_id}/normaliser")
async def normalise(request: Request, uow: UowDep, user: Sender, broadcast_id: RowId) -> Response:
    broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
    changed = await compose.normalise_sms_punctuation(uow.session, user.principal, broadcast)
    return redirect(f"/console/rediger/{broadcast_id}/verifier?normalise={int(changed)}")


def _typed_number(value: str) -> int | None:
    digits = "".join(value.split()).replace("\u202f", "")
    return int(digits) if digits.isdigit() and len(digits) <= 9 else None


@router.post("/{broadcast_id}/envoyer")
async def send(
    request: Request,
    uow: UowDep,
    user: Sender,
    settings: SettingsDep,
    broadcast_id: RowId,
) -> Response:
    broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
    form = await form_values(request)
    counts = request.app.state.recipient_counts  # counted now, and kept for the page again
    check = await compose.check(
        uow.session, user.principal, broadcast, settings, counts, recount=True
    )
    shown = form.get("vu", "")
    if shown and shown != check.shown:
        message = translate(
            "Les destinataires ont changé depuis l'affichage de la page : "
            "vérifiez les nouveaux chiffres, puis confirmez de nouveau.",
            user.locale,
        )
        return await _check_page(
            request, uow, user, settings, broadcast, error=message, status_code=422
        )
    if check.recipients == 0:
        message = translate("Aucun destinataire : modifiez l'audience ou les canaux.", user.locale)
        return await _check_page(
            request, uow, user, settings, broadcast, error=message, status_code=422
        )
    if check.typed_confirmation and _typed_number(form.get("nombre", "")) != check.recipients:
        message = translate(
            "Le nombre saisi ne correspond pas : tapez {n} pour confirmer l'envoi.", user.locale
        ).format(n=french_number(check.recipients))
        return await _check_page(
            request, uow, user, settings, broadcast, error=message, status_code=422
        )
    try:  # confirmed, it asks for its fan-out or the approvers' email after the commit
        await service.confirm(uow.session, user.principal, broadcast, settings)
    except DomainError as refused:
        await discard(uow, user)
        broadcast = await compose.get_draft(uow.session, user.principal, broadcast_id)
        return await _check_page(
            request,
            uow,
            user,
            settings,
            broadcast,
            error=refused.message(user.locale),
            status_code=refused.status_code,
        )
    return redirect(f"/console/rediger/{broadcast_id}/demande")


@router.get("/{broadcast_id}/demande")
async def requested(request: Request, uow: UowDep, user: Sender, broadcast_id: RowId) -> Response:
    """After the send button: what became of the request (sending, scheduled, waiting)."""
    broadcast = await service.get_broadcast(uow.session, user.principal, broadcast_id)
    if broadcast.status == BroadcastStatus.draft:
        return redirect(f"/console/rediger/{broadcast_id}/verifier")
    notice = await get_notice(uow.session, user.principal, broadcast.notice_id)
    return page(
        request,
        "compose_requested.html",
        locale=user.locale,
        user=user,
        broadcast=broadcast,
        notice=notice,
    )
