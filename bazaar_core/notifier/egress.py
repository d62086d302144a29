"""Where a webhook may be posted, enforced where the connection is made.

``Egress.target(url)`` applies the rules of ``domain.netrules``: the URL (https, or http when
``webhook_allow_http``), then every address its host resolves to (none loopback, private,
link-local, CGNAT or metadata unless ``webhook_allow_private``). The API calls it at registration;
the notifier calls it again before each delivery, since a name can re-resolve.

Checking a name and then letting the HTTP client resolve it again would leave a window (DNS
rebinding: the first answer public, the second 169.254.169.254). So the notifier's client connects
only to checked addresses: its transport is httpx's own, with a network backend whose
``connect_tcp`` takes the addresses ``target`` checked for this delivery (``pinned``), or resolves
and checks them itself when none were pinned. The URL is not rewritten: the Host header, TLS SNI
and certificate verification stay on the receiver's host name, and kept-alive connections are
pooled per host name, each one opened to an address that was checked. Proxies from the
environment are not used (the receiver's address is what is checked; a CA bundle named by
SSL_CERT_FILE still is), and redirects are not followed (a 3xx is a failed attempt like any other
non-2xx).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore
import httpx

from bazaar_core.settings import Settings
from domain.netrules import RefusedUrl, check_addresses, check_url

REGISTRATION_RESOLVE_S = 5.0  # how long registration waits for a receiver's name to resolve

# (host, port) -> addresses: a resolver (the system's getaddrinfo by default; tests give their own)
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class Unresolved(OSError):
    """The receiver's name did not resolve (or not in time): a failure like a refused connection."""


@dataclass(frozen=True)
class Target:
    """A receiver's host and port, and the addresses it resolved to, every one checked."""

    host: str  # as the connection pool sees it (IDNA-encoded, no IPv6 brackets)
    port: int
    addresses: tuple[str, ...]


def system_resolver(timeout_s: float, executor: Executor | None = None) -> Resolver:
    """getaddrinfo off the event loop (in ``executor``), within ``timeout_s``; an IP literal as it is."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.run_in_executor(executor, socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM), timeout_s)
        except TimeoutError:
            raise Unresolved(f"{host} did not resolve within {timeout_s:g} s") from None
        except (socket.gaierror, UnicodeError) as exc:
            raise Unresolved(f"{host} does not resolve: {exc}") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    return resolve


_PINNED: ContextVar[Target | None] = ContextVar("bazaar_notifier_pinned_target", default=None)


class Egress:
    """The address rules of one process's settings, with its resolver."""

    def __init__(self, settings: Settings, resolver: Resolver | None = None) -> None:
        self.allow_http = settings.webhook_allow_http
        self.allow_private = settings.webhook_allow_private
        self.resolve = resolver or system_resolver(settings.webhook_timeout_s)

    async def target(self, url: str) -> Target:
        """The receiver of ``url`` with its checked addresses; ``RefusedUrl`` when the rules refuse it,
        ``Unresolved`` when its name does not resolve."""
        check_url(url, self.allow_http)
        parsed = httpx.URL(url)  # the host as httpx will connect to it (IDNA-encoded)
        host, port = parsed.raw_host.decode("ascii"), parsed.port or (443 if parsed.scheme == "https" else 80)
        return Target(host, port, await self._checked(host, port))

    async def _checked(self, host: str, port: int) -> tuple[str, ...]:
        addresses = tuple(await self.resolve(host, port))
        check_addresses(list(addresses), self.allow_private)
        return addresses

    @contextlib.contextmanager
    def pinned(self, target: Target) -> Iterator[None]:
        """Connections opened within (by this task) for ``target``'s host go to its checked addresses."""
        token = _PINNED.set(target)
        try:
            yield
        finally:
            _PINNED.reset(token)

    def client(self, limits: httpx.Limits, verify: bool | object = True) -> httpx.AsyncClient:
        """An httpx client that connects only to checked addresses (``verify``: an ``ssl.SSLContext``
        to trust other certificates, for tests)."""
        return httpx.AsyncClient(transport=_GuardedTransport(self, limits, verify), trust_env=False, follow_redirects=False)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, but ``connect_tcp`` goes to checked addresses only."""

    def __init__(self, egress: Egress) -> None:
        self.egress = egress
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout=None, local_address=None, socket_options=None) -> httpcore.AsyncNetworkStream:
        pinned = _PINNED.get()
        if pinned is not None and (pinned.host, pinned.port) == (host, port):
            addresses = pinned.addresses
        else:  # no delivery checked this host (or another's connection): resolve and check here
            addresses = await self.egress._checked(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # check_addresses refuses an empty list
        raise error

    async def connect_unix_socket(self, path: str, timeout=None, socket_options=None) -> httpcore.AsyncNetworkStream:
        raise RefusedUrl("webhooks are not posted to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, egress: Egress, limits: httpx.Limits, verify) -> None:
        super().__init__(verify=verify, limits=limits)
        # httpx builds its pool without a way to pass a network backend: the same pool is built
        # again with the same arguments and ours. tests/unit/test_webhook_egress.py holds it to that.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),  # SSL_CERT_FILE / SSL_CERT_DIR still count
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(egress),
        )
