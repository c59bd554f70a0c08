"""Validate streamed records and upsert them in batches on ``(organisation, source, external id)``.

Rules of a row (the report gives each refused row its number and a French reason):

- refused: a field the source requires is missing; the UAI is invalid (RULES F1), unknown, or
  outside the importer's scope; the same external id was already read in this run (duplicate);
  it has addresses and none is usable (invalid e-mail, invalid number, landline).
- imported: otherwise. An unusable address next to a usable one is left out and noted (a
  landline cannot receive SMS, RULES F3), the row is imported with the rest; a row with no
  address at all (a SIECLE pupil, an STS-Web teacher) is imported without any.

Existing contacts are compared field by field and by their e-mail and SMS addresses: unchanged
ones are not written; changed ones are updated and their e-mail and SMS addresses replaced
(push subscriptions and suppressions are never touched). A contact marked left that comes back
is no longer left.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import covers
from broadcast.channels.base import ChannelName
from broadcast.core.sqlutil import insert_ignoring_conflicts
from broadcast.core.timeutil import as_utc, utcnow
from broadcast.directory.models import Contact, ContactPoint, ContactRole, Organisation
from broadcast.directory.uai import is_valid_uai
from broadcast.imports.addresses import EmailChecker, normalise_mobile
from broadcast.imports.csv_reader import DERIVED_KEY
from broadcast.imports.records import ContactRecord, ImportKind, Reader
from broadcast.imports.report import ImportReport

BATCH_SIZE = 1000
_ADDRESS_CHANNELS = (ChannelName.email, ChannelName.sms)
_FIELDS = ("first_name", "last_name", "role", "division", "level", "locale")
_LIMITS = {"first_name": 100, "last_name": 100, "division": 32, "level": 32}

OUT_OF_SCOPE = "établissement hors de votre périmètre"


@dataclass(slots=True)
class ValidRow:
    row: int
    organisation_id: int
    external_id: str
    values: tuple[str | None, ...]
    """In the order of ``_FIELDS``."""
    points: frozenset[tuple[str, str]]
    pupil_ref: str | None = None
    left_at: datetime | None = None
    """Set for a contact imported as left (a pupil gone, the guardian contact made for him)."""


class Schools:
    """The schools the importer may write to: those under its organisation (by UAI)."""

    def __init__(self, session: AsyncSession, scope: Organisation) -> None:
        self._session = session
        self._scope = scope
        self._known: dict[str, int | str] = {}
        self.default_uai = scope.code if scope.kind == "etablissement" else None

    async def resolve(self, uai: str | None) -> int | str:
        """The school's id, or the reason the row is refused."""
        uai = uai or self.default_uai
        if not uai:
            return "UAI manquant : indiquez l'établissement"
        if not is_valid_uai(uai):
            return f"UAI invalide : {uai}"
        if uai not in self._known:
            self._known[uai] = await self._lookup(uai)
        return self._known[uai]

    async def _lookup(self, uai: str) -> int | str:
        school = await self._session.scalar(
            select(Organisation).where(col(Organisation.code) == uai)
        )
        if school is None or school.id is None or school.kind != "etablissement":
            return f"établissement inconnu : {uai}"
        return school.id if covers(self._scope.path, school.path) else OUT_OF_SCOPE


@dataclass(slots=True)
class Addresses:
    """A record's usable addresses as contact points, why the others were refused, and what
    was corrected in the kept ones (an overseas mobile written with +33)."""

    points: set[tuple[str, str]] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def usable_addresses(record: ContactRecord, emails: EmailChecker) -> Addresses:
    """The record's addresses as contact points, and why the others were refused."""
    found = Addresses()
    points, refused = found.points, found.refused
    if record.email:
        normalized = emails.normalise(record.email)
        if normalized is None:
            refused.append(f"{record.column('email')}adresse e-mail invalide : {record.email}")
        else:
            points.add((ChannelName.email, normalized))
    if record.mobile:
        phone = normalise_mobile(record.mobile)
        mobile = record.column("mobile")
        if phone is None:
            refused.append(f"{mobile}numéro de téléphone invalide")
        elif not phone.sms_capable:
            refused.append(f"{mobile}numéro fixe : il ne peut pas recevoir de SMS")
        else:
            points.add((ChannelName.sms, phone.e164))
            note = phone.rewrite_note()
            found.notes.extend([mobile + note] if note else [])
    return found


def _values(record: ContactRecord) -> tuple[str | None, ...]:
    raw: dict[str, str | None] = {
        "first_name": record.first_name,
        "last_name": record.last_name,
        "role": str(record.role),
        "division": record.division or None,
        "level": record.level or None,
        "locale": record.locale,
    }
    return tuple(
        value[: _LIMITS[name]] if value and name in _LIMITS else value
        for name, value in raw.items()
    )


class ContactImporter:
    """Reads every record of the readers it is given, within the caller's transaction."""

    def __init__(self, session: AsyncSession, scope: Organisation, report: ImportReport) -> None:
        self._session = session
        self._schools = Schools(session, scope)
        self.report = report
        self._seen: dict[int, int] = {}
        """hash((source, school, external id)) -> row that first named it."""
        self.covered: dict[tuple[int, str], set[str]] = defaultdict(set)
        """(school, source) -> roles whose contacts a full import may mark left."""
        self._now = utcnow()
        self._emails = EmailChecker()

    async def read(self, reader: Reader, on_batch: Any = None) -> None:
        batch = _Batch(self._session, reader.source, self.report, self._now)
        self.report.sources.add(str(reader.source))
        for record in reader.records():
            if record.skipped:
                self.report.skip(
                    record.row, record.skipped, file=reader.name, external_id=record.external_id
                )
                continue
            row = await self._validate(record, reader)
            if row is not None:
                batch.rows.append(row)
            if len(batch.rows) >= BATCH_SIZE:
                await self._flush(batch, reader, on_batch)
        await self._flush(batch, reader, on_batch)

    async def _flush(self, batch: _Batch, reader: Reader, on_batch: Any) -> None:
        self.report.rows_read += reader.rows_read - batch.rows_counted
        batch.rows_counted = reader.rows_read
        await batch.write()
        if on_batch is not None:
            await on_batch(self.report)

    async def _validate(self, record: ContactRecord, reader: Reader) -> ValidRow | None:
        outcome = await self._check(record, str(reader.source), reader.roles)
        shown_id = "" if record.external_id.startswith(DERIVED_KEY) else record.external_id
        if isinstance(outcome, str):
            self.report.reject(record.row, outcome, file=reader.name, external_id=shown_id)
            return None
        row, addresses = outcome
        for reason in addresses.refused:
            self.report.note(record.row, reason, file=reader.name, external_id=shown_id)
        for remark in (*addresses.notes, *record.notes):
            self.report.remark(record.row, remark, file=reader.name, external_id=shown_id)
        return row

    async def _check(
        self, record: ContactRecord, source: str, roles: frozenset[str]
    ) -> str | tuple[ValidRow, Addresses]:
        """The row to write and the addresses left out of it, or why it is refused.

        A refused row with an id still counts as read: a full import does not mark its contact
        left. A school is covered by a full import once one of its rows is accepted."""
        school = await self._schools.resolve(record.uai)
        if isinstance(school, str):
            return record.column("uai") + school if record.uai else school
        if record.external_id:
            key = hash((source, school, record.external_id))
            if key in self._seen:
                return f"doublon : identifiant déjà lu ligne {self._seen[key]}"
            self._seen[key] = record.row
        if record.problem:
            return record.problem
        addresses = usable_addresses(record, self._emails)
        if addresses.refused and not addresses.points:
            return " ; ".join(addresses.refused)
        self.covered[(school, source)] |= roles
        values = _values(record)
        points = frozenset(addresses.points)
        row = ValidRow(
            record.row, school, record.external_id, values, points, record.pupil_ref, record.left_at
        )
        return row, addresses

    async def mark_left(self) -> None:
        """After a full import: the covered contacts the file did not name have left."""
        for (school, source), roles in self.covered.items():
            self.report.left += await _mark_left(
                self._session, school, source, roles, self._seen, self._now
            )


class _Batch:
    def __init__(
        self, session: AsyncSession, source: ImportKind, report: ImportReport, now: datetime
    ) -> None:
        self._session = session
        self._source = str(source)
        self._report = report
        self._now = now
        self.rows: list[ValidRow] = []
        self.rows_counted = 0

    async def write(self) -> None:
        rows, self.rows = self.rows, []
        by_school: dict[int, list[ValidRow]] = defaultdict(list)
        for row in rows:
            by_school[row.organisation_id].append(row)
        for school, group in by_school.items():
            await self._take_pupils_classes(school, group)
            await self._upsert(school, group)
            await self._guardians_leave_with_their_pupils(school, group)

    async def _take_pupils_classes(self, school: int, rows: list[ValidRow]) -> None:
        """A SIECLE guardian is in the class and level of the pupil it is linked to, and has
        left when that pupil has (the contact is the guardian of this pupil)."""
        refs = {r.pupil_ref for r in rows if r.pupil_ref}
        if not refs:
            return
        found = await _by_external_ids(
            self._session,
            school,
            self._source,
            refs,
            "external_id, division, level, role, left_at",
        )
        pupils = {
            ref: (division, level, left_at)
            for ref, division, level, role, left_at in found
            if role == ContactRole.pupil
        }
        for row in rows:
            if row.pupil_ref in pupils:
                division, level, left_at = pupils[row.pupil_ref]
                row.values = (*row.values[:3], division, level, row.values[5])
                row.left_at = row.left_at or _as_datetime(left_at)

    async def _guardians_leave_with_their_pupils(self, school: int, rows: list[ValidRow]) -> None:
        """The guardian contacts made for a pupil imported as left (``<person>:<pupil>``) leave
        with him, though their own file is not imported again."""
        for row in rows:
            if row.left_at is None or row.values[2] != ContactRole.pupil:
                continue
            await self._session.execute(
                update(Contact)
                .where(
                    col(Contact.organisation_id) == school,
                    col(Contact.source) == self._source,
                    col(Contact.role) == ContactRole.guardian,
                    col(Contact.external_id).endswith(f":{row.external_id}", autoescape=True),
                    col(Contact.left_at).is_(None),
                )
                .values(left_at=row.left_at, updated_at=self._now)
            )

    async def _upsert(self, school: int, rows: list[ValidRow]) -> None:
        """Insert what is new in one statement (conflicts skipped), then compare the rest."""
        created = await self._insert(school, rows)
        known = [row for row in rows if row.external_id not in created]
        if not known:
            return
        existing = await self._existing(school, [r.external_id for r in known])
        points = await self._points([found[0] for found in existing.values()])
        changed: list[tuple[int, ValidRow, bool]] = []
        for row in known:
            contact_id, values, left = existing[row.external_id]
            points_changed = points.get(contact_id, frozenset()) != row.points
            same_presence = left == (row.left_at is not None)
            if values == row.values and same_presence and not points_changed:
                self._report.unchanged += 1
            else:
                changed.append((contact_id, row, points_changed))
        await self._update(changed)

    async def _existing(
        self, school: int, external_ids: Sequence[str]
    ) -> dict[str, tuple[int, tuple[str | None, ...], bool]]:
        columns = ", ".join(("id", "external_id", *_FIELDS, "left_at"))
        found = await _by_external_ids(self._session, school, self._source, external_ids, columns)
        return {row[1]: (row[0], tuple(row[2:-1]), row[-1] is not None) for row in found}

    async def _points(self, contact_ids: Sequence[int]) -> dict[int, frozenset[tuple[str, str]]]:
        if not contact_ids:
            return {}
        result = await self._session.execute(
            select(
                col(ContactPoint.contact_id), col(ContactPoint.channel), col(ContactPoint.address)
            ).where(
                col(ContactPoint.contact_id).in_(contact_ids),
                col(ContactPoint.channel).in_(_ADDRESS_CHANNELS),
            )
        )
        points: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for contact_id, channel, address in result:
            points[contact_id].add((channel, address))
        return {contact_id: frozenset(found) for contact_id, found in points.items()}

    async def _insert(self, school: int, rows: list[ValidRow]) -> set[str]:
        """Insert the rows whose key is not taken; their external ids."""
        result = await self._session.execute(
            insert_ignoring_conflicts(self._session, Contact).returning(
                col(Contact.id), col(Contact.external_id)
            ),
            [self._contact(school, row) for row in rows],
        )
        ids = {str(external_id): int(new_id or 0) for new_id, external_id in result.all()}
        await self._insert_points((ids[r.external_id], r) for r in rows if r.external_id in ids)
        self._report.created += len(ids)
        return set(ids)

    def _contact(self, school: int, row: ValidRow) -> dict[str, Any]:
        return {
            "organisation_id": school,
            "source": self._source,
            "external_id": row.external_id,
            "created_at": self._now,
            "updated_at": self._now,
            "left_at": row.left_at,
            **dict(zip(_FIELDS, row.values, strict=True)),
        }

    async def _insert_points(self, rows: Iterable[tuple[int, ValidRow]]) -> None:
        points = [
            {
                "contact_id": contact_id,
                "channel": channel,
                "address": address,
                "created_at": self._now,
            }
            for contact_id, row in rows
            for channel, address in sorted(row.points)
        ]
        if points:
            await self._session.execute(insert(ContactPoint), points)

    async def _update(self, changed: list[tuple[int, ValidRow, bool]]) -> None:
        if not changed:
            return
        await self._session.execute(
            update(Contact),
            [
                {
                    "id": contact_id,
                    "left_at": row.left_at,
                    "updated_at": self._now,
                    **dict(zip(_FIELDS, row.values, strict=True)),
                }
                for contact_id, row, _ in changed
            ],
        )
        replaced = [
            (contact_id, row) for contact_id, row, points_changed in changed if points_changed
        ]
        if replaced:
            await self._session.execute(
                delete(ContactPoint).where(
                    col(ContactPoint.contact_id).in_([contact_id for contact_id, _ in replaced]),
                    col(ContactPoint.channel).in_(_ADDRESS_CHANNELS),
                )
            )
            await self._insert_points(replaced)
        self._report.updated += len(changed)


def _as_datetime(value: Any) -> datetime | None:
    """A timestamp read by raw SQL: SQLite gives it as text."""
    if value is None or isinstance(value, datetime):
        return as_utc(value) if value is not None else None
    return as_utc(datetime.fromisoformat(str(value)))


# {columns} is filled from this module's constants only; every value is a bound parameter.
_LOOKUP_SQLITE = (
    "SELECT {columns} FROM contact WHERE organisation_id = :school AND source = :source"
    " AND external_id IN :ids"
)
_LOOKUP_POSTGRESQL = (
    "SELECT {columns} FROM unnest(CAST(:ids AS VARCHAR[])) AS k(ext) CROSS JOIN LATERAL"
    " (SELECT * FROM contact WHERE organisation_id = :school AND source = :source"
    " AND external_id = k.ext) AS found"
)


async def _by_external_ids(
    session: AsyncSession, school: int, source: str, ids: Collection[str], columns: str
) -> list[tuple[Any, ...]]:
    """The school's contacts of ``source`` with these external ids, by the unique index.

    On PostgreSQL, one index look-up per id (a LATERAL join on the three columns of the
    unique key): within a long import the table's statistics say it is empty, and an
    ``IN`` list is then applied as a filter over all the school's contacts, for every batch
    (quadratic). SQLite uses the index for ``IN`` without statistics."""
    if session.get_bind().dialect.name == "postgresql":
        statement = text(_LOOKUP_POSTGRESQL.format(columns=columns))
    else:
        sql = _LOOKUP_SQLITE.format(columns=columns)
        statement = text(sql).bindparams(bindparam("ids", expanding=True))
    params = {"school": school, "source": source, "ids": list(ids)}
    return [tuple(row) for row in await session.execute(statement, params)]


_LEFT_PAGE = 5000


async def _mark_left(
    session: AsyncSession,
    school: int,
    source: str,
    roles: set[str],
    seen: dict[int, int],
    now: datetime,
) -> int:
    """Set ``left_at`` on the school's contacts of ``source`` and ``roles`` not seen, by pages."""
    after, marked = 0, 0
    while True:
        page = (
            await session.execute(
                select(col(Contact.id), col(Contact.external_id))
                .where(
                    col(Contact.organisation_id) == school,
                    col(Contact.source) == source,
                    col(Contact.role).in_(roles),
                    col(Contact.left_at).is_(None),
                    col(Contact.id) > after,
                )
                .order_by(col(Contact.id))
                .limit(_LEFT_PAGE)
            )
        ).all()
        if not page:
            return marked
        gone = [int(cid or 0) for cid, ext in page if hash((source, school, ext)) not in seen]
        if gone:
            await session.execute(
                update(Contact).where(col(Contact.id).in_(gone)).values(left_at=now, updated_at=now)
            )
            marked += len(gone)
        after = int(page[-1][0] or 0)
