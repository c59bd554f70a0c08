"""« Vérifier »'s counts, kept a few seconds for the same draft
(:mod:`broadcast.broadcasts.recipient_counts`), on both databases: a change of the audience or
the channels is counted again at once; a change of the directory between the page and the send
button is caught by the send, which counts again, refuses (422) and shows the new numbers;
nothing is sent until the sender confirms those."""

from __future__ import annotations

import re

import httpx

from broadcast.broadcasts.models import Broadcast, BroadcastStatus
from broadcast.core.db import SessionFactory
from broadcast.sandbox.smtp import SmtpSink
from broadcast.settings import Settings
from tests.console.console_support import csrf_of, give_password, sign_in
from tests.support import add_contacts, api, build_world, guardians

TEMPLATE = "/console/rediger/modele/ent-indisponible"
_SHOWN = re.compile(r'name="vu" value="([^"]*)"')


async def _signed_in_head_of_x(client: httpx.AsyncClient, factory: SessionFactory) -> None:
    credentials = await give_password(factory, "head_x@test.fr")
    assert (await sign_in(client, credentials)).status_code == 303


async def _post(
    client: httpx.AsyncClient, path: str, data: dict[str, str | list[str]], *, from_page: str
) -> httpx.Response:
    page = await client.get(from_page)
    assert page.status_code == 200, page.text
    return await client.post(path, data={"csrf": csrf_of(page), **data})


async def _fast_draft(client: httpx.AsyncClient) -> int:
    values: dict[str, str | list[str]] = {
        "v_etablissement": "Collège Jean Moulin",
        "v_depuis": "ce matin 8 h",
        "rapide": "1",
    }
    answer = await _post(client, TEMPLATE, values, from_page=TEMPLATE + "?rapide=1")
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].split("/")[3])


def _shown(page: httpx.Response) -> str:
    found = _SHOWN.search(page.text)
    assert found, "no recipients posted back by the page"
    return found.group(1)


async def _status(factory: SessionFactory, broadcast_id: int) -> str:
    async with factory() as session:
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        return found.status


async def test_a_directory_change_before_the_send_shows_the_new_numbers_first(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(settings) as client:
        await _signed_in_head_of_x(client, factory)
        broadcast_id = await _fast_draft(client)
        check_path = f"/console/rediger/{broadcast_id}/verifier"
        send_path = f"/console/rediger/{broadcast_id}/envoyer"
        first = await client.get(check_path)
        assert "Envoyer 3 e-mails" in first.text and _shown(first) == "email:3,sms:0"
        await add_contacts(factory, guardians(world.school_x, 2, start=50))  # an import
        refused = await client.post(send_path, data={"csrf": csrf_of(first), "vu": _shown(first)})
        assert refused.status_code == 422
        assert "Les destinataires ont changé depuis l&#39;affichage de la page" in refused.text
        assert "Envoyer 5 e-mails" in refused.text and _shown(refused) == "email:5,sms:0"
        assert await _status(factory, broadcast_id) == BroadcastStatus.draft
        again = await client.get(check_path)  # the recount is what the page shows now
        assert "Envoyer 5 e-mails" in again.text
        sent = await client.post(send_path, data={"csrf": csrf_of(refused), "vu": _shown(refused)})
        assert sent.status_code == 303
    assert await _status(factory, broadcast_id) == BroadcastStatus.queued


async def test_a_new_audience_or_new_channels_are_counted_again_at_once(
    settings: Settings, factory: SessionFactory, sink: SmtpSink
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, guardians(world.school_x, 3))
    async with api(settings) as client:
        await _signed_in_head_of_x(client, factory)
        broadcast_id = await _fast_draft(client)
        check_path = f"/console/rediger/{broadcast_id}/verifier"
        audience_path = f"/console/rediger/{broadcast_id}/audience"
        channels_path = f"/console/rediger/{broadcast_id}/canaux"
        first = await client.get(check_path)
        assert "3 sans adresse sur ce canal" in first.text and _shown(first) == "email:3,sms:0"
        fifth: dict[str, str | list[str]] = {
            "organisation_ids": [str(world.school_x)],
            "roles": ["guardian"],
            "levels": "5e",
        }
        chosen = await _post(client, audience_path, fifth, from_page=audience_path)
        assert chosen.status_code == 303
        nobody = await client.get(check_path)
        assert "Aucun destinataire : modifiez l&#39;audience ou les canaux." in nobody.text
        sixth = {**fifth, "levels": "6e"}
        assert (await _post(client, audience_path, sixth, from_page=audience_path)).is_redirect
        assert "Envoyer 3 e-mails" in (await client.get(check_path)).text
        email: dict[str, str | list[str]] = {"channels": ["email"], "when": "now"}
        assert (await _post(client, channels_path, email, from_page=channels_path)).is_redirect
        check = await client.get(check_path)
        assert "sans adresse sur ce canal" not in check.text and _shown(check) == "email:3"
