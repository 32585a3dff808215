"""Requests to URLs someone typed in go to the public internet only.

An admin who may set a partner's webhook URL must not thereby reach what only the server can:
loopback services, the private network, the cloud metadata endpoint (169.254.169.254). A host
is checked by every address it resolves to (IPv6 forms that carry an IPv4 address inside -
mapped, 6to4, Teredo, NAT64 - are judged by that address). Checking the name when it is
configured is not enough: its DNS answer can change afterwards (DNS rebinding), so the sender
resolves again at each request, checks, and connects to the address it checked (`pin`), with
the original name in the Host header and in TLS (SNI and certificate check).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_local_host(host: str) -> bool:
    """Whether `host` (a bound or a connecting address) is this machine only (loopback)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class NotPublicTarget(ValueError):
    """The URL's host is, or resolves to, an address that is not on the public internet."""


class UnresolvableTarget(OSError):
    """The URL's host does not resolve (now)."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether `address` is a unicast address on the public internet."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
    return address.is_global and not address.is_multicast


async def public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, each of them public (else NotPublicTarget)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [str(literal)]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnresolvableTarget(f"{host} does not resolve: {exc}") from exc
        found = sorted({str(info[4][0]).split("%", 1)[0] for info in infos})
    refused = [a for a in found if not is_public(ipaddress.ip_address(a))]
    if refused or not found:
        raise NotPublicTarget(f"{host} resolves to addresses that are not public: {refused}")
    return found


async def check_url(url: str) -> None:
    """Refuse (NotPublicTarget / UnresolvableTarget) a URL whose host is not public."""
    parsed = httpx.URL(url)
    await public_addresses(parsed.host, parsed.port or _default_port(parsed))


@dataclass(frozen=True)
class PinnedRequest:
    """Where to send a request so that it reaches the address that was checked."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


async def pin(url: str) -> PinnedRequest:
    """Resolve and check `url`'s host now, and address the request to the checked address."""
    parsed = httpx.URL(url)
    addresses = await public_addresses(parsed.host, parsed.port or _default_port(parsed))
    return PinnedRequest(
        url=str(parsed.copy_with(host=addresses[0])),
        headers={"Host": parsed.netloc.decode("ascii")},
        # TLS names (and checks the certificate of) the host, not the address.
        extensions={"sni_hostname": parsed.host},
    )


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
