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
    # incidents
    "Incidents": "Incidents",
    "exercice": "exercise",
    "mis à jour {ago}": "updated {ago}",
    "prochaine mise à jour à {clock}": "next update at {clock}",
    "Prochaine mise à jour à {clock}": "Next update at {clock}",
    "Incidents résolus": "Resolved incidents",
    "Aucun incident résolu.": "No resolved incident.",
    "Tous les incidents": "All incidents",
    "publié sur la page d'état": "published on the status page",
    "non publié sur la page d'état": "not published on the status page",
    "services concernés : {services}": "services concerned: {services}",
    "Mise à jour publiée.": "Update published.",
    "État modifié.": "Status changed.",
    "Incident ouvert à partir des signalements.": "Incident opened from the reports.",
    "État": "Status",
    "Étapes de l'incident": "Stages of the incident",
    "Signalements liés": "Linked reports",
    "Signalé par 1 établissement :": "Reported by 1 school:",
    "Signalé par {n} établissements :": "Reported by {n} schools:",
    "Publier une mise à jour": "Post an update",
    "Message": "Message",
    "Prochaine mise à jour à (facultatif)": "Next update at (optional)",
    "Heure de Paris, aujourd'hui. Un rappel vous est envoyé par e-mail cinq minutes avant.": (
        "Paris time, today. A reminder is emailed to you five minutes before."
    ),
    "Publier la mise à jour": "Post the update",
    "Changer l'état sans message": "Change the status without a message",
    "Changer l'état": "Change the status",
    "Historique": "History",
    "Incident publié sur la page d'état.": "Incident published on the status page.",
    "Incident retiré de la page d'état.": "Incident withdrawn from the status page.",
    "Retirer de la page d'état": "Withdraw from the status page",
    "Publier sur la page d'état": "Publish on the status page",
    "Un exercice n'apparaît jamais sur la page d'état.": (
        "An exercise never appears on the status page."
    ),
    # reports
    "Merci : votre signalement ({service}) est transmis à l'académie.": (
        "Thank you: your report ({service}) has been passed on to the académie."
    ),
    "Signaler un problème": "Report a problem",
    "Un service ne fonctionne pas dans votre établissement ? Un appui suffit : l'académie est "
    "prévenue.": "A service does not work at your school? One tap is enough: the académie is told.",
    "L'ENT ne fonctionne pas chez nous": "The ENT does not work at our school",
    "{service} : ne fonctionne pas chez nous": "{service}: does not work at our school",
    "Vos signalements": "Your reports",
    "{service} signalé à {clock}": "{service} reported at {clock}",
    "L'académie a ouvert un incident : « {title} »": "The académie opened an incident: “{title}”",
    "En attente de prise en charge par l'académie.": "Waiting for the académie to take it up.",
    "Signalements des établissements": "Reports from schools",
    "1 établissement signale un problème {service} depuis {clock}": (
        "1 school reports a problem with {service} since {clock}"
    ),
    "{n} établissements signalent un problème {service} depuis {clock}": (
        "{n} schools report a problem with {service} since {clock}"
    ),
    "Ouvrir un incident {service} pour ces établissements": (
        "Open a {service} incident for these schools"
    ),
    "Aucun signalement en attente.": "No report waiting.",
    # audit log
    "Journal": "Log",
    "Journal d'audit": "Audit log",
    "Action": "Action",
    "Toutes": "All",
    "Du": "From",
    "Au (inclus)": "To (included)",
    "Filtrer": "Filter",
    "Télécharger ces entrées (CSV)": "Download these entries (CSV)",
    "Entrées du journal, les plus récentes d'abord": "Log entries, newest first",
    "Date": "Date",
    "Qui": "Who",
    "Organisation": "Organisation",
    "Objet": "Object",
    "Détails": "Details",
    "ligne de commande": "command line",
    "clé {prefix}": "key {prefix}",
    "Entrées plus anciennes": "Older entries",
    "Aucune entrée ne correspond.": "No entry matches.",
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
