"""STS-Web staff exports: teachers, head and staff of the school named in PARAMETRES/UAJ."""

from __future__ import annotations

from pathlib import Path

from broadcast.core.db import SessionFactory
from broadcast.directory.uai import make_uai
from tests.imports.builders import contacts_by_external_id, import_file
from tests.support import build_world


def sts_emp_xml(uai: str) -> bytes:
    def individu(ident: str, nom: str, prenom: str, fonction: str, extra: str = "") -> str:
        return (
            f'<INDIVIDU ID="{ident}" TYPE="epp"><SEXE>2</SEXE><CIVILITE>2</CIVILITE>'
            f"<NOM_USAGE>{nom}</NOM_USAGE><NOM_PATRONYMIQUE>{nom}</NOM_PATRONYMIQUE>"
            f"<PRENOM>{prenom}</PRENOM><DATE_NAISSANCE>1980-01-01</DATE_NAISSANCE>"
            f"<GRADE>CERT. CL NORM.</GRADE><FONCTION>{fonction}</FONCTION>{extra}"
            '<DISCIPLINES><DISCIPLINE CODE="L0202"><LIBELLE_COURT>LETTRES MODERNES'
            "</LIBELLE_COURT></DISCIPLINE></DISCIPLINES></INDIVIDU>"
        )

    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<STS_EDT>'
        f'<PARAMETRES><UAJ CODE="{uai}"><ACADEMIE><CODE>15</CODE></ACADEMIE>'
        '<SIGLE>CLG</SIGLE></UAJ><ANNEE_SCOLAIRE ANNEE="2025"/></PARAMETRES>'
        "<DONNEES><NOMENCLATURES/><INDIVIDUS>"
        + individu("9001", "FRITSCH", "Hélène", "ENS", "<MEL>helene.fritsch@ac-strasbourg.fr</MEL>")
        + individu("9002", "ROTH", "Jean", "DIR", "<TEL_PORTABLE>06 70 80 90 10</TEL_PORTABLE>")
        + individu("9003", "KIEFFER", "Luc", "EDU")
        + "</INDIVIDUS><STRUCTURE/></DONNEES></STS_EDT>\n"
    ).encode("iso-8859-1")


async def test_staff_from_sts_web(factory: SessionFactory, tmp_path: Path) -> None:
    world = await build_world(factory)
    path = tmp_path / f"sts_emp_{make_uai('0670100')}_2025.xml"
    path.write_bytes(sts_emp_xml(make_uai("0670100")))
    run = await import_file(factory, world.academie, path)
    assert (run.status, run.kind, run.rows_read, run.created, run.rejected) == (
        "completed",
        "stsweb",
        3,
        3,
        0,
    )
    contacts = await contacts_by_external_id(factory)
    assert {k: (c["role"], c["last_name"], c["first_name"]) for k, c in contacts.items()} == {
        "9001": ("teacher", "FRITSCH", "Hélène"),
        "9002": ("head", "ROTH", "Jean"),
        "9003": ("staff", "KIEFFER", "Luc"),
    }
    assert contacts["9001"]["points"] == {("email", "helene.fritsch@ac-strasbourg.fr")}
    assert contacts["9002"]["points"] == {("sms", "+33670809010")}
    assert contacts["9003"]["points"] == set()
    assert {c["organisation_id"] for c in contacts.values()} == {world.school_x}
