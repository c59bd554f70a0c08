"""Ready French notices a head teacher starts from (issue 5, item 10), with an English version.

The library is data: each template has a key, a title and a message per locale written with
``{{ placeholders }}``, the placeholders it asks for, and the notice status it suggests. Values
are plain strings, rendered in Jinja2's sandbox (RULES A5). Texts keep to the GSM-7 alphabet
(straight apostrophes, no dashes nor no-break spaces) so that an SMS stays cheap (S4).
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateError

from broadcast.core.errors import InvalidInput, NotFound
from broadcast.notices.models import NoticeStatus
from broadcast.notices.schemas import (
    MAX_MESSAGE,
    MAX_TITLE,
    MAX_VALUE,
    FromTemplateIn,
    Locale,
    NoticeIn,
)
from broadcast.rendering import render_text


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    label_fr: str
    label_en: str
    example: str
    required: bool = True
    max_length: int = 200


@dataclass(frozen=True, slots=True)
class NoticeTemplate:
    key: str
    status: NoticeStatus
    title: dict[str, str]
    message: dict[str, str]
    placeholders: tuple[Placeholder, ...]
    exercise: bool = False

    def placeholder_names(self) -> set[str]:
        return {p.name for p in self.placeholders}


ETABLISSEMENT = Placeholder(
    "etablissement", "Nom de l'établissement", "School name", "Collège Jean Moulin"
)
DETAILS = Placeholder(
    "details",
    "Précisions (facultatif)",
    "Details (optional)",
    "Les devoirs sont reportés.",
    required=False,
    max_length=MAX_VALUE,
)
SERVICE = Placeholder("service", "Service concerné", "Affected service", "l'ENT")
DATE = Placeholder("date", "Date", "Date", "lundi 30 novembre")
HEURE_RETOUR = Placeholder(
    "heure_retour", "Heure de retour prévue", "Expected time back", "14 h", required=False
)
_DETAILS_FR = "{% if details %} {{ details }}{% endif %}"

LIBRARY: tuple[NoticeTemplate, ...] = (
    NoticeTemplate(
        key="ent-indisponible",
        status=NoticeStatus.investigating,
        title={
            "fr": "{{ etablissement }} : ENT indisponible",
            "en": "{{ etablissement }}: digital workspace (ENT) unavailable",
        },
        message={
            "fr": "L'ENT de {{ etablissement }} est indisponible depuis {{ depuis }}. "
            "Les cours ont lieu normalement. Nous vous informerons de son retour." + _DETAILS_FR,
            "en": "The digital workspace (ENT) of {{ etablissement }} has been unavailable "
            "since {{ depuis }}. Lessons go ahead as usual. We will tell you when it is back."
            + _DETAILS_FR,
        },
        placeholders=(
            ETABLISSEMENT,
            Placeholder("depuis", "Depuis quand", "Since when", "ce matin 8 h"),
            DETAILS,
        ),
    ),
    NoticeTemplate(
        key="perturbation-en-cours",
        status=NoticeStatus.identified,
        title={
            "fr": "{{ etablissement }} : perturbation en cours",
            "en": "{{ etablissement }}: disruption in progress",
        },
        message={
            "fr": "Une perturbation touche {{ service }} à {{ etablissement }}."
            "{% if heure_retour %} Retour à la normale prévu vers {{ heure_retour }}.{% endif %}"
            + _DETAILS_FR,
            "en": "A disruption affects {{ service }} at {{ etablissement }}."
            "{% if heure_retour %} Expected back to normal around {{ heure_retour }}.{% endif %}"
            + _DETAILS_FR,
        },
        placeholders=(ETABLISSEMENT, SERVICE, HEURE_RETOUR, DETAILS),
    ),
    NoticeTemplate(
        key="retour-a-la-normale",
        status=NoticeStatus.resolved,
        title={
            "fr": "{{ etablissement }} : retour à la normale",
            "en": "{{ etablissement }}: back to normal",
        },
        message={
            "fr": "Retour à la normale à {{ etablissement }} : {{ service }} fonctionne de "
            "nouveau depuis {{ heure_retour }}. Merci de votre patience." + _DETAILS_FR,
            "en": "Back to normal at {{ etablissement }}: {{ service }} has been working again "
            "since {{ heure_retour }}. Thank you for your patience." + _DETAILS_FR,
        },
        placeholders=(
            ETABLISSEMENT,
            SERVICE,
            Placeholder("heure_retour", "Depuis quand", "Since when", "10 h 30"),
            DETAILS,
        ),
    ),
    NoticeTemplate(
        key="exercice",
        status=NoticeStatus.investigating,
        exercise=True,
        title={
            "fr": "Exercice à {{ etablissement }} le {{ date }}",
            "en": "Drill at {{ etablissement }} on {{ date }}",
        },
        message={
            "fr": "EXERCICE, ceci n'est pas une alerte réelle. Un exercice ({{ exercice }}) a "
            "lieu à {{ etablissement }} le {{ date }}{% if heure %} à {{ heure }}{% endif %}. "
            "Aucune action n'est attendue de votre part." + _DETAILS_FR,
            "en": "DRILL, this is not a real alert. A drill ({{ exercice }}) takes place at "
            "{{ etablissement }} on {{ date }}{% if heure %} at {{ heure }}{% endif %}. "
            "No action is expected from you." + _DETAILS_FR,
        },
        placeholders=(
            ETABLISSEMENT,
            Placeholder("exercice", "Type d'exercice", "Kind of drill", "PPMS intrusion"),
            DATE,
            Placeholder("heure", "Heure", "Time", "10 h", required=False),
            DETAILS,
        ),
    ),
    NoticeTemplate(
        key="fermeture-exceptionnelle",
        status=NoticeStatus.identified,
        title={
            "fr": "{{ etablissement }} : fermeture exceptionnelle le {{ date }}",
            "en": "{{ etablissement }}: exceptional closure on {{ date }}",
        },
        message={
            "fr": "{{ etablissement }} sera exceptionnellement fermé le {{ date }} ({{ motif }}). "
            "Les cours n'auront pas lieu ce jour-là." + _DETAILS_FR,
            "en": "{{ etablissement }} will exceptionally be closed on {{ date }} ({{ motif }}). "
            "There will be no lessons that day." + _DETAILS_FR,
        },
        placeholders=(
            ETABLISSEMENT,
            DATE,
            Placeholder("motif", "Motif", "Reason", "alerte météo"),
            DETAILS,
        ),
    ),
)
TEMPLATES: dict[str, NoticeTemplate] = {template.key: template for template in LIBRARY}


@dataclass(frozen=True, slots=True)
class RenderedNotice:
    template: str
    title: str
    message: str
    status: NoticeStatus
    exercise: bool


def get_template(key: str) -> NoticeTemplate:
    template = TEMPLATES.get(key)
    if template is None:
        raise NotFound(
            f"Modèle d'avis inconnu : « {key[:64]} ».", f"Unknown notice template: {key[:64]!r}."
        )
    return template


def render(template: NoticeTemplate, values: dict[str, str], locale: Locale) -> RenderedNotice:
    """Title and message with the values in; 422 naming any missing, unknown or too long value,
    and when the result exceeds a notice's limits."""
    context = _checked_context(template, {name: value.strip() for name, value in values.items()})
    try:
        title = render_text(template.title[locale], context).strip()
        message = render_text(template.message[locale], context).strip()
    except TemplateError as error:  # the library's own texts are wrong: tell, do not crash
        raise InvalidInput(
            f"Le modèle « {template.key} » ne peut pas être rendu.",
            f"Template {template.key!r} cannot be rendered.",
        ) from error
    _check_lengths(title, message)
    return RenderedNotice(
        template=template.key,
        title=title,
        message=message,
        status=template.status,
        exercise=template.exercise,
    )


def notice_from_template(data: FromTemplateIn) -> NoticeIn:
    """The notice a head teacher gets in one call from a template and his values."""
    rendered = render(get_template(data.template), data.values, data.locale)
    return NoticeIn(
        organisation_id=data.organisation_id,
        title=rendered.title,
        message=rendered.message,
        status=rendered.status,
        public=data.public,
        is_exercise=rendered.exercise,
    )


def _checked_context(template: NoticeTemplate, values: dict[str, str]) -> dict[str, str | None]:
    unknown = sorted(set(values) - template.placeholder_names())
    if unknown:
        raise InvalidInput(
            f"Valeur inconnue pour le modèle « {template.key} » : {', '.join(unknown)}.",
            f"Unknown value for template {template.key!r}: {', '.join(unknown)}.",
            details=[{"field": f"values.{name}", "message": "inconnu"} for name in unknown],
        )
    missing = [p.name for p in template.placeholders if p.required and not values.get(p.name)]
    if missing:
        raise InvalidInput(
            f"Valeur manquante pour le modèle « {template.key} » : {', '.join(missing)}.",
            f"Missing value for template {template.key!r}: {', '.join(missing)}.",
            details=[
                {"field": f"values.{name}", "message": "champ obligatoire"} for name in missing
            ],
        )
    _check_value_lengths(template, values)
    return {p.name: values.get(p.name) or None for p in template.placeholders}


def _check_value_lengths(template: NoticeTemplate, values: dict[str, str]) -> None:
    too_long = [p for p in template.placeholders if len(values.get(p.name, "")) > p.max_length]
    if too_long:
        names = ", ".join(f"{p.name} ({p.max_length} caractères au plus)" for p in too_long)
        raise InvalidInput(
            f"Valeur trop longue : {names}.",
            f"Value too long: {', '.join(p.name for p in too_long)}.",
        )


def _check_lengths(title: str, message: str) -> None:
    if len(title) > MAX_TITLE or len(message) > MAX_MESSAGE:
        raise InvalidInput(
            f"L'avis rendu dépasse {MAX_TITLE} caractères de titre ou {MAX_MESSAGE} de message.",
            f"The rendered notice exceeds {MAX_TITLE} title or {MAX_MESSAGE} message characters.",
        )
