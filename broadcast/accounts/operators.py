"""Managing operators (issue 11, item 9): those of one's scope listed, invited, given another
role or organisation, disabled and enabled again, their second factor reset, their invitation
sent again. Platform admins and académie officers do it, within their scope (RULES A1): an
operator of another subtree is 404, one of a higher role than one's own is refused, and nobody
grants a role above his own. Every change is audited in its transaction; disabling, a new role
and a reset second factor close the operator's sessions.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.links import IssuedLink, LinkPurpose, issue_link
from broadcast.accounts.models import Operator, OperatorLink, Role
from broadcast.accounts.permissions import ROLE_SCOPE_KINDS
from broadcast.accounts.scoped import covers, in_scope
from broadcast.accounts.service import Principal, audit, create_operator
from broadcast.accounts.signin import close_all_sessions
from broadcast.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from broadcast.core.masking import mask_email
from broadcast.core.sqlutil import row_id
from broadcast.directory.models import Organisation, OrganisationKind

ROLE_RANK = {
    Role.viewer: 0,
    Role.head_teacher: 1,
    Role.academie_officer: 2,
    Role.platform_admin: 3,
}
ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.platform_admin: ("Administrateur de la plateforme", "Platform administrator"),
    Role.academie_officer: ("Chargé de communication", "Communication officer"),
    Role.head_teacher: ("Chef d'établissement", "Head teacher"),
    Role.viewer: ("Lecteur", "Viewer"),
}
KIND_LABELS: dict[str, str] = {
    OrganisationKind.region_academique: "une région académique",
    OrganisationKind.academie: "une académie",
    OrganisationKind.departement: "un département",
    OrganisationKind.etablissement: "un établissement",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class OperatorNotFound(NotFound):
    message_fr = "Cet opérateur n'existe pas, ou il n'est pas dans votre périmètre."
    message_en = "This operator does not exist, or is not within your scope."


class RoleAboveYours(Forbidden):
    message_fr = (
        "Vous ne pouvez pas donner un rôle supérieur au vôtre, ni gérer un opérateur dont le "
        "rôle est supérieur au vôtre."
    )
    message_en = (
        "You cannot grant a role above yours, nor manage an operator whose role is above yours."
    )


class OperatorState(enum.StrEnum):
    invited = "invite"
    active = "actif"
    disabled = "desactive"


STATE_LABELS = {
    OperatorState.invited: ("Invité, mot de passe pas encore choisi", "Invited, no password yet"),
    OperatorState.active: ("Actif", "Active"),
    OperatorState.disabled: ("Désactivé", "Disabled"),
}


def role_label(role: str, locale: str) -> str:
    french, english = ROLE_LABELS.get(Role(role), (role, role))
    return english if locale == "en" else french


def state_of(operator: Operator) -> OperatorState:
    if not operator.active:
        return OperatorState.disabled
    if operator.password_hash is None:
        return OperatorState.invited
    return OperatorState.active


def roles_grantable(principal: Principal) -> list[Role]:
    """The roles the principal may give: his own and those below it."""
    return [role for role in Role if ROLE_RANK[role] <= ROLE_RANK[principal.role]]


@dataclass(frozen=True, slots=True)
class OperatorLine:
    operator: Operator
    organisation: Organisation

    @property
    def state(self) -> OperatorState:
        return state_of(self.operator)

    @property
    def masked_email(self) -> str:
        return mask_email(self.operator.email)


async def list_operators(
    session: AsyncSession, principal: Principal, *, offset: int = 0, limit: int = 50
) -> tuple[list[OperatorLine], int]:
    """The operators anchored in the principal's scope, by name, and how many there are."""
    query = (
        select(Operator, Organisation)
        .join(Organisation, col(Organisation.id) == col(Operator.organisation_id))
        .where(in_scope(principal))
    )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(col(Operator.display_name), col(Operator.id)).offset(offset).limit(limit)
    )
    return [OperatorLine(*row) for row in rows.all()], int(total or 0)


async def get_operator(
    session: AsyncSession, principal: Principal, operator_id: int
) -> OperatorLine:
    """The operator ``operator_id`` if he is anchored within scope, else 404."""
    operator = await session.get(Operator, operator_id)
    organisation = (
        await session.get(Organisation, operator.organisation_id) if operator is not None else None
    )
    if (
        operator is None
        or organisation is None
        or not covers(principal.scope_path, organisation.path)
    ):
        raise OperatorNotFound()
    return OperatorLine(operator, organisation)


def _may_manage(principal: Principal, target: Operator) -> None:
    if ROLE_RANK[Role(target.role)] > ROLE_RANK[principal.role]:
        raise RoleAboveYours()


def _not_oneself(principal: Principal, target: Operator, what: str, what_en: str) -> None:
    if target.id == principal.operator_id:
        raise InvalidInput(
            f"Vous ne pouvez pas {what} votre propre compte : demandez-le à un autre "
            "administrateur.",
            f"You cannot {what_en} your own account: ask another administrator.",
        )


def _role(value: str) -> Role:
    try:
        return Role(value.strip())
    except ValueError:
        raise InvalidInput(
            "Choisissez un rôle dans la liste.", "Choose a role from the list."
        ) from None


async def _organisation(
    session: AsyncSession, principal: Principal, code: str, role: Role
) -> Organisation:
    """The organisation of ``code`` within scope, where ``role`` may be anchored."""
    code = code.strip().upper()
    if not code:
        raise InvalidInput(
            "Indiquez le code de l'organisation (l'UAI pour un établissement).",
            "Give the organisation's code (the UAI for a school).",
        )
    organisation = await session.scalar(
        select(Organisation).where(func.upper(col(Organisation.code)) == code)
    )
    if organisation is None or not covers(principal.scope_path, organisation.path):
        raise InvalidInput(
            f"Aucune organisation de code « {code[:32]} » dans votre périmètre.",
            f"No organisation with code “{code[:32]}” within your scope.",
        )
    kinds = ROLE_SCOPE_KINDS[role]
    if OrganisationKind(organisation.kind) not in kinds:
        allowed = ", ".join(KIND_LABELS[kind] for kind in OrganisationKind if kind in kinds)
        raise InvalidInput(
            f"Le rôle « {ROLE_LABELS[role][0]} » se rattache à {allowed}, pas à "
            f"{KIND_LABELS.get(organisation.kind, organisation.kind)}.",
            f"The role “{ROLE_LABELS[role][1]}” is anchored at another kind of organisation.",
        )
    return organisation


async def invite(
    session: AsyncSession,
    principal: Principal,
    *,
    email: str,
    display_name: str,
    role: str,
    organisation_code: str,
) -> tuple[Operator, IssuedLink]:
    """A new operator without a password, and the invitation link to email him."""
    email = email.strip().lower()
    display_name = " ".join(display_name.split())
    if not _EMAIL.fullmatch(email) or len(email) > 320:
        raise InvalidInput(
            "Indiquez une adresse électronique complète, par exemple prenom.nom@ac-exemple.fr.",
            "Give a complete email address, e.g. first.last@ac-example.fr.",
        )
    if not display_name or len(display_name) > 200:
        raise InvalidInput(
            "Indiquez le nom de la personne (200 caractères au plus).",
            "Give the person's name (200 characters at most).",
        )
    chosen = _role(role)
    if ROLE_RANK[chosen] > ROLE_RANK[principal.role]:
        raise RoleAboveYours()
    organisation = await _organisation(session, principal, organisation_code, chosen)
    taken = await session.scalar(select(col(Operator.id)).where(col(Operator.email) == email))
    if taken is not None:
        raise InvalidInput(
            "Un opérateur a déjà cette adresse : retrouvez-le dans la liste.",
            "An operator already has this address: find him in the list.",
        )
    operator = await create_operator(
        session, email=email, display_name=display_name, role=chosen, organisation=organisation
    )
    issued = await issue_link(session, operator, LinkPurpose.invitation)
    _audit(
        session,
        principal,
        "operator.invite",
        operator,
        {"role": chosen, "email": mask_email(email)},
    )
    return operator, issued


async def change_role(
    session: AsyncSession,
    principal: Principal,
    line: OperatorLine,
    *,
    role: str,
    organisation_code: str,
) -> None:
    """Another role or organisation; the operator signs in again (a role may need a second
    factor his sessions were opened without)."""
    target = line.operator
    _may_manage(principal, target)
    _not_oneself(principal, target, "changer le rôle de", "change the role of")
    chosen = _role(role)
    if ROLE_RANK[chosen] > ROLE_RANK[principal.role]:
        raise RoleAboveYours()
    organisation = await _organisation(session, principal, organisation_code, chosen)
    before = {"role": target.role, "organisation": line.organisation.code}
    target.role = chosen
    target.organisation_id = row_id(organisation)
    await close_all_sessions(session, row_id(target))
    after = {"role": chosen.value, "organisation": organisation.code}
    _audit(session, principal, "operator.role", target, {"before": before, "after": after})


async def disable(session: AsyncSession, principal: Principal, line: OperatorLine) -> None:
    """No more sign-in nor API key; his sessions and unused links end now."""
    target = line.operator
    _may_manage(principal, target)
    _not_oneself(principal, target, "désactiver", "disable")
    target.active = False
    await close_all_sessions(session, row_id(target))
    await session.execute(
        delete(OperatorLink).where(
            col(OperatorLink.operator_id) == row_id(target), col(OperatorLink.used_at).is_(None)
        )
    )
    _audit(session, principal, "operator.disable", target)


async def enable(session: AsyncSession, principal: Principal, line: OperatorLine) -> None:
    target = line.operator
    _may_manage(principal, target)
    target.active = True
    _audit(session, principal, "operator.enable", target)


async def reset_second_factor(
    session: AsyncSession, principal: Principal, line: OperatorLine
) -> None:
    """The authenticator app and recovery codes forgotten: at his next sign-in the operator
    activates a new one (or, a head teacher, signs in with his password alone)."""
    target = line.operator
    _may_manage(principal, target)
    target.totp_secret = None
    target.totp_last_step = None
    target.recovery_codes = []
    await close_all_sessions(session, row_id(target))
    _audit(session, principal, "operator.second_factor_reset", target)


async def invite_again(
    session: AsyncSession, principal: Principal, line: OperatorLine
) -> IssuedLink:
    """A new invitation link (the earlier one stops working)."""
    target = line.operator
    _may_manage(principal, target)
    if state_of(target) != OperatorState.invited:
        raise Conflict(
            "Cet opérateur a déjà choisi son mot de passe, ou son compte est désactivé : "
            "il n'y a pas d'invitation à envoyer.",
            "This operator already chose a password, or is disabled: no invitation to send.",
        )
    issued = await issue_link(session, target, LinkPurpose.invitation)
    _audit(session, principal, "operator.invite_again", target)
    return issued


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    target: Operator,
    details: dict[str, object] | None = None,
) -> None:
    audit(
        session,
        principal,
        action,
        organisation_id=target.organisation_id,
        object_type="operator",
        object_id=target.id,
        details={"name": target.display_name, **(details or {})},
    )
