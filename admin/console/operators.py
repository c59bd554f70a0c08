"""Administration > Opérateurs: the operators of one's scope, the invitation form, an
operator's page (his role and organisation, and what may be done to his account), and the
confirmation page of each of those actions. The rules are
:mod:`broadcast.accounts.operators`'; the links' emails leave once the answer has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import Response

from admin.console.deps import ConsoleUser, console_requires
from admin.console.forms import discard
from admin.console.web import action_named, page, redirect
from admin.deps import SettingsDep, UowDep
from broadcast.accounts import operators as service
from broadcast.accounts.links import IssuedLink, link_message, send_link
from broadcast.accounts.models import Operator
from broadcast.accounts.permissions import Permission
from broadcast.core.errors import DomainError
from broadcast.core.validation import RowId
from broadcast.directory.service import organisations_in_scope
from broadcast.settings import Settings

router = APIRouter(prefix="/console/operateurs", include_in_schema=False)
Manager = Annotated[ConsoleUser, console_requires(Permission.operators_manage)]
Short = Annotated[str, Form(max_length=320)]
PAGE = 50
LIST = "/console/operateurs"


@dataclass(frozen=True, slots=True)
class Action:
    """A change of an operator's account, and the page that asks to confirm it."""

    title: str
    explanation: str
    button: str
    done: str
    danger: bool = False


ACTIONS = {
    "desactiver": Action(
        "Désactiver le compte ?",
        "La personne ne pourra plus se connecter ; ses sessions ouvertes sont fermées tout de "
        "suite et ses clés d'API cessent de fonctionner. Vous pourrez réactiver le compte.",
        "Désactiver le compte",
        "Compte désactivé : ses sessions sont fermées.",
        danger=True,
    ),
    "reactiver": Action(
        "Réactiver le compte ?",
        "La personne pourra de nouveau se connecter, avec son mot de passe.",
        "Réactiver le compte",
        "Compte réactivé.",
    ),
    "second-facteur": Action(
        "Réinitialiser le second facteur ?",
        "L'application d'authentification et les codes de secours actuels ne serviront plus. "
        "Ses sessions sont fermées ; à sa prochaine connexion, la personne activera de nouveau "
        "la double authentification.",
        "Réinitialiser le second facteur",
        "Second facteur réinitialisé : il sera activé de nouveau à la prochaine connexion.",
        danger=True,
    ),
    "invitation": Action(
        "Envoyer de nouveau l'invitation ?",
        "Un nouveau lien, valable 72 heures, est envoyé par e-mail ; le précédent ne "
        "fonctionnera plus.",
        "Envoyer l'invitation",
        "Invitation envoyée.",
    ),
}
DONE = {"invite": "Invitation envoyée.", "role": "Rôle modifié : la personne se reconnectera."}
DONE |= {name: action.done for name, action in ACTIONS.items()}


def operator_path(operator_id: int | None) -> str:
    return f"{LIST}/{operator_id}"


def _mail(
    background: BackgroundTasks,
    settings: Settings,
    user: ConsoleUser,
    operator: Operator,
    issued: IssuedLink,
) -> None:
    message = link_message(settings, operator, issued, invited_by=user.operator.display_name)
    background.add_task(send_link, settings, message)


@router.get("")
async def operators(
    request: Request,
    uow: UowDep,
    user: Manager,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    lines, total = await service.list_operators(
        uow.session, user.principal, offset=(page_number - 1) * PAGE, limit=PAGE
    )
    return page(
        request,
        "operators.html",
        locale=user.locale,
        user=user,
        lines=lines,
        total=total,
        page_number=page_number,
        pages=max(1, (total + PAGE - 1) // PAGE),
        role_label=lambda role: service.role_label(role, user.locale),
        state_label=lambda state: service.STATE_LABELS[state][1 if user.locale == "en" else 0],
    )


async def _invite_form(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "operator_invite.html",
        locale=user.locale,
        user=user,
        roles=service.roles_grantable(user.principal),
        role_label=lambda role: service.role_label(role, user.locale),
        organisations=await organisations_in_scope(uow.session, user.principal),
        typed=typed or {"organisation": user.organisation.code},
        error=error,
        status_code=status_code,
    )


@router.get("/inviter")
async def invite_page(request: Request, uow: UowDep, user: Manager) -> Response:
    return await _invite_form(request, uow, user)


@router.post("/inviter")
async def invite(
    request: Request,
    uow: UowDep,
    user: Manager,
    settings: SettingsDep,
    background: BackgroundTasks,
    email: Short = "",
    name: Annotated[str, Form(alias="nom", max_length=200)] = "",
    role: Short = "",
    organisation: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    try:
        operator, issued = await service.invite(
            uow.session,
            user.principal,
            email=email,
            display_name=name,
            role=role,
            organisation_code=organisation,
        )
    except DomainError as refused:
        await discard(uow, user)
        typed = {"email": email, "nom": name, "role": role, "organisation": organisation}
        return await _invite_form(
            request,
            uow,
            user,
            typed=typed,
            error=refused.message(user.locale),
            status_code=refused.status_code,
        )
    _mail(background, settings, user, operator, issued)
    return redirect(f"{operator_path(operator.id)}?fait=invite")


async def _operator_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    operator_id: int,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    line = await service.get_operator(uow.session, user.principal, operator_id)
    state = line.state
    actions = {
        "desactiver": state != service.OperatorState.disabled,
        "reactiver": state == service.OperatorState.disabled,
        "second-facteur": line.operator.totp_secret is not None,
        "invitation": state == service.OperatorState.invited,
    }
    return page(
        request,
        "operator.html",
        locale=user.locale,
        user=user,
        line=line,
        state_label=service.STATE_LABELS[state][1 if user.locale == "en" else 0],
        role_label=lambda role: service.role_label(role, user.locale),
        roles=service.roles_grantable(user.principal),
        organisations=await organisations_in_scope(uow.session, user.principal),
        actions={name: ACTIONS[name] for name, shown in actions.items() if shown},
        oneself=line.operator.id == user.operator.id,
        typed=typed or {"role": line.operator.role, "organisation": line.organisation.code},
        done=DONE.get(request.query_params.get("fait", ""), ""),
        error=error,
        status_code=status_code,
    )


@router.get("/{operator_id}")
async def operator_page(
    request: Request, uow: UowDep, user: Manager, operator_id: RowId
) -> Response:
    return await _operator_page(request, uow, user, operator_id)


@router.post("/{operator_id}/role")
async def change_role(
    request: Request,
    uow: UowDep,
    user: Manager,
    operator_id: RowId,
    role: Short = "",
    organisation: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    line = await service.get_operator(uow.session, user.principal, operator_id)
    try:
        await service.change_role(
            uow.session, user.principal, line, role=role, organisation_code=organisation
        )
    except DomainError as refused:
        await discard(uow, user)
        return await _operator_page(
            request,
            uow,
            user,
            operator_id,
            error=refused.message(user.locale),
            typed={"role": role, "organisation": organisation},
            status_code=refused.status_code,
        )
    return redirect(f"{operator_path(operator_id)}?fait=role")


# Last: "/{operator_id}/{action}" would also match the routes above.
@router.get("/{operator_id}/{action}")
async def confirm_action_page(
    request: Request, uow: UowDep, user: Manager, operator_id: RowId, action: str
) -> Response:
    chosen = action_named(ACTIONS, action)
    line = await service.get_operator(uow.session, user.principal, operator_id)
    return page(
        request,
        "operator_confirm.html",
        locale=user.locale,
        user=user,
        line=line,
        action=action,
        chosen=chosen,
        role_label=lambda role: service.role_label(role, user.locale),
    )


@router.post("/{operator_id}/{action}")
async def do_action(
    request: Request,
    uow: UowDep,
    user: Manager,
    settings: SettingsDep,
    background: BackgroundTasks,
    operator_id: RowId,
    action: str,
) -> Response:
    action_named(ACTIONS, action)
    line = await service.get_operator(uow.session, user.principal, operator_id)
    try:
        if action == "desactiver":
            await service.disable(uow.session, user.principal, line)
        elif action == "reactiver":
            await service.enable(uow.session, user.principal, line)
        elif action == "second-facteur":
            await service.reset_second_factor(uow.session, user.principal, line)
        else:
            issued = await service.invite_again(uow.session, user.principal, line)
            _mail(background, settings, user, line.operator, issued)
    except DomainError as refused:
        await discard(uow, user)
        return await _operator_page(
            request,
            uow,
            user,
            operator_id,
            error=refused.message(user.locale),
            status_code=refused.status_code,
        )
    return redirect(f"{operator_path(operator_id)}?fait={action}")
