"""Where the notifier may post (``bazaar_core.notifier.egress``): the address rules applied to a
receiver's URL and every address its name resolves to, and a client that connects only to the
addresses checked, with Host, SNI and certificate checks on the name.

Names are resolved by fakes (no lookup leaves the machine) and the only connections made go to
receivers started here on 127.0.0.1: an address the rules refuse is refused before any connect."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import socket
import ssl
import tempfile
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bazaar_core.notifier.egress import Egress, Unresolved, _GuardedTransport, system_resolver
from bazaar_core.settings import Settings
from domain.netrules import RefusedUrl

pytestmark = pytest.mark.unit


def settings(**over) -> Settings:
    return Settings(kafka_bootstrap="127.0.0.1:9", **over)


class Names:
    """A resolver from a table; counts lookups, and refuses to answer a name twice when ``once``."""

    def __init__(self, table: dict[str, list[str]], once: bool = False) -> None:
        self.table, self.once, self.calls = table, once, []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        if self.once and self.calls.count(host) > 1:
            raise AssertionError(f"{host} resolved again between the check and the connect")
        if host not in self.table:
            raise Unresolved(f"{host} does not resolve")
        return self.table[host]


def run(coro):
    return asyncio.run(coro)


# ---- the rules at a URL --------------------------------------------------------------------------


def test_a_public_https_receiver_is_taken_with_every_address_it_resolves_to():
    names = Names({"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    target = run(Egress(settings(), names).target("https://hooks.example.com/in"))
    assert (target.host, target.port, target.addresses) == (
        "hooks.example.com",
        443,
        ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
    )


@pytest.mark.parametrize(
    "url, table, why",
    [
        ("http://hooks.example.com/in", {"hooks.example.com": ["93.184.215.14"]}, "must be https"),
        ("https://localhost/in", {"localhost": ["127.0.0.1", "::1"]}, "loopback"),
        ("https://rebind.example.com/", {"rebind.example.com": ["93.184.215.14", "169.254.169.254"]}, "link-local"),
        ("https://corp.example.com/", {"corp.example.com": ["10.1.2.3"]}, "private"),
        ("https://cgnat.example.com/", {"cgnat.example.com": ["100.64.0.7"]}, "carrier-grade NAT"),
        ("https://[::ffff:127.0.0.1]/", {"::ffff:127.0.0.1": ["::ffff:127.0.0.1"]}, "loopback"),
        ("https://169.254.169.254/latest/meta-data", {"169.254.169.254": ["169.254.169.254"]}, "link-local"),
    ],
)
def test_refused_receivers_by_default(url, table, why):
    with pytest.raises(RefusedUrl, match=why):
        run(Egress(settings(), Names(table)).target(url))


def test_the_two_settings_open_http_and_private_receivers():
    names = Names({"127.0.0.1": ["127.0.0.1"]})
    with pytest.raises(RefusedUrl, match="loopback"):
        run(Egress(settings(webhook_allow_http=True), names).target("http://127.0.0.1:8080/x"))
    with pytest.raises(RefusedUrl, match="https"):
        run(Egress(settings(webhook_allow_private=True), names).target("http://127.0.0.1:8080/x"))
    both = Egress(settings(webhook_allow_http=True, webhook_allow_private=True), names)
    assert run(both.target("http://127.0.0.1:8080/x")).addresses == ("127.0.0.1",)
    # private receivers allowed, an address that is no unicast receiver at all is still refused
    with pytest.raises(RefusedUrl, match="unicast"):
        run(Egress(settings(webhook_allow_private=True), Names({"zero.example": ["0.0.0.0"]})).target("https://zero.example/"))


class NoThreads(concurrent.futures.Executor):
    """An executor for the resolver that must not be used (an IP literal needs no lookup)."""

    def submit(self, fn, *args, **kwargs):
        raise AssertionError("looked up an IP literal")


class Hung(concurrent.futures.Executor):
    """A resolver thread that never answers."""

    def submit(self, fn, *args, **kwargs):
        return concurrent.futures.Future()


class Failing(concurrent.futures.Executor):
    def submit(self, fn, *args, **kwargs):
        f: concurrent.futures.Future = concurrent.futures.Future()
        f.set_exception(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
        return f


def test_the_system_resolver_takes_ip_literals_as_they_are_and_bounds_lookups():
    literal = system_resolver(1.0, NoThreads())
    assert run(literal("127.0.0.1", 80)) == ["127.0.0.1"]
    assert run(literal("::1", 80)) == ["::1"]
    with pytest.raises(Unresolved, match="within 0.05 s"):
        run(system_resolver(0.05, Hung())("hooks.example.com", 443))
    with pytest.raises(Unresolved, match="does not resolve"):
        run(system_resolver(1.0, Failing())("hooks.example.com", 443))


# ---- the client connects to what was checked --------------------------------------------------------


class Receiver:
    """A receiver on 127.0.0.1 (TLS when given a context) that records each request's Host header
    and the SNI name of each TLS handshake; it answers ``status`` (with a Location on a 3xx)."""

    def __init__(self, tls: ssl.SSLContext | None = None, status: int = 200) -> None:
        self.hosts: list[str] = []
        self.sni: list[str | None] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.hosts.append(self.headers["Host"])
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.sni.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


LOCAL = settings(webhook_allow_http=True, webhook_allow_private=True)


async def post(egress: Egress, url: str, verify=True) -> httpx.Response:
    async with egress.client(httpx.Limits(), verify=verify) as client:
        target = await egress.target(url)
        with egress.pinned(target):
            return await client.post(url, content=b"{}")


def test_the_post_goes_to_the_checked_address_under_the_receivers_name():
    receiver = Receiver()
    try:
        names = Names({"receiver.test": ["127.0.0.1"]}, once=True)  # a second lookup fails the test
        egress = Egress(LOCAL, names)
        r = run(post(egress, f"http://receiver.test:{receiver.port}/hook"))
        assert r.status_code == 200
        assert receiver.hosts == [f"receiver.test:{receiver.port}"]  # Host is the name, not the address
        assert names.calls == ["receiver.test"]  # resolved once, by the check; the connect used its answer
    finally:
        receiver.close()


def test_a_connection_no_check_pinned_is_checked_by_the_transport_itself():
    """A name that now resolves to a refused address is refused before any connection is made."""
    egress = Egress(settings(webhook_allow_http=True), Names({"rebound.test": ["127.0.0.1"]}))

    async def scenario():
        async with egress.client(httpx.Limits()) as client:
            await client.post("http://rebound.test:9/hook", content=b"{}")  # no target(), no pin

    with pytest.raises(RefusedUrl, match="loopback"):
        run(scenario())


def test_a_pin_for_another_host_is_not_used():
    names = Names({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    egress = Egress(settings(webhook_allow_http=True, webhook_allow_private=False), names)

    async def scenario():
        pin = await Egress(LOCAL, names).target("http://a.test:9/")  # checked under looser rules
        async with egress.client(httpx.Limits()) as client:
            with egress.pinned(pin):
                await client.post("http://b.test:9/hook", content=b"{}")

    with pytest.raises(RefusedUrl, match="loopback"):
        run(scenario())
    assert names.calls == ["a.test", "b.test"]


def test_redirects_are_not_followed():
    receiver = Receiver(status=302)
    try:
        r = run(post(Egress(LOCAL, Names({"receiver.test": ["127.0.0.1"]})), f"http://receiver.test:{receiver.port}/hook"))
        assert r.status_code == 302 and len(receiver.hosts) == 1
    finally:
        receiver.close()


def certificates(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a certificate for ``name``, client context trusting its CA)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bazaar test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


def test_tls_names_and_verifies_the_receivers_host_name_not_its_address():
    server_tls, client_tls = certificates("receiver.test")
    receiver = Receiver(tls=server_tls)
    try:
        names = Names({"receiver.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        egress = Egress(settings(webhook_allow_private=True), names)  # https: no allow_http needed
        r = run(post(egress, f"https://receiver.test:{receiver.port}/hook", verify=client_tls))
        assert r.status_code == 200
        assert receiver.sni == ["receiver.test"] and receiver.hosts == [f"receiver.test:{receiver.port}"]
        # the same address under a name its certificate does not carry: verification refuses it
        with pytest.raises(httpx.ConnectError, match="certificate verify failed|Hostname mismatch"):
            run(post(egress, f"https://other.test:{receiver.port}/hook", verify=client_tls))
        assert len(receiver.hosts) == 1
    finally:
        receiver.close()


def test_the_transport_is_httpx_own_with_the_guarded_backend():
    """httpx takes no network backend: egress rebuilds its pool. If a new httpx changes how, this says so."""
    egress = Egress(LOCAL, Names({}))
    transport = _GuardedTransport(egress, httpx.Limits(max_connections=None, max_keepalive_connections=7), True)
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert type(pool._network_backend).__name__ == "_Backend" and pool._network_backend.egress is egress
    assert pool._max_keepalive_connections == 7
