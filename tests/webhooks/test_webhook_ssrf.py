"""Endpoint URL checks (RULES W3): no request is made, only local name resolution."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from broadcast.webhooks.ssrf import (
    PinnedResolver,
    UnsafeWebhookUrl,
    WebhookHostNotFound,
    check_url,
)


async def refusal(url: str) -> str:
    """The French message of the refusal, with SSRF protection fully on."""
    with pytest.raises(UnsafeWebhookUrl) as caught:
        await check_url(url, allow_http=False, allow_internal=False)
    assert caught.value.status_code == 422
    return caught.value.message_fr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/", "bouclage"),
        ("https://10.1.2.3/", "privée"),
        ("https://192.168.0.1/", "privée"),
        ("https://172.16.5.4/hook", "privée"),
        ("https://169.254.169.254/latest/meta-data/", "lien-local"),
        ("https://[::1]/", "bouclage"),
        ("https://[::ffff:127.0.0.1]/", "bouclage (loopback) déguisée en IPv6"),
        ("https://[::ffff:10.0.0.1]/", "privée déguisée en IPv6"),
        ("https://[2002:7f00:1::]/", "déguisée en IPv6"),
        ("https://[64:ff9b::a9fe:a9fe]/", "lien-local déguisée en IPv6"),
        ("https://[fe80::1]/", "lien-local"),
        ("https://[fc00::1]/", "privée"),
        ("https://0.0.0.0/", "non spécifiée"),
        ("https://224.0.0.1/", "multicast"),
        ("https://100.64.0.1/", "non publique"),
        ("https://localhost/", "localhost"),
        ("https://localhost:8443/", "bouclage"),
    ],
)
async def test_internal_addresses_are_refused(url: str, reason: str) -> None:
    message = await refusal(url)
    assert message.startswith("Adresse de webhook refusée")
    assert reason in message


@pytest.mark.parametrize("url", ["http://example.fr", "ftp://example.fr/", "file:///etc/passwd"])
async def test_only_https_unless_http_is_allowed(url: str) -> None:
    assert "seules les adresses https://" in await refusal(url)


async def test_missing_host_is_refused() -> None:
    assert "hôte manquant" in await refusal("https:///hook")


async def test_public_literal_is_accepted_without_any_request() -> None:
    target = await check_url("https://93.184.216.34/hook", allow_http=False, allow_internal=False)
    assert target.addresses == ("93.184.216.34",)
    assert (target.host, target.port) == ("93.184.216.34", 443)


async def test_public_ipv6_literal_is_accepted() -> None:
    target = await check_url(
        "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/", allow_http=False, allow_internal=False
    )
    assert target.port == 8443


async def test_operator_may_allow_http_and_internal_addresses() -> None:
    target = await check_url("http://localhost:8080/", allow_http=True, allow_internal=True)
    assert target.addresses
    assert all(a in {"127.0.0.1", "::1"} for a in target.addresses)


def fake_dns(monkeypatch: pytest.MonkeyPatch, *answers: str) -> None:
    """Answer every look-up with ``answers`` (none: the name does not exist), offline."""

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


async def test_one_internal_address_among_public_ones_is_enough_to_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, "93.184.216.34", "10.0.0.5")
    assert "hooks.example.fr (10.0.0.5) est une adresse privée" in await refusal(
        "https://hooks.example.fr/"
    )


async def test_host_resolving_to_public_addresses_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    target = await check_url("https://hooks.example.fr/", allow_http=False, allow_internal=False)
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")


async def test_unknown_host_name_is_reported_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch)
    with pytest.raises(WebhookHostNotFound) as caught:
        await check_url("https://nope.example.fr/", allow_http=False, allow_internal=False)
    assert "ne se résout pas" in caught.value.message_fr


async def test_pinned_resolver_only_returns_checked_addresses() -> None:
    resolver = PinnedResolver()
    with pytest.raises(OSError, match="no checked address"):
        await resolver.resolve("localhost", 80, socket.AF_UNSPEC)
    target = await check_url("http://localhost:8080/", allow_http=True, allow_internal=True)
    resolver.pin(target)
    results = await resolver.resolve("localhost", 8080, socket.AF_UNSPEC)
    assert {r["host"] for r in results} == set(target.addresses)
    assert all(r["hostname"] == "localhost" and r["port"] == 8080 for r in results)
    await resolver.close()
