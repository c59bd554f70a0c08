"""Contact imports: upload a file, follow the background job's progress and read its report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile, status

from admin.api.pages import CursorParam, LimitParam, Page, page_of
from admin.deps import SettingsDep, UowDep, requires
from admin.idempotency import idempotent
from broadcast.accounts.permissions import Permission
from broadcast.accounts.service import Principal
from broadcast.core.sqlutil import row_id
from broadcast.core.validation import RowId
from broadcast.directory.service import get_organisation
from broadcast.imports import service
from broadcast.imports.models import ImportStatus
from broadcast.imports.progress import ImportProgress
from broadcast.imports.records import ImportKind
from broadcast.imports.schemas import ImportRunOut
from broadcast.imports.uploads import save_upload

router = APIRouter(tags=["imports"])

Importer = Annotated[Principal, requires(Permission.contacts_import)]


@router.post("/imports", status_code=status.HTTP_202_ACCEPTED, response_model=ImportRunOut)
@idempotent
async def start_import(
    uow: UowDep,
    principal: Importer,
    settings: SettingsDep,
    file: UploadFile,
    organisation_id: Annotated[RowId, Form()],
    kind: Annotated[ImportKind | None, Form()] = None,
    dry_run: Annotated[bool, Form()] = False,
    full: Annotated[bool, Form()] = False,
) -> ImportRunOut:
    """Store the file and import it in the background: CSV, SIECLE, ONDE, STS-Web or a zip of
    them. Rows naming a school outside ``organisation_id`` (within your scope) are refused."""
    organisation = await get_organisation(uow.session, principal, organisation_id)
    filename = file.filename or "import"
    run = await service.create_run(
        uow.session,
        principal,
        organisation,
        filename=filename,
        kind=kind,
        dry_run=dry_run,
        full=full,
    )
    max_bytes = settings.import_max_upload_mb << 20
    await save_upload(file.read, settings.var_dir, row_id(run), filename, max_bytes)
    service.run_in_background(uow.session, run)
    return ImportRunOut.model_validate(run, from_attributes=True)


@router.get("/imports", response_model=Page[ImportRunOut])
async def list_imports(
    uow: UowDep, principal: Importer, cursor: CursorParam = 0, limit: LimitParam = 50
) -> Page[ImportRunOut]:
    """The imports within your scope, newest first: status, counts and refused rows."""
    runs = await service.list_runs(uow.session, principal, before=cursor, limit=limit)
    items = [ImportRunOut.model_validate(run, from_attributes=True) for run in runs]
    return page_of(items, [run.id for run in runs], limit)


@router.get("/imports/{import_id}", response_model=ImportRunOut)
async def read_import(
    uow: UowDep, principal: Importer, request: Request, import_id: RowId
) -> ImportRunOut:
    """The run: its status, counts and refused rows; while it runs, the counts so far."""
    run = await service.get_run(uow.session, principal, import_id)
    out = ImportRunOut.model_validate(run, from_attributes=True)
    if run.status == ImportStatus.running:
        progress: ImportProgress = request.app.state.import_progress
        out = out.model_copy(update=await progress.read(import_id))
    return out
