"""Import runs: create one, run it (the whole file in one transaction), report on it.

A run reads its file within one transaction: a file refused whole (malformed XML, missing CSV
columns, a zip with nothing importable) rolls everything back; a dry run rolls back too, after
counting. Only the run's own row is written outside that transaction (status, counts), so
its progress is published in Redis while it runs (:mod:`broadcast.imports.progress`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broadcast.accounts.scoped import get_within_scope, select_within_scope
from broadcast.accounts.service import Principal, audit
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.sqlutil import row_id
from broadcast.core.timeutil import utcnow
from broadcast.core.uow import enqueue_after_commit
from broadcast.directory.models import Organisation
from broadcast.imports.errors import ImportRefused
from broadcast.imports.formats import open_readers
from broadcast.imports.models import ERROR_LENGTH, ImportRun, ImportStatus
from broadcast.imports.progress import ImportProgress
from broadcast.imports.records import ImportKind
from broadcast.imports.report import ImportReport
from broadcast.imports.uploads import discard_upload, stored_upload
from broadcast.imports.writer import ContactImporter
from broadcast.jobs import import_job

log = logging.getLogger(__name__)

OnBatch = Callable[[ImportReport], Awaitable[None]]
AUTO = "auto"
_FINISHED = (ImportStatus.completed, ImportStatus.failed)


async def import_contacts(
    session: AsyncSession,
    scope: Organisation,
    path: Path,
    *,
    kind: ImportKind | None = None,
    full: bool = False,
    on_batch: OnBatch | None = None,
) -> ImportReport:
    """Import ``path`` within the caller's transaction; raises :class:`ImportRefused` for a
    file refused whole (the caller rolls back)."""
    report = ImportReport()
    importer = ContactImporter(session, scope, report)
    with open_readers(path, kind) as readers:
        for reader in readers:
            await importer.read(reader, on_batch)
    if full:
        await importer.mark_left()
    return report


def check_file(path: Path, kind: ImportKind | None = None) -> None:
    """Refuse at once (:class:`ImportRefused`) a file no reader reads, or whose header lacks
    what every row needs, before its job is asked for: the same checks the job makes first."""
    with open_readers(path, kind) as readers:
        for reader in readers:
            check = getattr(reader, "check", None)
            if check is not None:
                check()


async def create_run(
    session: AsyncSession,
    principal: Principal | None,
    organisation: Organisation,
    *,
    filename: str,
    kind: ImportKind | None = None,
    dry_run: bool = False,
    full: bool = False,
) -> ImportRun:
    run = ImportRun(
        organisation_id=row_id(organisation),
        kind=str(kind) if kind else AUTO,
        filename=filename[:255],
        dry_run=dry_run,
        full=full,
        created_by_id=principal.operator_id if principal else None,
    )
    session.add(run)
    await session.flush()
    audit(
        session,
        principal,
        "contacts.import.start",
        organisation_id=organisation.id,
        object_type="import_run",
        object_id=run.id,
        details={"filename": run.filename, "dry_run": dry_run, "full": full, "kind": run.kind},
    )
    return run


async def get_run(session: AsyncSession, principal: Principal, run_id: int) -> ImportRun:
    return await get_within_scope(session, principal, ImportRun, run_id)


async def list_runs(
    session: AsyncSession, principal: Principal, *, before: int = 0, limit: int = 50
) -> list[ImportRun]:
    """The imports within scope, newest first, those older than the cursor ``before``."""
    query = select_within_scope(principal, ImportRun)
    if before:
        query = query.where(col(ImportRun.id) < before)
    rows = await session.execute(query.order_by(col(ImportRun.id).desc()).limit(limit))
    return list(rows.scalars())


def run_in_background(session: AsyncSession, run: ImportRun) -> None:
    """Ask for the job that imports ``run``'s stored upload, once the run is committed."""
    enqueue_after_commit(session, import_job(row_id(run)))


MAX_ATTEMPTS = 2
"""Starts of one run: a job killed mid-import (its worker out of memory, or stopped) is run
again from nothing once; a run killed twice is failed, not tried for ever."""
INTERRUPTED_AGAIN = (
    "Import interrompu deux fois avant la fin (le fichier est peut-être trop lourd à traiter) : "
    "rien n'a été modifié. Vérifiez le fichier, puis déposez-le à nouveau."
)


async def run_import(
    factory: SessionFactory, run_id: int, path: Path, on_batch: OnBatch | None = None
) -> ImportRun | None:
    """Run the import of ``run_id`` once: a finished run is left as it is (a job re-run after
    a crash finds it finished, or starts again from nothing: the data is in one transaction);
    a run already started ``MAX_ATTEMPTS`` times is failed instead."""
    async with transaction(factory) as session:
        run = await session.get(ImportRun, run_id)
        if run is None or run.status in _FINISHED:
            return run
        if run.attempts >= MAX_ATTEMPTS:
            return await _record(session, run_id, ImportReport(), INTERRUPTED_AGAIN)
        run.status, run.started_at = ImportStatus.running, utcnow()
        run.attempts += 1
        scope = await session.get(Organisation, run.organisation_id)
    assert scope is not None
    kind = None if run.kind == AUTO else ImportKind(run.kind)
    async with factory() as session:
        try:
            report = await import_contacts(
                session, scope, path, kind=kind, full=run.full, on_batch=on_batch
            )
        except ImportRefused as refused:
            await session.rollback()
            return await _finish(factory, run_id, ImportReport(), refused.message_fr)
        if run.dry_run:
            await session.rollback()
            return await _finish(factory, run_id, report)
        finished = await _record(session, run_id, report)
        await session.commit()
        return finished


async def fail_run(factory: SessionFactory, run_id: int, error: str) -> None:
    """Record a failure (already logged) so that the run does not stay running; a finished run
    is left as it is."""
    async with transaction(factory) as session:
        run = await session.get(ImportRun, run_id)
        if run is not None and run.status not in _FINISHED:
            await _record(session, run_id, ImportReport(), error)


async def _finish(
    factory: SessionFactory, run_id: int, report: ImportReport, error: str | None = None
) -> ImportRun:
    async with transaction(factory) as session:
        return await _record(session, run_id, report, error)


async def _record(
    session: AsyncSession, run_id: int, report: ImportReport, error: str | None = None
) -> ImportRun:
    run = await session.get(ImportRun, run_id)
    assert run is not None
    for name, value in report.counts().items():
        setattr(run, name, value)
    run.rejections = report.rejections
    if run.kind == AUTO and report.sources:
        run.kind = report.sources.pop() if len(report.sources) == 1 else "mixte"
    run.status = ImportStatus.failed if error else ImportStatus.completed
    run.error = error[:ERROR_LENGTH] if error else None
    run.finished_at = utcnow()
    audit(
        session,
        None,
        "contacts.import",
        organisation_id=run.organisation_id,
        object_type="import_run",
        object_id=run.id,
        details={
            **report.counts(),
            "status": run.status,
            "dry_run": run.dry_run,
            "operator_id": run.created_by_id,
        },
    )
    log.info("import %s %s: %s", run.id, run.status, report.counts())
    return run


UNEXPECTED = "Erreur inattendue pendant l'import : rien n'a été modifié. Réessayez plus tard."


async def run_uploaded_import(
    factory: SessionFactory, var_dir: Path, run_id: int, progress: ImportProgress
) -> ImportRun | None:
    """The job of ``POST /imports``: run the stored upload, publish progress, then delete it."""
    path = stored_upload(var_dir, run_id)
    if path is None:
        await fail_run(factory, run_id, "Fichier introuvable : il faut le déposer à nouveau.")
        return None

    async def publish(report: ImportReport) -> None:
        await progress.publish(run_id, report)

    try:
        run = await run_import(factory, run_id, path, publish)
    except Exception:
        log.exception("import %s failed unexpectedly", run_id)
        await fail_run(factory, run_id, UNEXPECTED)
        run = None
    discard_upload(var_dir, run_id)
    return run


def report_of(run: ImportRun) -> ImportReport:
    """The report of a finished run, as :func:`broadcast.imports.report.format_report` reads it."""
    counts = {name: getattr(run, name) for name in ImportReport().counts()}
    return ImportReport(**counts, rejections=list(run.rejections), remarks=len(run.rejections))
