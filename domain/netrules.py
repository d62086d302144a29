"""Where a webhook may post: the address rules against server-side request forgery, as pure functions.

A receiver's URL must be https (http only when allowed) and every address its host resolves to
must be a public unicast address: not loopback, private, link-local (cloud metadata lives at
169.254.169.254), carrier-grade NAT, multicast, reserved or unspecified, in IPv4 or IPv6 (mapped
and NAT64 forms included), unless private receivers are allowed. The caller resolves names; the
rules are checked at registration and again before each delivery (a name can re-resolve).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedUrl(ValueError):
    """A webhook URL the rules refuse; the message says why."""


def check_url(url: str, allow_http: bool) -> tuple[str, int]:
    """(host, port) of an acceptable webhook URL, or ``RefusedUrl``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedUrl(f"not a URL: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise RefusedUrl("must be an https URL")
    if parts.scheme == "http" and not allow_http:
        raise RefusedUrl("must be https (http only with BAZAAR_WEBHOOK_ALLOW_HTTP=true)")
    if parts.username or parts.password:
        raise RefusedUrl("must not carry a user name or password")
    host = parts.hostname
    if not host:
        raise RefusedUrl("has no host")
    return host, port or (443 if parts.scheme == "https" else 80)


def refusal(address: str, allow_private: bool) -> str | None:
    """Why an address may not receive webhooks (None: it may)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # ::1 lies in ::/8, which Python also calls reserved: loopback is told apart first
    if ip.is_unspecified or ip.is_multicast or (ip.is_reserved and not ip.is_loopback):
        return f"{ip} is not a unicast address"
    if allow_private:
        return None
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is link-local (cloud metadata lives there)"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return f"{ip} is carrier-grade NAT space"
    if ip.is_private or not ip.is_global:
        return f"{ip} is a private address"
    return None


def check_addresses(addresses: list[str], allow_private: bool) -> None:
    """Every address a name resolved to must be allowed (one bad one refuses it: DNS can pick any)."""
    if not addresses:
        raise RefusedUrl("the host name does not resolve")
    for address in addresses:
        why = refusal(address, allow_private)
        if why is not None:
            raise RefusedUrl(f"resolves to {why} (private receivers only with BAZAAR_WEBHOOK_ALLOW_PRIVATE=true)")
