"""Hostile files cannot make an import hold them (issue 9, item 9): every XML element is freed
once read, lines, texts, records and nesting are bounded, and what exceeds a bound is refused
whole with a French reason. Memory itself is measured by ``python -m bench.import_bombs``."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from broadcast.core.db import SessionFactory
from broadcast.directory.uai import make_uai
from broadcast.imports.errors import ImportRefused
from broadcast.imports.siecle import MAX_KEPT, SiecleGuardiansReader
from broadcast.imports.textio import MAX_LINE_CHARS
from broadcast.imports.xmlstream import MAX_DEPTH, stream_elements
from tests.imports.builders import Pupil, contacts_by_external_id, import_file, siecle_pupils_xml
from tests.support import build_world

UAI = make_uai("0670100")


def _pupils_with_junk(junk: bytes) -> bytes:
    """A SIECLE pupils' file with ``junk`` before its records and between them."""
    xml = siecle_pupils_xml(UAI, [Pupil(str(1000 + n), "NOM", "P", "6A") for n in range(3)])
    xml = xml.replace(b"<DONNEES>", b"<DONNEES>" + junk, 1)
    return xml.replace(b"</PARAMETRES>", b"</PARAMETRES>" + junk, 1)


def test_elements_no_reader_wants_are_freed_as_they_end() -> None:
    data = _pupils_with_junk(b"<OPTION><CODE>X</CODE></OPTION>" * 50_000)
    elements = stream_elements(io.BytesIO(data), frozenset({"ELEVE", "STRUCTURES_ELEVE"}))
    root = next(elements)
    held = [sum(1 for _ in root.iter()) for _ in elements]
    assert len(held) == 6, "three pupils and their three structures"
    assert max(held) < 20, "the tree holds one record and its ancestors, not the junk"


async def _refusal(factory: SessionFactory, path: Path) -> str:
    world = await build_world(factory)
    run = await import_file(factory, world.school_x, path)
    assert (run.status, run.created) == ("failed", 0)
    assert await contacts_by_external_id(factory) == {}
    assert run.error is not None
    return run.error


@pytest.mark.parametrize(
    ("junk", "reason"),
    [
        (
            b"<NOTE>" + b"a" * (2 << 20) + b"</NOTE>",
            "Fichier refusé : texte ou balise de plus de 1 Mo.",
        ),
        (
            b'<NOTE TEXTE="' + b"a" * (2 << 20) + b'"/>',
            "Fichier refusé : texte ou balise de plus de 1 Mo.",
        ),
        (
            b"<A>" * (MAX_DEPTH + 1) + b"</A>" * (MAX_DEPTH + 1),
            f"Fichier refusé : éléments imbriqués sur plus de {MAX_DEPTH} niveaux.",
        ),
    ],
    ids=["text", "attribute", "nesting"],
)
async def test_an_xml_beyond_the_bounds_is_refused_in_french(
    factory: SessionFactory, tmp_path: Path, junk: bytes, reason: str
) -> None:
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(_pupils_with_junk(junk))
    assert await _refusal(factory, path) == reason


async def test_a_record_too_large_for_an_export_is_refused(
    factory: SessionFactory, tmp_path: Path
) -> None:
    huge = "".join(f"<OPTION>{n}</OPTION>" for n in range(40_000))
    data = siecle_pupils_xml(UAI, [Pupil("1", "NOM", "P", "6A")])
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(data.replace(b"</ELEVE>", huge.encode() + b"</ELEVE>", 1))
    assert await _refusal(factory, path) == (
        "Fichier refusé : élément ELEVE de plus de 256 Ko : ce n'est pas un export attendu."
    )


@pytest.mark.parametrize(("line", "in_zip"), [(1, False), (2, False), (2, True)])
async def test_a_csv_line_too_long_is_refused_before_it_is_held(
    factory: SessionFactory, tmp_path: Path, line: int, in_zip: bool
) -> None:
    long = "a" * (MAX_LINE_CHARS + 10)
    lines = ["Nom;Courriel", f"Roth;anna@familles.fr{long}"] if line == 2 else [f"Nom;{long}"]
    data = ("\r\n".join(lines) + "\r\n").encode()
    path = tmp_path / ("contacts.zip" if in_zip else "contacts.csv")
    if in_zip:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("contacts.csv", data)
    else:
        path.write_bytes(data)
    assert await _refusal(factory, path) == (
        f"Fichier refusé : ligne {line} trop longue (plus d'un million de caractères) : "
        "ce n'est pas un fichier de contacts."
    )


async def test_a_record_spread_over_many_lines_is_bounded_too(
    factory: SessionFactory, tmp_path: Path
) -> None:
    fields = ";".join(['"' + "b" * 1000 + '\n"'] * 1100)  # one record, 1,100 lines
    path = tmp_path / "contacts.csv"
    path.write_bytes(f"Nom;Courriel\r\nRoth;{fields}\r\n".encode())
    error = await _refusal(factory, path)
    assert re.fullmatch(
        r"Fichier refusé : ligne 10\d\d trop longue \(plus d'un million de caractères\) : "
        r"ce n'est pas un fichier de contacts\.",
        error,
    ), error


def test_a_siecle_file_with_more_persons_than_a_school_is_refused() -> None:
    persons = b"".join(b'<PERSONNE PERSONNE_ID="%d"/>' % n for n in range(MAX_KEPT + 1))
    data = (
        b"<BEE_RESPONSABLES><PARAMETRES><UAJ>" + UAI.encode() + b"</UAJ></PARAMETRES>"
        b"<DONNEES><PERSONNES>" + persons + b"</PERSONNES></DONNEES></BEE_RESPONSABLES>"
    )
    reader = SiecleGuardiansReader(lambda: io.BytesIO(data))
    with pytest.raises(ImportRefused) as refused:
        list(reader.records())
    assert refused.value.message_fr == (
        "Fichier refusé : plus de 100 000 élèves ou personnes : "
        "ce n'est pas l'export d'un établissement."
    )
