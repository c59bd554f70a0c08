"""RULES A7 through the real exports (contacts, audit log): a French spreadsheet splits cells on
``;`` and others on ``,`` or tab, so no piece of any cell may start a formula."""

from __future__ import annotations

import csv
import io
import re

import httpx

from broadcast.accounts.models import Role
from broadcast.accounts.service import audit, create_api_key, create_operator
from broadcast.core.db import SessionFactory, transaction
from broadcast.directory.models import ContactRole, Organisation
from broadcast.directory.schemas import ContactIn
from broadcast.settings import Settings
from tests.support import add_contacts, api, auth, build_world

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = 'Dupont;=HYPERLINK("http://evil.example";"clic")'


def _pieces(document: str) -> list[str]:
    """Every piece a spreadsheet could read as a cell: each line split on , ; and tab,
    whatever the quotes, each piece stripped of its quote and leading spaces."""
    pieces: list[str] = []
    for line in document.removeprefix("\ufeff").splitlines():
        pieces += [p.lstrip(' "') for p in re.split(r"[,;\t]", line)]
    return pieces


def _formulas(document: str) -> list[str]:
    return [piece for piece in _pieces(document) if piece.startswith(TRIGGERS)]


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_contacts_export_has_no_formula_in_any_piece_of_a_cell(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    hostile = ContactIn(
        organisation_id=world.school_x,
        first_name="Léa, +33612345678",
        last_name=HOSTILE,
        role=ContactRole.guardian,
        division="3e\t@SUM(A1:A9)",
        email="lea@exemple.fr",
        mobile="06 12 34 56 78",
    )
    await add_contacts(factory, [hostile])
    async with api(settings) as client:
        response = await client.get(
            "/api/v1/contacts/export.csv", headers=auth(world.keys["head_x"])
        )
    assert response.status_code == 200, response.text
    assert _formulas(response.text) == []
    [row] = _rows(response)
    assert row["last_name"] == 'Dupont;\'=HYPERLINK("http://evil.example";"clic")'
    assert row["first_name"] == "Léa, '+33612345678"
    assert row["division"] == "3e\t'@SUM(A1:A9)"
    assert row["mobile"] == "'+33612345678"
    assert row["email"] == "lea@exemple.fr"
    lines = response.text.removeprefix("\ufeff").splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in lines)  # quoted


async def test_audit_export_has_no_formula_in_any_piece_of_a_cell(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    async with transaction(factory) as session:
        school = await session.get(Organisation, world.school_x)
        assert school is not None
        operator = await create_operator(
            session,
            email="formule@test.fr",
            display_name=HOSTILE,
            role=Role.head_teacher,
            organisation=school,
        )
        await create_api_key(session, operator, "test")
        audit(
            session,
            None,
            "settings.change",
            organisation_id=world.school_x,
            details={"note": "a;-1+1"},
            object_type="contact\r=cmd",
        )
    async with api(settings) as client:
        response = await client.get("/api/v1/audit/export", headers=auth(world.keys["head_x"]))
    assert response.status_code == 200, response.text
    assert _formulas(response.text) == []
    row = next(r for r in _rows(response) if r["action"] == "settings.change")
    assert row["object_type"] == "contact\r'=cmd"
    assert '"note": "a;\'-1+1"' in row["details"]
