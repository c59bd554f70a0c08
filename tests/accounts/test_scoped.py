"""RULES A1 by construction: one scoped query (broadcast/accounts/scoped.py) reads and lists
every object that belongs to an organisation; nothing else writes a scope filter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from broadcast.accounts.scoped import get_within_scope, select_within_scope
from broadcast.core.db import SessionFactory, transaction
from broadcast.core.errors import NotFound
from broadcast.notices.models import Notice
from broadcast.notices.schemas import NoticeIn
from broadcast.notices.service import create_notice
from tests.support import build_world, operator_principal

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "broadcast" / "accounts" / "scoped.py"
HAND_WRITTEN_SCOPE = re.compile(
    r"Organisation\.path\)?\.startswith"  # a subtree filter in SQL
    r"|\bpath\w*\)?\.startswith\((?!['\"A-Z])"  # a subtree test on a path (not a URL prefix)
    r"|\.startswith\([^)]*(scope|\.path\b)"  # ... whatever the receiver is called
    r"|\bensure_covers\b|\.covers\("  # the old per-call check
)


def hand_written_scope_filters(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if HAND_WRITTEN_SCOPE.search(line)]


def test_no_scope_filter_is_written_by_hand_outside_the_helper() -> None:
    sources = [
        p for package in ("broadcast", "admin", "workers") for p in (ROOT / package).rglob("*.py")
    ]
    assert len(sources) > 100
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sources
        if path != HELPER and (lines := hand_written_scope_filters(path.read_text()))
    }
    assert found == {}


def test_the_grep_finds_each_old_form_of_the_check() -> None:
    old = (
        "q.where(col(Organisation.path).startswith(principal.scope_path))\n"
        "principal.ensure_covers(organisation)\n"
        "ok = school.path.startswith(self._scope.path)\n"
        "ok = principal.covers(org.path)\n"
        "ok = path_column.startswith(path)\n"
        "ok = name.startswith('x') and url.startswith('https://')\n"
    )
    assert len(hand_written_scope_filters(old)) == 5


async def _notice_of(factory: SessionFactory, head: str, school: int) -> int:
    principal = await operator_principal(factory, head)
    data = NoticeIn(organisation_id=school, title="ENT indisponible", message="L'ENT est coupé.")
    async with transaction(factory) as session:
        return (await create_notice(session, principal, data)).id or 0


async def test_another_schools_object_reads_exactly_as_an_absent_one(
    factory: SessionFactory,
) -> None:
    world = await build_world(factory)
    own = await _notice_of(factory, "head_x", world.school_x)
    other = await _notice_of(factory, "head_y", world.school_y)
    head_x = await operator_principal(factory, "head_x")
    not_found = NotFound("Avis introuvable.", "Notice not found.")
    async with factory() as session:
        assert (await get_within_scope(session, head_x, Notice, own, not_found)).id == own
        answers = []
        for notice_id in (other, other + 1000):
            with pytest.raises(NotFound) as refused:
                await get_within_scope(session, head_x, Notice, notice_id, not_found)
            answers.append((refused.value.status_code, refused.value.message("fr")))
        listed = (await session.execute(select_within_scope(head_x, Notice))).scalars().all()
    assert answers == [(404, "Avis introuvable."), (404, "Avis introuvable.")]
    assert [n.id for n in listed] == [own]


async def test_an_officer_lists_every_school_of_his_academie(factory: SessionFactory) -> None:
    world = await build_world(factory)
    notices = {
        await _notice_of(factory, h, s)
        for h, s in (("head_x", world.school_x), ("head_y", world.school_y))
    }
    officer = await operator_principal(factory, "officer")
    async with factory() as session:
        listed = (await session.execute(select_within_scope(officer, Notice))).scalars().all()
    assert {n.id for n in listed} == notices
