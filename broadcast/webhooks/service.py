"""Webhook endpoints, managed within the caller's scope (RULES A1, W1, W3). Services never commit.

An endpoint belongs to an organisation and receives the events of its whole subtree. Its
``whsec_`` secret is generated here and shown once, in the creation response. Its URL is checked
when it is set: https only outside ``env=dev``, and never an internal address unless the
settings allow it (SSRF); the worker checks it again before every request.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import (
    get_within_scope,
    organisation_within_scope,
    select_within_scope,
)
from broadcast.accounts.service import Principal, audit
from broadcast.core.errors import Conflict, NotFound
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.settings import Settings
from broadcast.webhooks.events import emit_ping
from broadcast.webhooks.models import WebhookEndpoint, WebhookEvent, WebhookMessage
from broadcast.webhooks.schemas import EndpointIn, EndpointPatch
from broadcast.webhooks.signing import new_secret
from broadcast.webhooks.ssrf import check_url

DISABLED_BY_OPERATOR = "Désactivé par un opérateur."


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Which endpoint URLs are accepted (RULES W3)."""

    allow_http: bool
    allow_internal: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        return cls(
            allow_http=settings.env == "dev", allow_internal=settings.webhooks_allow_internal
        )

    async def check(self, url: str) -> None:
        """Raise :class:`~broadcast.webhooks.ssrf.UnsafeWebhookUrl` (422, French) if refused."""
        await check_url(url, allow_http=self.allow_http, allow_internal=self.allow_internal)


async def create_endpoint(
    session: AsyncSession, principal: Principal, data: EndpointIn, policy: UrlPolicy
) -> WebhookEndpoint:
    organisation = await organisation_within_scope(session, principal, data.organisation_id)
    await policy.check(data.url)
    endpoint = WebhookEndpoint(
        organisation_id=row_id(organisation),
        url=data.url,
        description=data.description,
        events=_distinct(data.events),
        secret=new_secret(),
        created_by_id=principal.operator_id,
    )
    session.add(endpoint)
    await session.flush()
    _audit(session, principal, "webhook.create", endpoint)
    return endpoint


async def get_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: int
) -> WebhookEndpoint:
    not_found = NotFound("Webhook introuvable.", "Webhook not found.")
    return await get_within_scope(session, principal, WebhookEndpoint, endpoint_id, not_found)


async def list_endpoints(
    session: AsyncSession, principal: Principal, *, after: int = 0, limit: int = 50
) -> list[WebhookEndpoint]:
    rows = await session.execute(
        select_within_scope(principal, WebhookEndpoint)
        .where(col(WebhookEndpoint.id) > after)
        .order_by(col(WebhookEndpoint.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def update_endpoint(
    session: AsyncSession,
    principal: Principal,
    endpoint: WebhookEndpoint,
    data: EndpointPatch,
    policy: UrlPolicy,
) -> WebhookEndpoint:
    """Change what is given; re-enabling clears why it was disabled."""
    if data.url is not None and data.url != endpoint.url:
        await policy.check(data.url)
        endpoint.url = data.url
    if data.events is not None:
        endpoint.events = _distinct(data.events)
    if data.description is not None:
        endpoint.description = data.description
    if data.enabled is not None:
        _set_enabled(endpoint, data.enabled)
    _audit(session, principal, "webhook.update", endpoint)
    return endpoint


async def delete_endpoint(
    session: AsyncSession, principal: Principal, endpoint: WebhookEndpoint
) -> None:
    _audit(session, principal, "webhook.delete", endpoint)
    endpoint_id = row_id(endpoint)
    await session.execute(
        delete(WebhookMessage).where(col(WebhookMessage.endpoint_id) == endpoint_id)
    )
    await session.delete(endpoint)


async def list_messages(
    session: AsyncSession, endpoint: WebhookEndpoint, *, before: int | None = None, limit: int = 50
) -> list[WebhookMessage]:
    """The endpoint's most recent messages first (``before`` pages back by id)."""
    query = select(WebhookMessage).where(col(WebhookMessage.endpoint_id) == endpoint.id)
    if before:
        query = query.where(col(WebhookMessage.id) < before)
    rows = await session.execute(query.order_by(col(WebhookMessage.id).desc()).limit(limit))
    return list(rows.scalars())


async def send_test(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookMessage:
    """Queue a ``webhook.ping`` to an enabled endpoint (enqueued once the caller commits)."""
    if not endpoint.enabled:
        raise Conflict(
            "Ce webhook est désactivé : réactivez-le avant de l'essayer.",
            "This webhook is disabled: enable it before trying it.",
        )
    return await emit_ping(session, endpoint)


def _set_enabled(endpoint: WebhookEndpoint, enabled: bool) -> None:
    if enabled == endpoint.enabled:
        return
    endpoint.enabled = enabled
    endpoint.disabled_at = None if enabled else utcnow()
    endpoint.disabled_reason = None if enabled else DISABLED_BY_OPERATOR


def _distinct(events: list[WebhookEvent]) -> list[str]:
    return list(dict.fromkeys(event.value for event in events))


def _audit(
    session: AsyncSession, principal: Principal, action: str, endpoint: WebhookEndpoint
) -> None:
    audit(
        session,
        principal,
        action,
        organisation_id=endpoint.organisation_id,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        details={"events": list(endpoint.events)},
    )
