"""Ready French notices a head teacher starts from (issue 5, item 10), with an English version.

Beside this national library, an académie writes its own templates (issue 9, item 4), stored in
:class:`broadcast.notices.models.AcademieNoticeTemplate`: every organisation under it sees them
with the national ones. An académie's keys cannot be national keys; its texts are checked as the
library's are (the placeholders declared are those the texts use; they render in the sandbox).

The library is data: each template has a key, a title and a message per locale written with
``{{ placeholders }}``, the placeholders it asks for, and the notice status it suggests. Values
are plain strings, rendered in Jinja2's sandbox (RULES A5). Texts keep to the GSM-7 alphabet
(straight apostrophes, no dashes nor no-break spaces) so that an SMS stays cheap (S4).
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateError, TemplateSyntaxError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import organisation_within_scope
from broadcast.accounts.service import Principal, audit
from broadcast.core.errors import InvalidInput, NotFound
from broadcast.core.timeutil import utcnow
from broadcast.directory.models import Organisation, OrganisationKind
from broadcast.notices.models import AcademieNoticeTemplate, NoticeStatus
from broadcast.notices.schemas import (
    MAX_MESSAGE,
    MAX_TITLE,
    MAX_VALUE,
    AcademieTemplateIn,
    FromTemplateIn,
    Locale,
    NoticeIn,
)
from broadcast.rendering import render_text, text_variables


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
    organisation_id: int | None = None
    """The académie that wrote it; None for the national library."""

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
        raise _unknown(key)
    return template


def _unknown(key: str) -> NotFound:
    return NotFound(
        f"Modèle d'avis inconnu : « {key[:64]} ».", f"Unknown notice template: {key[:64]!r}."
    )


async def templates_for(
    session: AsyncSession, organisation: Organisation | None
) -> list[NoticeTemplate]:
    """The national library, then the templates of the académie ``organisation`` is in."""
    if organisation is None:
        return list(LIBRARY)
    return [*LIBRARY, *await _academie_templates(session, organisation)]


async def find_template(
    session: AsyncSession, key: str, organisation: Organisation | None
) -> NoticeTemplate:
    """The national template ``key``, else the one of ``organisation``'s académie; 404."""
    if key in TEMPLATES:
        return TEMPLATES[key]
    for template in await templates_for(session, organisation):
        if template.key == key:
            return template
    raise _unknown(key)


def _ancestor_ids(organisation: Organisation) -> list[int]:
    """``/1/4/9/`` -> ``[1, 4, 9]``: the organisation and those above it."""
    return [int(part) for part in organisation.path.strip("/").split("/") if part.isdigit()]


async def _academie_templates(
    session: AsyncSession, organisation: Organisation
) -> list[NoticeTemplate]:
    rows = await session.scalars(
        select(AcademieNoticeTemplate)
        .join(Organisation, col(Organisation.id) == col(AcademieNoticeTemplate.organisation_id))
        .where(
            col(AcademieNoticeTemplate.organisation_id).in_(_ancestor_ids(organisation)),
            col(Organisation.kind) == OrganisationKind.academie,
        )
        .order_by(col(AcademieNoticeTemplate.key))
    )
    return [_from_row(row) for row in rows]


def _from_row(row: AcademieNoticeTemplate) -> NoticeTemplate:
    return NoticeTemplate(
        key=row.key,
        status=NoticeStatus(row.status),
        title=dict(row.title),
        message=dict(row.message),
        placeholders=tuple(Placeholder(**p) for p in row.placeholders),
        exercise=row.exercise,
        organisation_id=row.organisation_id,
    )


def _template_of(data: AcademieTemplateIn, academie_id: int) -> NoticeTemplate:
    return NoticeTemplate(
        key=data.key,
        status=data.status,
        title={"fr": data.title.fr, "en": data.title.en or data.title.fr},
        message={"fr": data.message.fr, "en": data.message.en or data.message.fr},
        placeholders=tuple(
            Placeholder(
                name=p.name,
                label_fr=p.label_fr,
                label_en=p.label_en or p.label_fr,
                example=p.example,
                required=p.required,
                max_length=p.max_length,
            )
            for p in data.placeholders
        ),
        exercise=data.exercise,
        organisation_id=academie_id,
    )


async def save_academie_template(
    session: AsyncSession, principal: Principal, data: AcademieTemplateIn
) -> NoticeTemplate:
    """Create or replace the académie's template ``data.key``, checked as the library is."""
    academie = await organisation_within_scope(session, principal, data.organisation_id)
    if academie.kind != OrganisationKind.academie:
        raise InvalidInput(
            "Les modèles d'avis se définissent pour une académie, dont les établissements "
            "héritent : choisissez l'académie.",
            "Notice templates are defined for an académie, inherited by its schools.",
        )
    if data.key in TEMPLATES:
        raise InvalidInput(
            f"« {data.key} » est un modèle de la bibliothèque nationale : "
            "choisissez une autre clé.",
            f"{data.key!r} is a national template: choose another key.",
        )
    template = _template_of(data, int(academie.id or 0))
    check_template(template)
    row = await _stored(session, template)
    audit(
        session,
        principal,
        "notice_template.save",
        organisation_id=academie.id,
        object_type="academie_notice_template",
        object_id=row.id,
        details={"key": template.key},
    )
    return template


async def _stored(session: AsyncSession, template: NoticeTemplate) -> AcademieNoticeTemplate:
    row = await session.scalar(
        select(AcademieNoticeTemplate).where(
            col(AcademieNoticeTemplate.organisation_id) == template.organisation_id,
            col(AcademieNoticeTemplate.key) == template.key,
        )
    )
    if row is None:
        row = AcademieNoticeTemplate(
            organisation_id=int(template.organisation_id or 0),
            key=template.key,
            status=template.status,
        )
        session.add(row)
    row.key, row.status, row.exercise = template.key, template.status, template.exercise
    row.title, row.message = dict(template.title), dict(template.message)
    row.placeholders = [
        {
            "name": p.name,
            "label_fr": p.label_fr,
            "label_en": p.label_en,
            "example": p.example,
            "required": p.required,
            "max_length": p.max_length,
        }
        for p in template.placeholders
    ]
    row.updated_at = utcnow()
    await session.flush()
    return row


def check_template(template: NoticeTemplate) -> None:
    """422 in French unless the texts use exactly the declared placeholders and render, with
    the examples, within a notice's limits in both languages."""
    texts = (*template.title.values(), *template.message.values())
    try:
        used = frozenset().union(*(text_variables(text) for text in texts))
    except TemplateSyntaxError as error:
        raise InvalidInput(
            f"Le modèle n'est pas valide (ligne {error.lineno}) : vérifiez les {{{{ }}}} "
            "et les {% %}.",
            f"The template is not valid (line {error.lineno}).",
        ) from error
    except RecursionError as error:  # thousands of nested brackets: no notice is written so
        raise InvalidInput(
            "Le modèle n'est pas valide : expressions trop imbriquées.",
            "The template is not valid: expressions nested too deeply.",
        ) from error
    declared = template.placeholder_names()
    if used != declared:
        raise InvalidInput(
            "Les valeurs déclarées doivent être celles que les textes utilisent : "
            + _difference(used - declared, declared - used),
            f"Declared values must be those the texts use: used {sorted(used)}, "
            f"declared {sorted(declared)}.",
        )
    examples = {p.name: p.example for p in template.placeholders}
    for locale in ("fr", "en"):
        render(template, examples, locale)


def _difference(undeclared: frozenset[str], unused: frozenset[str] | set[str]) -> str:
    parts = []
    if undeclared:
        parts.append(f"utilisées sans être déclarées : {', '.join(sorted(undeclared))}")
    if unused:
        parts.append(f"déclarées sans être utilisées : {', '.join(sorted(unused))}")
    return " ; ".join(parts) + "."


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


def notice_from_template(template: NoticeTemplate, data: FromTemplateIn) -> NoticeIn:
    """The notice a head teacher gets in one call from a template and his values."""
    rendered = render(template, data.values, data.locale)
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
