"""What a send's page shows besides its progress: who created and approved it, its failures
grouped by reason, a search among its deliveries (addresses masked, RULES R5) and the delivery
report as CSV (RULES A7), each read within the caller's scope by the caller of
:func:`broadcast.broadcasts.service.get_broadcast`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.models import Operator
from broadcast.accounts.service import Principal, audit
from broadcast.broadcasts.live_counts import Counters
from broadcast.broadcasts.models import Broadcast
from broadcast.broadcasts.overview import ChannelProgress, progress_from
from broadcast.broadcasts.service import counters, get_broadcast
from broadcast.core.csvsafe import csv_text
from broadcast.core.masking import mask_address
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import as_utc
from broadcast.deliveries.models import Delivery, DeliveryStatus
from broadcast.directory.models import Organisation
from broadcast.directory.phones import normalise_phone
from broadcast.notices.models import Notice
from broadcast.status.timefmt import PARIS

PER_PAGE = 50
REPORT_HEADER = ("canal", "adresse", "statut", "tentatives", "erreur", "mise à jour (Paris)")
DELIVERY_STATUS_FR = {
    DeliveryStatus.queued: "en file d'attente",
    DeliveryStatus.sending: "en cours d'envoi",
    DeliveryStatus.sent: "envoyé",
    DeliveryStatus.delivered: "remis",
    DeliveryStatus.failed: "en échec",
    DeliveryStatus.cancelled: "annulé",
}
NO_REASON = "sans motif donné par le fournisseur"


@dataclass(frozen=True, slots=True)
class People:
    """Who wrote the send, who approved (or refused) it: display names, None when nobody."""

    created_by: str | None
    approved_by: str | None
    rejected_by: str | None


@dataclass(frozen=True, slots=True)
class FailureReason:
    channel: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    channel: str
    address: str
    """Masked."""
    status: str
    attempts: int
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliverySearch:
    address: str = ""
    channel: str = ""
    status: str = ""
    page: int = 1


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    lines: list[DeliveryLine]
    total: int
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class SendOverview:
    """The send's page: the broadcast, its notice and school, progress per channel, people,
    failures by reason and one page of deliveries."""

    broadcast: Broadcast
    title: str
    organisation: str
    progress: list[ChannelProgress]
    people: People
    failures: list[FailureReason]
    deliveries: DeliveryPage


async def send_overview(
    session: AsyncSession, principal: Principal, broadcast_id: int, search: DeliverySearch
) -> SendOverview:
    """404 outside the caller's scope (RULES A1)."""
    broadcast = await get_broadcast(session, principal, broadcast_id)
    notice = await session.get(Notice, broadcast.notice_id)
    organisation = await session.get(Organisation, broadcast.organisation_id)
    assert notice is not None and organisation is not None
    by_channel = await counters(session, row_id(broadcast))
    return SendOverview(
        broadcast,
        notice.title,
        organisation.name,
        progress_from(broadcast, by_channel),
        await people_of(session, broadcast),
        await failures_by_reason(session, broadcast),
        await search_deliveries(session, broadcast, search, counted=by_channel),
    )


async def people_of(session: AsyncSession, broadcast: Broadcast) -> People:
    async def name(operator_id: int | None) -> str | None:
        operator = await session.get(Operator, operator_id) if operator_id else None
        return operator.display_name if operator else None

    return People(
        await name(broadcast.created_by_id),
        await name(broadcast.approved_by_id),
        await name(broadcast.rejected_by_id),
    )


async def failures_by_reason(session: AsyncSession, broadcast: Broadcast) -> list[FailureReason]:
    """Failed deliveries per channel and provider error, the most frequent first."""
    rows = await session.execute(
        select(col(Delivery.channel), col(Delivery.error), func.count())
        .where(
            col(Delivery.broadcast_id) == broadcast.id,
            col(Delivery.status) == DeliveryStatus.failed,
        )
        .group_by(col(Delivery.channel), col(Delivery.error))
        .order_by(func.count().desc(), col(Delivery.channel))
    )
    return [FailureReason(channel, error or NO_REASON, count) for channel, error, count in rows]


def searched_address(text: str) -> str | None:
    """The address an operator typed, as deliveries store it: an email in lower case, a phone
    number in E.164. The search is for one whole address, never a part of one, so that masked
    results cannot be unmasked by trying prefixes."""
    text = text.strip()
    if not text:
        return None
    if "@" in text:
        return text.lower()
    phone = normalise_phone(text)
    return phone.e164 if phone else text


def _search_filters(broadcast: Broadcast, search: DeliverySearch) -> list[ColumnElement[bool]]:
    filters = [col(Delivery.broadcast_id) == broadcast.id]
    address = searched_address(search.address)
    if address is not None:
        filters.append(col(Delivery.address) == address)
    if search.channel:
        filters.append(col(Delivery.channel) == search.channel)
    if search.status:
        filters.append(col(Delivery.status) == search.status)
    return filters


def _counted_total(counted: Counters, search: DeliverySearch) -> int:
    """The deliveries a search without an address finds, from the counters already read."""
    return sum(
        count
        for channel, statuses in counted.items()
        if search.channel in ("", channel)
        for status, count in statuses.items()
        if search.status in ("", status)
    )


async def search_deliveries(
    session: AsyncSession,
    broadcast: Broadcast,
    search: DeliverySearch,
    per_page: int = PER_PAGE,
    *,
    counted: Counters | None = None,
) -> DeliveryPage:
    """One page of the search; ``counted``, the broadcast's counters when the caller has
    them, spares counting the rows again for a search by channel and status only."""
    filters = _search_filters(broadcast, search)
    if counted is not None and searched_address(search.address) is None:
        total = _counted_total(counted, search)
    else:
        total = int(await session.scalar(select(func.count()).where(*filters)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, search.page), pages)
    rows = await session.execute(
        select(Delivery)
        .where(*filters)
        .order_by(col(Delivery.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return DeliveryPage([_line(d) for d in rows.scalars()], total, page, pages)


def _line(delivery: Delivery) -> DeliveryLine:
    return DeliveryLine(
        delivery.channel,
        mask_address(delivery.channel, delivery.address),
        delivery.status,
        delivery.attempts,
        delivery.error,
    )


async def delivery_report(session: AsyncSession, principal: Principal, broadcast: Broadcast) -> str:
    """Every delivery of the broadcast, addresses masked, as a guarded CSV; the export is
    audited (RULES R4)."""
    rows = await session.execute(
        select(Delivery)
        .where(col(Delivery.broadcast_id) == broadcast.id)
        .order_by(col(Delivery.id))
    )
    lines = [
        (
            d.channel,
            mask_address(d.channel, d.address),
            DELIVERY_STATUS_FR.get(DeliveryStatus(d.status), d.status),
            d.attempts,
            d.error or "",
            as_utc(d.updated_at).astimezone(PARIS).isoformat(timespec="seconds"),
        )
        for d in rows.scalars()
    ]
    audit(
        session,
        principal,
        "broadcast.report_export",
        organisation_id=broadcast.organisation_id,
        object_type="broadcast",
        object_id=row_id(broadcast),
        details={"rows": len(lines)},
    )
    return csv_text(REPORT_HEADER, lines)
