"""Domain errors carrying their HTTP status and a message a person understands, French first."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An error the API turns into ``{"error": {"code", "message", "details"}}``."""

    status_code = 400
    code = "bad_request"
    message_fr = "Requête invalide."
    message_en = "Invalid request."

    def __init__(
        self,
        message_fr: str | None = None,
        message_en: str | None = None,
        *,
        details: Any = None,
    ) -> None:
        if message_fr is not None:
            self.message_fr = message_fr
        if message_en is not None:
            self.message_en = message_en
        self.details = details
        super().__init__(self.message_en)

    def message(self, locale: str) -> str:
        return self.message_en if locale == "en" else self.message_fr


class NotFound(DomainError):
    """Also what an object outside the caller's scope looks like (RULES A1)."""

    status_code = 404
    code = "not_found"
    message_fr = "Introuvable."
    message_en = "Not found."


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"
    message_fr = "Authentification requise : fournissez une clé d'API valide."
    message_en = "Authentication required: provide a valid API key."


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    message_fr = "Votre rôle ne permet pas cette action."
    message_en = "Your role does not allow this action."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    message_fr = "Cette action n'est pas possible dans l'état actuel."
    message_en = "This action is not possible in the current state."


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"
    message_fr = "Certaines données sont invalides."
    message_en = "Some data is invalid."


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    message_fr = "Le corps de la requête est trop volumineux."
    message_en = "The request body is too large."
