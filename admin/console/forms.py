"""What the console's forms share: the posted values, a refused form's message in the
operator's language, and a request's writes undone before the form is shown again."""

from __future__ import annotations

from fastapi import Request
from pydantic import ValidationError

from admin.console.deps import ConsoleUser
from broadcast.core.errors import DomainError
from broadcast.core.uow import UnitOfWork, forget_pending_jobs
from broadcast.core.validation import describe_errors
from broadcast.status.changes import take_status_changes

FIELD_LABELS = {
    "organisation_id": ("Organisation", "Organisation"),
    "organisation_ids": ("Organisations", "Organisations"),
    "title": ("Titre", "Title"),
    "message": ("Message", "Message"),
    "status": ("État", "Status"),
    "values": ("Valeurs", "Values"),
    "roles": ("Destinataires", "Recipients"),
    "levels": ("Niveaux", "Levels"),
    "divisions": ("Classes", "Classes"),
    "school_types": ("Types d'établissement", "School types"),
    "channels": ("Canaux", "Channels"),
    "scheduled_at": ("Heure d'envoi", "Send time"),
    "priority": ("Priorité", "Priority"),
}


async def form_values(request: Request) -> dict[str, str]:
    """The posted fields, one value each (the first), the CSRF token left out."""
    form = await request.form()
    return {key: str(value) for key, value in form.items() if key != "csrf"}


async def form_lists(request: Request, name: str) -> list[str]:
    """Every value posted under ``name`` (checkboxes), blanks left out."""
    form = await request.form()
    return [str(v).strip() for v in form.getlist(name) if str(v).strip()]


def form_error(error: ValidationError | DomainError, locale: str) -> tuple[str, int]:
    """The sentence to show above the form, and the status to answer with."""
    if isinstance(error, DomainError):
        return error.message(locale), error.status_code
    english = locale == "en"
    parts = []
    for detail in describe_errors(error.errors(), locale)[:5]:
        head = detail["field"].split(".")[0]
        label = FIELD_LABELS.get(head, (head, head))[1 if english else 0]
        parts.append(f"{label} : {detail['message']}" if head else detail["message"])
    lead = "Please correct: " if english else "À corriger : "
    return lead + " ; ".join(parts) + ".", 422


async def discard(uow: UnitOfWork, user: ConsoleUser) -> None:
    """Undo the request's writes (a refused form keeps nothing), and reload what the page
    shows of the operator."""
    await uow.session.rollback()
    forget_pending_jobs(uow.session)
    take_status_changes(uow.session)
    await uow.session.refresh(user.operator)
    await uow.session.refresh(user.organisation)
