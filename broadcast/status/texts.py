"""The words of the status pages, French first, English for ``Accept-Language: en``."""

from __future__ import annotations

from broadcast.notices.models import NoticeStatus

LOCALES = ("fr", "en")

LIFECYCLE: dict[str, dict[str, str]] = {
    "fr": {
        NoticeStatus.investigating: "Recherche en cours",
        NoticeStatus.identified: "Cause identifiée",
        NoticeStatus.monitoring: "Sous surveillance",
        NoticeStatus.resolved: "Résolu",
    },
    "en": {
        NoticeStatus.investigating: "Investigating",
        NoticeStatus.identified: "Identified",
        NoticeStatus.monitoring: "Monitoring",
        NoticeStatus.resolved: "Resolved",
    },
}

KIND: dict[str, dict[str, str]] = {
    "fr": {
        "region_academique": "la région académique",
        "academie": "l'académie",
        "departement": "le département",
        "etablissement": "l'établissement",
    },
    "en": {
        "region_academique": "the academic region",
        "academie": "the académie",
        "departement": "the département",
        "etablissement": "the school",
    },
}

WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "site": "État des services",
        "academies": "Les académies",
        "academies_intro": "Choisissez votre académie pour voir l'état des services et suivre "
        "les avis de votre établissement.",
        "all_good": "Aucun incident en cours.",
        "open_one": "1 incident en cours",
        "open_many": "{n} incidents en cours",
        "open": "Incidents en cours",
        "recent": "30 derniers jours",
        "nothing_recent": "Aucun incident résolu ces 30 derniers jours.",
        "services": "Services concernés",
        "updated": "Mis à jour {ago} ({when})",
        "next_update": "Prochaine mise à jour prévue à {clock}",
        "inherited": "Concerne tout {kind} : {name}",
        "beneath": "Concerne {name}",
        "timeline": "Historique",
        "beneath_list": "Pages des établissements et départements",
        "follow": "Suivre cette page",
        "follow_intro": "Recevez les nouveaux avis sans créer de compte.",
        "push_button": "Recevoir les notifications",
        "push_followed": "Vous recevrez les notifications de cette page sur cet appareil.",
        "push_unavailable": "Votre navigateur ne propose pas les notifications web.",
        "push_denied": "Les notifications sont bloquées pour ce site dans votre navigateur.",
        "push_offline": "Votre navigateur n'a pas pu joindre son service de notification "
        "(êtes-vous hors ligne ?). Vous pouvez suivre cette page par e-mail.",
        "push_refused": "L'abonnement n'a pas pu être enregistré. Vous pouvez suivre cette "
        "page par e-mail.",
        "ios": "Sur iPhone ou iPad (iOS 16.4 ou plus récent) : ouvrez cette page dans Safari, "
        "touchez le bouton Partager puis « Sur l'écran d'accueil ». Ouvrez ensuite la page "
        "depuis l'icône ajoutée et touchez « Recevoir les notifications ».",
        "email_label": "Votre adresse e-mail",
        "email_button": "Suivre par e-mail",
        "email_note": "Nous vous enverrons un lien de confirmation. Chaque message contient un "
        "lien de désinscription.",
        "feeds": "Flux et intégration",
        "atom": "Flux Atom",
        "json": "Données JSON",
        "embed": "Pour afficher les incidents en cours sur un autre site (page de connexion "
        "de l'ENT, site de l'académie), ajoutez une ligne :",
        "breadcrumb": "Fil d'Ariane",
        "language": "English",
        "more": "Voir la page complète",
        "independent": "Ce site est hébergé indépendamment de l'ENT.",
    },
    "en": {
        "site": "Service status",
        "academies": "Académies",
        "academies_intro": "Choose your académie to see the status of services and follow "
        "your school's notices.",
        "all_good": "No incident in progress.",
        "open_one": "1 incident in progress",
        "open_many": "{n} incidents in progress",
        "open": "Incidents in progress",
        "recent": "Last 30 days",
        "nothing_recent": "No incident resolved in the last 30 days.",
        "services": "Services concerned",
        "updated": "Updated {ago} ({when})",
        "next_update": "Next update expected at {clock}",
        "inherited": "Concerns all of {kind}: {name}",
        "beneath": "Concerns {name}",
        "timeline": "History",
        "beneath_list": "Pages of schools and départements",
        "follow": "Follow this page",
        "follow_intro": "Receive new notices without creating an account.",
        "push_button": "Receive notifications",
        "push_followed": "You will receive this page's notifications on this device.",
        "push_unavailable": "Your browser does not offer web notifications.",
        "push_denied": "Notifications are blocked for this site in your browser.",
        "push_offline": "Your browser could not reach its push service (are you offline?). "
        "You can follow this page by email.",
        "push_refused": "The subscription could not be saved. You can follow this page by email.",
        "ios": "On iPhone or iPad (iOS 16.4 or later): open this page in Safari, tap Share "
        "then “Add to Home Screen”. Then open the page from the new icon and tap “Receive "
        "notifications”.",
        "email_label": "Your email address",
        "email_button": "Follow by email",
        "email_note": "We will send you a confirmation link. Every message holds an "
        "unsubscribe link.",
        "feeds": "Feeds and embedding",
        "atom": "Atom feed",
        "json": "JSON data",
        "embed": "To show the incidents in progress on another site (the ENT's login page, "
        "the académie's site), add one line:",
        "breadcrumb": "Breadcrumb",
        "language": "Français",
        "more": "See the full page",
        "independent": "This site is hosted independently of the ENT.",
    },
}

FOLLOW_MAIL: dict[str, dict[str, str]] = {
    "fr": {
        "subject": "Confirmez votre abonnement : {name}",
        "text": "Bonjour,\n\n"
        "Vous avez demandé à recevoir par e-mail les avis publiés sur la page d'état des "
        "services de {name}.\n\n"
        "Pour confirmer, ouvrez ce lien puis validez : {link}\n\n"
        "Ce lien ne sert qu'une fois et expire dans trois jours. Si vous n'êtes pas à "
        "l'origine de cette demande, ignorez ce message : vous ne recevrez rien.\n\n"
        "Chaque avis envoyé contiendra un lien de désinscription.\n",
    },
    "en": {
        "subject": "Confirm your subscription: {name}",
        "text": "Hello,\n\n"
        "You asked to receive by email the notices published on the service status page of "
        "{name}.\n\n"
        "To confirm, open this link and validate: {link}\n\n"
        "This link works once and expires in three days. If you did not ask for this, ignore "
        "this message: you will receive nothing.\n\n"
        "Every notice sent will hold an unsubscribe link.\n",
    },
}

FOLLOW_PAGES: dict[str, dict[str, str]] = {
    "fr": {
        "sent_title": "Vérifiez votre messagerie",
        "sent": "Un e-mail de confirmation vient d'être envoyé à {email}. Ouvrez le lien qu'il "
        "contient pour suivre la page de {name}. Sans confirmation, vous ne recevrez rien.",
        "confirm_title": "Confirmer l'abonnement",
        "confirm": "Recevoir par e-mail les avis de {name} à l'adresse {email} ?",
        "confirm_button": "Confirmer l'abonnement",
        "confirmed_title": "Abonnement confirmé",
        "confirmed": "Vous recevrez par e-mail les avis de {name}. Chaque message contient un "
        "lien de désinscription.",
        "error_title": "Demande non aboutie",
        "back": "Retour à la page d'état des services",
    },
    "en": {
        "sent_title": "Check your mailbox",
        "sent": "A confirmation email was just sent to {email}. Open its link to follow the page "
        "of {name}. Without confirmation, you will receive nothing.",
        "confirm_title": "Confirm the subscription",
        "confirm": "Receive by email the notices of {name} at {email}?",
        "confirm_button": "Confirm the subscription",
        "confirmed_title": "Subscription confirmed",
        "confirmed": "You will receive the notices of {name} by email. Every message holds an "
        "unsubscribe link.",
        "error_title": "Request not completed",
        "back": "Back to the service status page",
    },
}
