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
    # Rédiger
    "Rédiger": "Compose",
    "Prévenir les familles": "Tell the families",
    "exercice": "drill",
    "E-mail": "Email",
    "SMS": "SMS",
    "Notification": "Notification",
    "Étapes": "Steps",
    "L'avis": "The notice",
    "L'audience": "The audience",
    "Les canaux": "The channels",
    "Vérifier": "Check",
    "Partir d'un modèle": "Start from a template",
    "Mettre à jour un incident en cours": "Update an open incident",
    "Texte libre": "Free text",
    "Écrire un avis sans modèle": "Write a notice without a template",
    "Choisissez le message : votre établissement est déjà rempli.": (
        "Choose the message: your school is already filled in."
    ),
    "Autres façons de rédiger": "Other ways to compose",
    "Rédiger à partir d'un modèle": "Compose from a template",
    "Organisation": "Organisation",
    "Exemple : {example}": "Example: {example}",
    "Titre": "Title",
    "Message": "Message",
    "État de l'incident": "Incident status",
    "Publier aussi sur la page d'état publique": "Also publish on the public status page",
    "Mettre à jour un incident": "Update an incident",
    "Mettre à jour : {title}": "Update: {title}",
    "À qui envoyer ?": "Who should receive it?",
    "Audience enregistrée": "Saved audience",
    "Reprendre une audience enregistrée": "Use a saved audience",
    "Aucune : les critères ci-dessous": "None: the criteria below",
    "Organisations": "Organisations",
    "Destinataires": "Recipients",
    "Aucune case cochée : tous les destinataires.": "Nothing ticked: every recipient.",
    "Types d'établissement": "School types",
    "Niveaux et classes": "Levels and classes",
    "Niveaux": "Levels",
    "Séparés par des virgules, par exemple : 6e, 5e. Vide : tous les niveaux.": (
        "Separated by commas, for example: 6e, 5e. Empty: every level."
    ),
    "Classes": "Classes",
    "Séparées par des virgules, par exemple : 3e A, 3e B. Vide : toutes les classes.": (
        "Separated by commas, for example: 3e A, 3e B. Empty: every class."
    ),
    "Familles (responsables légaux)": "Families (legal guardians)",
    "Élèves": "Pupils",
    "Enseignants": "Teachers",
    "Personnels": "Staff",
    "Équipe de direction": "Management team",
    "Écoles": "Primary schools",
    "Collèges": "Collèges (lower secondary)",
    "Lycées": "Lycées (upper secondary)",
    "Lycées professionnels": "Vocational lycées",
    "{n} personnes : {parts}": "{n} people: {parts}",
    "{n} SMS": "{n} SMS",
    "{n} e-mail": "{n} email",
    "{n} e-mails": "{n} emails",
    "{n} notification": "{n} notification",
    "{n} notifications": "{n} notifications",
    " et ": " and ",
    "Envoyer {what}": "Send {what}",
    "Programmer {what}": "Schedule {what}",
    "Demander l'approbation pour {what}": "Ask for approval to send {what}",
    "Par quels canaux ?": "Through which channels?",
    "Canaux": "Channels",
    "Quand ?": "When?",
    "Maintenant": "Now",
    "Plus tard": "Later",
    "Date et heure d'envoi (heure de Paris)": "Date and time of sending (Paris time)",
    "Options": "Options",
    "Urgent : passe avant les envois ordinaires": "Urgent: goes before ordinary sends",
    "Exercice : chaque message commence par « EXERCICE »": (
        "Drill: every message starts with “EXERCICE” (drill)"
    ),
    "Priorité inconnue.": "Unknown priority.",
    "Vérifier avant d'envoyer": "Check before sending",
    "Exercice": "Drill",
    "chaque message commence par « EXERCICE ».": "every message starts with “EXERCICE” (drill).",
    "Envoi": "Sending",
    "programmé le {when}": "scheduled for {when}",
    "envoi immédiat": "sent at once",
    "urgent": "urgent",
    "Approbation nécessaire": "Approval needed",
    "Aucune approbation n'est nécessaire : l'envoi part dès que vous confirmez.": (
        "No approval is needed: the messages leave as soon as you confirm."
    ),
    "Aucun destinataire : modifiez l'audience ou les canaux.": (
        "No recipient: change the audience or the channels."
    ),
    "Pour confirmer, saisissez le nombre de destinataires : {n}": (
        "To confirm, type the number of recipients: {n}"
    ),
    "Le nombre saisi ne correspond pas : tapez {n} pour confirmer l'envoi.": (
        "The number typed does not match: type {n} to confirm the send."
    ),
    "Modifier les canaux, l'heure ou le mode exercice": (
        "Change the channels, the time or drill mode"
    ),
    "Destinataires par canal": "Recipients per channel",
    "{n} personnes concernées": "{n} people concerned",
    "Canal": "Channel",
    "Écartés": "Left out",
    "Durée prévue": "Expected duration",
    "{n} sur liste d'opposition (STOP, désinscription, adresse invalide)": (
        "{n} on the opt-out list (STOP, unsubscribed, invalid address)"
    ),
    "{n} adresses en double": "{n} duplicate addresses",
    "{n} sans adresse sur ce canal": "{n} without an address on this channel",
    "{n} ont quitté l'établissement": "{n} have left the school",
    "{n} déjà joints par un canal précédent": "{n} already reached on an earlier channel",
    "aucun": "none",
    "sans limite de débit": "no rate limit",
    "Modifier l'audience": "Change the audience",
    "SMS : encodage, segments et coût": "SMS: encoding, segments and cost",
    "{encoding}, {chars} caractères, {segments} segment(s) par message, "
    "{total} segments au total": (
        "{encoding}, {chars} characters, {segments} segment(s) per message, {total} segments in all"
    ),
    "Coût estimé : {cost} €": "Estimated cost: €{cost}",
    "{price} € par segment": "€{price} per segment",
    "Remplacer la ponctuation typographique (’ « » … –) pour réduire le coût": (
        "Replace typographic punctuation (’ « » … –) to reduce the cost"
    ),
    "Seule la ponctuation change, jamais les lettres.": "Only punctuation changes, never letters.",
    "La ponctuation a été remplacée : le SMS ne contient plus de signes typographiques.": (
        "The punctuation was replaced: the SMS holds no typographic signs any more."
    ),
    "Rien à remplacer : la ponctuation convient déjà aux SMS.": (
        "Nothing to replace: the punctuation already suits SMS."
    ),
    "Plafonds restants": "Caps left",
    "par {period}": "per {period}",
    "{n} destinataires": "{n} recipients",
    "{n} segments SMS": "{n} SMS segments",
    "Les messages tels qu'ils seront reçus": "The messages as they will be received",
    "Objet": "Subject",
    "force l'encodage UCS-2": "forces the UCS-2 encoding",
    "Surlignés : les caractères qui forcent l'encodage UCS-2 (70 caractères par SMS au lieu "
    "de 160).": "Highlighted: the characters forcing UCS-2 (70 characters per SMS instead of 160).",
    "Cet envoi ne peut pas partir": "This send cannot go out",
    "Rédiger un autre avis": "Compose another notice",
    "Modifier les canaux": "Change the channels",
    "Envoi demandé": "Send requested",
    "Envoi en attente d'approbation": "Send waiting for approval",
    "Envoi programmé": "Send scheduled",
    "Envoi lancé": "Send started",
    "Un second opérateur doit approuver cet envoi ; les approbateurs ont été prévenus par "
    "e-mail.": "A second operator must approve this send; the approvers were told by email.",
    "L'envoi partira le {when}.": "The messages will leave on {when}.",
    "Les messages partent : {n} destinataires prévus.": (
        "The messages are leaving: {n} recipients planned."
    ),
    "L'audience dépasse un établissement : un second opérateur doit approuver l'envoi.": (
        "The audience goes beyond one school: a second operator must approve the send."
    ),
    "Le nombre de destinataires dépasse le seuil fixé : un second opérateur doit approuver "
    "l'envoi.": "The number of recipients is over the threshold: a second operator must approve.",
    "Le nombre de segments SMS dépasse le seuil fixé : un second opérateur doit approuver "
    "l'envoi.": "The SMS segments are over the threshold: a second operator must approve.",
    "Le coût SMS estimé dépasse le seuil fixé : un second opérateur doit approuver l'envoi.": (
        "The estimated SMS cost is over the threshold: a second operator must approve."
    ),
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
