"""Exports inside a zip: every importable member read, SIECLE pupils before their guardians."""

from __future__ import annotations

import zipfile
from pathlib import Path

from broadcast.core.db import SessionFactory
from broadcast.directory.uai import make_uai
from tests.imports.builders import (
    Person,
    Pupil,
    contacts_by_external_id,
    import_file,
    siecle_guardians_xml,
    siecle_pupils_xml,
)
from tests.support import build_world


async def test_siecle_zip_links_guardians_to_classes(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    uai = make_uai("0670100")
    path = tmp_path / "export_siecle.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        # guardians first in the archive: the importer still reads the pupils first
        archive.writestr(
            "export/ResponsablesAvecAdresses.xml",
            siecle_guardians_xml(
                uai, [Person("7", "ROSS", "Ana", "06 99 88 77 66", "", [("1", "1"), ("2", "1")])]
            ),
        )
        archive.writestr(
            "export/ElevesSansAdresses.xml",
            siecle_pupils_xml(
                uai,
                [Pupil("1", "ROSS", "Eva", "6B"), Pupil("2", "ROSS", "Tom", "3A", "10310019110")],
            ),
        )
        archive.writestr("export/Lisez-moi.pdf", b"%PDF-1.4")
    run = await import_file(factory, world.school_x, path)
    assert (run.status, run.kind, run.rows_read, run.created, run.rejected) == (
        "completed",
        "siecle",
        4,
        4,
        0,
    )
    contacts = await contacts_by_external_id(factory)
    assert (contacts["7:1"]["division"], contacts["7:2"]["division"]) == ("6B", "3A")
    assert (contacts["7:1"]["level"], contacts["7:2"]["level"]) == ("6e", "3e")


async def test_zip_with_nothing_importable_is_refused(
    factory: SessionFactory, tmp_path: Path
) -> None:
    world = await build_world(factory)
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8\xff")
    run = await import_file(factory, world.school_x, path)
    assert run.status == "failed"
    assert run.error == "Fichier refusé : l'archive ne contient aucun fichier importable."
