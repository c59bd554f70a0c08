"""Contact imports: the upload form and the past imports in scope, an import's page (its
progress while it runs, then its report: counts and the rows refused with their numbers and
reasons), the progress as JSON for the page's script, and the refused rows as CSV. The upload
goes through the same service as ``POST /api/v1/imports``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from admin.console.deps import ConsoleUser, console_requires
from admin.console.forms import discard
from admin.console.texts import translate
from admin.console.web import french_number, page, redirect
from admin.deps import SettingsDep, UowDep
from broadcast.accounts.permissions import Permission
from broadcast.core.csvsafe import csv_text
from broadcast.core.errors import InvalidInput
from broadcast.core.sqlutil import row_id
from broadcast.core.validation import RowId
from broadcast.directory.service import get_organisation, organisations_in_scope
from broadcast.imports import service
from broadcast.imports.models import ImportRun, ImportStatus
from broadcast.imports.progress import ImportProgress
from broadcast.imports.uploads import discard_upload, save_upload, stored_upload

router = APIRouter(prefix="/console/imports", include_in_schema=False)
Importer = Annotated[ConsoleUser, console_requires(Permission.contacts_import)]
PAGE = 30
STATUS_LABELS = {
    ImportStatus.pending: ("En attente", "Waiting"),
    ImportStatus.running: ("En cours", "Running"),
    ImportStatus.completed: ("Terminé", "Finished"),
    ImportStatus.failed: ("Refusé", "Refused"),
}
FINAL = (ImportStatus.completed, ImportStatus.failed)
COUNTS = ("rows_read", "created", "updated", "unchanged", "rejected", "left", "skipped")
CSV_HEADER = ("fichier", "ligne", "identifiant", "motif", "suite")


def status_label(status: str, locale: str) -> str:
    french, english = STATUS_LABELS.get(ImportStatus(status), (status, status))
    return english if locale == "en" else french


def outcome(entry: dict[str, Any]) -> str:
    """What became of the row: refused, passed over, or imported (without this address)."""
    if entry.get("skipped"):
        return "ignorée"
    if entry.get("remark"):
        return "importée"
    if entry.get("imported"):
        return "importée sans cette adresse"
    return "rejetée"


@router.get("")
async def imports(
    request: Request,
    uow: UowDep,
    user: Importer,
    before: Annotated[RowId, Query(alias="avant")] = 0,
) -> Response:
    return await _imports_page(request, uow, user, before=before)


async def _imports_page(
    request: Request,
    uow: UowDep,
    user: ConsoleUser,
    *,
    before: int = 0,
    error: str | None = None,
    chosen: int | None = None,
    status_code: int = 200,
) -> Response:
    runs = await service.list_runs(uow.session, user.principal, before=before, limit=PAGE)
    return page(
        request,
        "imports.html",
        locale=user.locale,
        user=user,
        runs=runs,
        organisations=await organisations_in_scope(uow.session, user.principal),
        chosen=chosen or user.organisation.id,
        label=lambda status: status_label(status, user.locale),
        older=f"?avant={runs[-1].id}" if len(runs) == PAGE else "",
        error=error,
        status_code=status_code,
    )


@router.post("")
async def upload(
    request: Request,
    uow: UowDep,
    user: Importer,
    settings: SettingsDep,
    organisation_id: Annotated[RowId, Form(alias="organisation")] = 0,
    file: Annotated[UploadFile | None, Form(alias="fichier")] = None,
    dry_run: Annotated[str, Form(alias="simulation", max_length=8)] = "",
) -> Response:
    """Store the file, check it can be read, and ask for its import job; a file no reader
    reads is refused here, in French, and nothing is kept."""
    organisation = await get_organisation(
        uow.session, user.principal, organisation_id or row_id(user.organisation)
    )
    if file is None or not file.filename:
        return await _imports_page(
            request,
            uow,
            user,
            error=translate("Choisissez le fichier à importer.", user.locale),
            chosen=organisation.id,
            status_code=422,
        )
    run = await service.create_run(
        uow.session, user.principal, organisation, filename=file.filename, dry_run=bool(dry_run)
    )
    run_id = row_id(run)
    try:
        await save_upload(
            file.read,
            settings.var_dir,
            run_id,
            file.filename,
            settings.import_max_upload_mb << 20,
        )
        path = stored_upload(settings.var_dir, run_id)
        assert path is not None
        service.check_file(path)
    except InvalidInput as refused:
        discard_upload(settings.var_dir, run_id)
        await discard(uow, user)
        return await _imports_page(
            request,
            uow,
            user,
            error=refused.message(user.locale),
            chosen=organisation.id,
            status_code=422,
        )
    service.run_in_background(uow.session, run)
    return redirect(f"/console/imports/{run_id}")


async def _counts(request: Request, run: ImportRun) -> dict[str, int]:
    counts = {name: getattr(run, name) for name in COUNTS}
    if run.status == ImportStatus.running:
        progress: ImportProgress = request.app.state.import_progress
        counts |= await progress.read(row_id(run))
    return counts


@router.get("/{import_id}")
async def import_page(request: Request, uow: UowDep, user: Importer, import_id: RowId) -> Response:
    run = await service.get_run(uow.session, user.principal, import_id)
    organisation = await get_organisation(uow.session, user.principal, run.organisation_id)
    return page(
        request,
        "import.html",
        locale=user.locale,
        user=user,
        run=run,
        organisation=organisation,
        counts=await _counts(request, run),
        final=run.status in FINAL,
        label=lambda status: status_label(status, user.locale),
        outcome=outcome,
        refused=[e for e in run.rejections if outcome(e) == "rejetée"],
        remarks=[e for e in run.rejections if outcome(e) != "rejetée"],
    )


@router.get("/{import_id}/etat")
async def import_state(
    request: Request, uow: UowDep, user: Importer, import_id: RowId
) -> JSONResponse:
    """The figures the import page's script shows while the import runs."""
    run = await service.get_run(uow.session, user.principal, import_id)
    counts = await _counts(request, run)
    return JSONResponse(
        {
            "status": run.status,
            "status_label": status_label(run.status, user.locale),
            "final": run.status in FINAL,
            "counts": {name: french_number(value) for name, value in counts.items()},
        },
        headers={"cache-control": "no-store"},
    )


@router.get("/{import_id}/rejets.csv")
async def rejections_csv(uow: UowDep, user: Importer, import_id: RowId) -> Response:
    run = await service.get_run(uow.session, user.principal, import_id)
    rows = [
        (e.get("file", ""), e.get("row", ""), e.get("id", ""), e.get("reason", ""), outcome(e))
        for e in run.rejections
    ]
    return Response(
        content=csv_text(CSV_HEADER, rows).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{run.id}-rejets.csv"'},
    )
