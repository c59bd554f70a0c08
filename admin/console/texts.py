"""The console's words: written in French in the templates and the code, with their English
form here for operators who chose English. A sentence missing here stays French."""

from __future__ import annotations

ENGLISH: dict[str, str] = {
    "Aller au contenu": "Skip to content",
    "Console de diffusion": "Broadcast console",
    "Connexion": "Sign in",
    "Se connecter": "Sign in",
    "Adresse électronique": "Email address",
    "Mot de passe": "Password",
    "Se déconnecter": "Sign out",
    "Tableau de bord": "Dashboard",
    "Code de vérification": "Verification code",
    "Valider": "Confirm",
    "État des services": "Service status",
    "Incidents en cours": "Open incidents",
    "Aucun incident en cours.": "No open incident.",
    "Envois en cours": "Sends in progress",
    "Aucun envoi en cours.": "No send in progress.",
    "En attente de mon approbation": "Waiting for my approval",
    "Aucun envoi n'attend votre approbation.": "No send is waiting for your approval.",
    "Envois programmés": "Scheduled sends",
    "Aucun envoi programmé.": "No scheduled send.",
    "Envois récents": "Recent sends",
    "Aucun envoi récent.": "No recent send.",
    "Page introuvable": "Page not found",
    "Accès refusé": "Access denied",
    "Retour au tableau de bord": "Back to the dashboard",
    "Activer la double authentification": "Turn on two-step verification",
    "Codes de secours": "Recovery codes",
    "Continuer": "Continue",
}


BROADCAST_STATUS: dict[str, tuple[str, str]] = {
    "draft": ("Brouillon", "Draft"),
    "pending_approval": ("En attente d'approbation", "Waiting for approval"),
    "rejected": ("Refusé", "Rejected"),
    "scheduled": ("Programmé", "Scheduled"),
    "queued": ("En file d'attente", "Queued"),
    "sending": ("Envoi en cours", "Sending"),
    "paused": ("En pause", "Paused"),
    "completed": ("Terminé", "Completed"),
    "cancelled": ("Annulé", "Cancelled"),
}


def broadcast_status(status: str, locale: str) -> str:
    french, english = BROADCAST_STATUS.get(status, (status, status))
    return english if locale == "en" else french


def translate(text: str, locale: str) -> str:
    return ENGLISH.get(text, text) if locale == "en" else text
