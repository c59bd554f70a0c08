"""The console's audit log page: its filters as a person types them (an action, a first and a
last day, Paris dates, both included) and the words it shows for the actions it knows."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from broadcast.accounts.schemas import AuditFilter
from broadcast.core.errors import InvalidInput
from broadcast.status.timefmt import PARIS

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "signin": ("Connexion", "Sign-in"),
    "signin.failed": ("Connexion refusée", "Sign-in refused"),
    "signout": ("Déconnexion", "Sign-out"),
    "notice.create": ("Avis créé", "Notice created"),
    "notice.edit": ("Avis modifié", "Notice edited"),
    "notice.status": ("État d'un avis changé", "Notice status changed"),
    "broadcast.send": ("Envoi demandé", "Send requested"),
    "broadcast.cancel": ("Envoi annulé", "Send cancelled"),
    "broadcast.change": ("Envoi modifié", "Send changed"),
    "contacts.import": ("Import de contacts", "Contact import"),
    "contacts.export": ("Export de contacts", "Contact export"),
    "contacts.read": ("Lecture de contacts", "Contacts read"),
    "contacts.erase": ("Effacement d'un contact", "Contact erased"),
    "contacts.import.start": ("Import de contacts déposé", "Contact import uploaded"),
    "contacts.suppression.add": (
        "Adresse mise en opposition",
        "Address put on the opposition list",
    ),
    "contacts.suppression.lift": ("Opposition levée", "Opposition lifted"),
    "audit.export": ("Export du journal", "Audit log export"),
    "report.create": ("Problème signalé", "Problem reported"),
    "report.to_incident": ("Incident ouvert à partir des signalements", "Incident from reports"),
    "operator.invite": ("Opérateur invité", "Operator invited"),
    "operator.invite_again": ("Invitation envoyée de nouveau", "Invitation sent again"),
    "operator.invitation_accepted": ("Invitation acceptée", "Invitation accepted"),
    "operator.role": ("Rôle d'un opérateur changé", "Operator's role changed"),
    "operator.disable": ("Opérateur désactivé", "Operator disabled"),
    "operator.enable": ("Opérateur réactivé", "Operator enabled"),
    "operator.second_factor_reset": ("Second facteur réinitialisé", "Second factor reset"),
    "password.reset_requested": ("Nouveau mot de passe demandé", "Password reset requested"),
    "password.reset_unknown": (
        "Nouveau mot de passe demandé pour une adresse inconnue",
        "Password reset asked for an unknown address",
    ),
    "password.reset": ("Mot de passe changé par un lien", "Password reset by a link"),
    "api_key.create": ("Clé d'API créée", "API key created"),
    "api_key.revoke": ("Clé d'API révoquée", "API key revoked"),
    "webhook.create": ("Webhook créé", "Webhook created"),
    "webhook.update": ("Webhook modifié", "Webhook changed"),
    "webhook.delete": ("Webhook supprimé", "Webhook deleted"),
}


def action_label(action: str, locale: str) -> str:
    french, english = ACTION_LABELS.get(action, (action, action))
    return english if locale == "en" else french


def filter_from_form(action: str, first_day: str, last_day: str) -> AuditFilter:
    """The page's fields as an :class:`AuditFilter`; a day unreadable, or a last day before
    the first, refused in French."""
    since = _day(first_day, "début")
    until = _day(last_day, "fin")
    if since and until and until < since:
        raise InvalidInput(
            "La date de fin précède la date de début.", "The end date is before the start date."
        )
    return AuditFilter(
        action=action.strip() or None,
        since=_start_of(since) if since else None,
        until=_start_of(until + timedelta(days=1)) if until else None,
    )


def _day(text: str, which: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Date de {which} illisible : « {text[:20]} ». Écrivez-la ainsi : 2026-12-03.",
            f"Unreadable {'start' if which == 'début' else 'end'} date: “{text[:20]}”. "
            "Write it as 2026-12-03.",
        ) from None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PARIS)
