"""Endpoint URLs that cannot reach the service's own network (RULES W3, SSRF).

:func:`check_url` refuses plain http (unless allowed) and any host that is, or resolves to, an
internal address: loopback, private, link-local, multicast, reserved, unspecified, or not globally
routable, including IPv6 forms that embed such an IPv4 address (IPv4-mapped, 6to4, NAT64, Teredo).
A single bad address among those resolved is enough to refuse.

The checked addresses are returned so the request goes to them and nowhere else:
:class:`PinnedResolver` answers aiohttp's look-ups only from addresses checked here, so a DNS
answer that changes between the check and the connection (DNS rebinding) is never used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from broadcast.core.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64_NETWORKS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)


class UnsafeWebhookUrl(DomainError):
    """An endpoint URL the service refuses to call."""

    status_code = 422
    code = "unsafe_webhook_url"
    message_fr = "Adresse de webhook refusée."
    message_en = "Webhook URL refused."


class WebhookHostNotFound(DomainError):
    """The endpoint's host name does not resolve (often transient: retry later)."""

    status_code = 422
    code = "webhook_host_not_found"
    message_fr = "Le nom d'hôte du webhook ne se résout pas."
    message_en = "The webhook host name does not resolve."


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A checked URL and the only addresses a request to it may connect to."""

    url: URL
    host: str
    port: int
    addresses: tuple[str, ...]


async def check_url(url: str, *, allow_http: bool, allow_internal: bool) -> ResolvedTarget:
    """Parse, resolve and check ``url``; raise :class:`UnsafeWebhookUrl` naming the reason."""
    parsed = _parsed(url, allow_http=allow_http)
    host, port = parsed.host or "", parsed.port or 443
    addresses = await _resolve(host, port)
    if not allow_internal:
        for address in addresses:
            _refuse_internal(host, address)
    return ResolvedTarget(parsed, host, port, tuple(str(a) for a in addresses))


def _parsed(url: str, *, allow_http: bool) -> URL:
    try:
        parsed = URL(url)
    except ValueError as exc:
        raise _unsafe("adresse illisible", "unreadable URL") from exc
    allowed = {"https", "http"} if allow_http else {"https"}
    if parsed.scheme not in allowed:
        raise _unsafe(
            "seules les adresses https:// sont acceptées", "only https:// URLs are accepted"
        )
    if not parsed.host:
        raise _unsafe("nom d'hôte manquant", "missing host name")
    return parsed


async def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookHostNotFound(
            f"Le nom d'hôte {host} ne se résout pas.", f"Host name {host} does not resolve."
        ) from exc
    addresses = [_literal(str(info[4][0])) for info in infos]
    found = [a for a in addresses if a is not None]
    if not found:
        raise WebhookHostNotFound(
            f"Le nom d'hôte {host} ne se résout pas.", f"Host name {host} does not resolve."
        )
    return found


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refuse_internal(host: str, address: IPAddress) -> None:
    reason = internal_reason(address)
    if reason is not None:
        shown = host if host == str(address) else f"{host} ({address})"
        raise _unsafe(f"{shown} est {reason[0]}", f"{shown} is {reason[1]}")


def internal_reason(address: IPAddress) -> tuple[str, str] | None:
    """Why ``address`` is internal, in French and English, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = internal_reason(embedded)
            if inner is not None:
                return (f"{inner[0]} déguisée en IPv6", f"{inner[1]} disguised as IPv6")
    return _own_reason(address)


def _own_reason(address: IPAddress) -> tuple[str, str] | None:
    checks = (
        (address.is_loopback, "une adresse de bouclage (loopback)", "a loopback address"),
        (address.is_unspecified, "une adresse non spécifiée", "an unspecified address"),
        (address.is_link_local, "une adresse lien-local", "a link-local address"),
        (address.is_multicast, "une adresse multicast", "a multicast address"),
        (address.is_private, "une adresse privée", "a private address"),
        (address.is_reserved, "une adresse réservée", "a reserved address"),
        (not address.is_global, "une adresse non publique", "a non-public address"),
    )
    return next(((fr, en) for internal, fr, en in checks if internal), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv4-mapped, 6to4, NAT64 or Teredo IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _unsafe(reason_fr: str, reason_en: str) -> UnsafeWebhookUrl:
    return UnsafeWebhookUrl(
        f"Adresse de webhook refusée : {reason_fr}.", f"Webhook URL refused: {reason_en}."
    )


class PinnedResolver(AbstractResolver):
    """An aiohttp resolver that only returns addresses :func:`check_url` has checked.

    Give it to the ``TCPConnector`` of the sender's one session (with ``use_dns_cache=False``)
    and call :meth:`pin` with each checked target before its request. A host never pinned does
    not resolve at all. Literal IP hosts never reach a resolver; they are checked as they are.
    """

    def __init__(self) -> None:
        self._pinned: dict[str, tuple[str, ...]] = {}

    def pin(self, target: ResolvedTarget) -> None:
        self._pinned[target.host.lower()] = target.addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self._pinned.get(host.lower(), ())
        results = [_result(host, address, port) for address in addresses]
        wanted = [r for r in results if family in (socket.AF_UNSPEC, r["family"])]
        if not wanted:
            raise OSError(f"{host} has no checked address (webhook URL not checked)")
        return wanted

    async def close(self) -> None:
        self._pinned.clear()


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(
        hostname=host,
        host=address,
        port=port,
        family=family,
        proto=socket.IPPROTO_TCP,
        flags=socket.AI_NUMERICHOST,
    )
