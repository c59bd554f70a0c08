"""The broadcast preview's SMS estimate (encoding, segments, cost per locale, RULES S4) and each
channel's expected duration at its configured rate: pure parts, then through the API on both
databases. No Twilio account is needed to preview."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from broadcast.broadcasts.estimates import (
    expected_duration_s,
    format_duration_fr,
    sms_estimate,
)
from broadcast.broadcasts.service import channel_rate
from broadcast.core.db import SessionFactory
from broadcast.directory.models import ContactRole
from broadcast.directory.schemas import ContactIn
from broadcast.ratelimit import RateLimit
from broadcast.settings import Settings, TwilioAccount
from tests.support import add_contacts, api, auth, build_world

GENE = "Nous regrettons la gêne occasionnée"


def test_200000_sms_at_10_per_second_take_five_and_a_half_hours() -> None:
    seconds = expected_duration_s(200_000, 10)
    assert seconds == 20_000
    assert format_duration_fr(seconds) == "5 h 33 min"


def test_no_rate_means_no_expected_duration() -> None:
    assert expected_duration_s(200_000, None) is None
    assert format_duration_fr(None) is None


def test_short_durations_read_in_minutes_or_seconds() -> None:
    assert format_duration_fr(12) == "12 s"
    assert format_duration_fr(0.2) == "1 s"
    assert format_duration_fr(90) == "2 min"
    assert format_duration_fr(7200) == "2 h"


def test_gene_is_ucs2_because_of_e_circumflex_and_the_warning_says_so() -> None:
    estimate = sms_estimate({"fr": GENE}, {"fr": 1}, 0.05)
    (fr,) = estimate.locales
    assert fr.encoding == "UCS-2"
    assert fr.ucs2_characters == ["ê"]
    assert fr.warning is not None
    assert "UCS-2" in fr.warning
    assert fr.warning.endswith(": ê.")


def test_cost_is_segments_times_price_per_locale_and_in_total() -> None:
    long_gsm = "a" * 161  # two GSM-7 parts of 153
    estimate = sms_estimate({"fr": GENE, "en": long_gsm}, {"fr": 1000, "en": 3}, 0.045)
    by_locale = {e.locale: e for e in estimate.locales}
    assert by_locale["fr"].segments_per_message == 1
    assert by_locale["fr"].total_segments == 1000
    assert by_locale["fr"].cost_eur == 45.0
    assert by_locale["en"].encoding == "GSM-7"
    assert by_locale["en"].warning is None
    assert by_locale["en"].segments_per_message == 2
    assert by_locale["en"].total_segments == 6
    assert by_locale["en"].cost_eur == 0.27
    assert estimate.recipients == 1003
    assert estimate.total_segments == 1006
    assert estimate.cost_eur == 45.27


def test_a_locale_without_recipients_costs_nothing() -> None:
    estimate = sms_estimate({"fr": "Bonjour"}, {}, 0.05)
    assert estimate.locales[0].recipients == 0
    assert estimate.cost_eur == 0


def twilio(name: str, rate: float | None) -> TwilioAccount:
    return TwilioAccount(
        name=name,
        account_sid="AC" + "1" * 32,
        auth_token="token",  # type: ignore[arg-type]
        sender_id="Rectorat",
        rate=RateLimit(rate=rate) if rate is not None else None,
    )


def test_sms_rate_is_the_accounts_sum_capped_by_the_channel_bucket(settings: Settings) -> None:
    assert channel_rate(settings, "sms") is None
    two = [twilio("a", 4), twilio("b", 6)]
    assert channel_rate(settings.model_copy(update={"twilio_accounts": two}), "sms") == 10
    capped = settings.model_copy(
        update={"twilio_accounts": two, "channel_rates": {"sms": RateLimit(rate=8)}}
    )
    assert channel_rate(capped, "sms") == 8
    assert channel_rate(capped, "email") is None
    unlimited_account = [twilio("a", 4), twilio("b", None)]
    assert (
        channel_rate(settings.model_copy(update={"twilio_accounts": unlimited_account}), "sms")
        is None
    )


def parents(school_id: int, numbers: range, locale: str) -> list[ContactIn]:
    """Guardians with a mobile +336000000NN (and an email) in ``locale``."""
    return [
        ContactIn(
            organisation_id=school_id,
            first_name="P",
            last_name=f"L{n}",
            role=ContactRole.guardian,
            level="6e",
            division="6e A",
            locale=locale,  # type: ignore[arg-type]
            email=f"parent{n}@familles.fr",
            mobile=f"+336000000{n:02d}",
        )
        for n in numbers
    ]


async def draft(
    client: httpx.AsyncClient, key: str, school: int, message: str, channels: list[str]
) -> dict[str, Any]:
    notice = await client.post(
        "/api/v1/notices",
        headers=auth(key),
        json={"organisation_id": school, "title": "Cantine fermée", "message": message},
    )
    assert notice.status_code == 201, notice.text
    created = await client.post(
        "/api/v1/broadcasts",
        headers=auth(key),
        json={
            "notice_id": notice.json()["id"],
            "audience": {"organisation_ids": [school]},
            "channels": channels,
        },
    )
    assert created.status_code == 201, created.text
    preview: dict[str, Any] = created.json()["preview"]
    again = await client.get(
        f"/api/v1/broadcasts/{created.json()['id']}/preview", headers=auth(key)
    )
    assert again.status_code == 200, again.text
    assert again.json() == preview
    return preview


async def test_sms_preview_shows_encoding_segments_and_cost_per_locale(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = settings.model_copy(update={"sms_price_per_segment_eur": 0.06})
    assert settings.twilio_accounts == []
    world = await build_world(factory)
    await add_contacts(factory, parents(world.school_x, range(3), "fr"))
    await add_contacts(factory, parents(world.school_x, range(3, 5), "en"))
    async with api(settings) as client:
        preview = await draft(
            client, world.keys["head_x"], world.school_x, "Repas froid ce midi.", ["email", "sms"]
        )

    email, sms = preview["channels"]
    assert email["recipients_by_locale"] == {"fr": 3, "en": 2}
    assert sms["recipients"] == 5
    assert sms["recipients_by_locale"] == {"fr": 3, "en": 2}
    assert email["expected_duration_s"] is None  # no rate configured: unlimited
    assert sms["expected_duration"] is None
    estimate = preview["sms"]
    assert estimate["price_per_segment_eur"] == 0.06
    by_locale = {e["locale"]: e for e in estimate["locales"]}
    assert set(by_locale) == {"fr", "en"}
    for locale, recipients in (("fr", 3), ("en", 2)):
        assert by_locale[locale]["encoding"] == "GSM-7"
        assert by_locale[locale]["warning"] is None
        assert by_locale[locale]["segments_per_message"] == 1
        assert by_locale[locale]["recipients"] == recipients
        assert by_locale[locale]["total_segments"] == recipients
        assert by_locale[locale]["cost_eur"] == pytest.approx(recipients * 0.06)
    assert estimate["total_segments"] == 5
    assert estimate["cost_eur"] == pytest.approx(0.30)


async def test_a_notice_with_gene_previews_as_ucs2_naming_the_character(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, parents(world.school_x, range(4), "fr"))
    async with api(settings) as client:
        preview = await draft(client, world.keys["head_x"], world.school_x, GENE + ".", ["sms"])

    (fr,) = preview["sms"]["locales"]
    assert fr["locale"] == "fr"
    assert fr["encoding"] == "UCS-2"
    assert fr["ucs2_characters"] == ["ê"]
    assert "ê" in fr["warning"] and "UCS-2" in fr["warning"]
    assert fr["total_segments"] == 4 * fr["segments_per_message"]
    assert fr["cost_eur"] == pytest.approx(
        fr["total_segments"] * settings.sms_price_per_segment_eur
    )


async def test_an_sms_rate_of_10_per_second_gives_the_expected_duration(
    settings: Settings, factory: SessionFactory
) -> None:
    settings = settings.model_copy(
        update={"channel_rates": {"sms": RateLimit(rate=10, burst=10), "email": RateLimit(rate=2)}}
    )
    world = await build_world(factory)
    await add_contacts(factory, parents(world.school_x, range(25), "fr"))
    async with api(settings) as client:
        preview = await draft(
            client, world.keys["head_x"], world.school_x, "Repas froid ce midi.", ["sms", "email"]
        )

    sms, email = preview["channels"]
    assert sms["recipients"] == 25
    assert sms["expected_duration_s"] == 2.5
    assert sms["expected_duration"] == "3 s"
    assert email["expected_duration_s"] == 12.5
    assert email["expected_duration"] == "13 s"


async def test_an_address_shared_across_locales_is_counted_once(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, parents(world.school_x, range(2), "fr"))
    # parent1's mobile and email again, on an English-speaking contact added later.
    await add_contacts(factory, parents(world.school_x, range(1, 3), "en"))
    async with api(settings) as client:
        preview = await draft(
            client, world.keys["head_x"], world.school_x, "Repas froid ce midi.", ["sms"]
        )

    (sms,) = preview["channels"]
    assert sms["recipients"] == 3
    assert sms["excluded"]["duplicate"] == 1
    assert sms["recipients_by_locale"] == {"fr": 2, "en": 1}
    assert preview["sms"]["recipients"] == 3


def test_above_three_segments_the_estimate_warns_in_french() -> None:
    three = sms_estimate({"fr": "a" * 153 * 3}, {"fr": 10}, 0.05)
    assert three.locales[0].segments_warning is None
    four = sms_estimate({"fr": "a" * (153 * 3 + 1)}, {"fr": 10}, 0.05)
    assert four.locales[0].segments_per_message == 4
    assert four.locales[0].segments_warning == (
        "Chaque SMS sera facturé 4 segments (plus de 3) : raccourcissez le message pour "
        "réduire le coût."
    )


async def test_a_long_update_previews_with_the_segments_warning(
    settings: Settings, factory: SessionFactory
) -> None:
    world = await build_world(factory)
    await add_contacts(factory, parents(world.school_x, range(2), "fr"))
    async with api(settings) as client:
        preview = await draft(
            client, world.keys["head_x"], world.school_x, "Repas froid ce midi. " * 25, ["sms"]
        )
    (fr,) = preview["sms"]["locales"]
    assert fr["segments_per_message"] == 4
    assert fr["segments_warning"] == (
        "Chaque SMS sera facturé 4 segments (plus de 3) : raccourcissez le message pour "
        "réduire le coût."
    )


async def test_an_sms_over_1600_characters_is_refused_at_draft_time(
    settings: Settings, factory: SessionFactory
) -> None:
    """Twilio would refuse every message (error 21617): the draft is refused, nothing is kept;
    the same notice by email alone is fine."""
    world = await build_world(factory)
    await add_contacts(factory, parents(world.school_x, range(2), "fr"))
    key = world.keys["head_x"]
    async with api(settings) as client:
        notice = await client.post(
            "/api/v1/notices",
            headers=auth(key),
            json={"organisation_id": world.school_x, "title": "Cantine", "message": "a" * 1600},
        )
        assert notice.status_code == 201, notice.text
        body = {
            "notice_id": notice.json()["id"],
            "audience": {"organisation_ids": [world.school_x]},
            "channels": ["email", "sms"],
        }
        refused = await client.post("/api/v1/broadcasts", headers=auth(key), json=body)
        listed = await client.get("/api/v1/broadcasts", headers=auth(key))
        by_email = await client.post(
            "/api/v1/broadcasts", headers=auth(key), json={**body, "channels": ["email"]}
        )

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "sms_too_long"
    limit = "au-delà de 1600 caractères, limite de l'opérateur (Twilio, erreur 21617)"
    assert error["message"].startswith("Le SMS ferait 16") and limit in error["message"]
    assert listed.json()["items"] == []
    assert by_email.status_code == 201
