"""Bounds on requests, against the real ``bazaar api`` process (uvicorn, as deployed): body size,
content type, slow clients (headers and bodies trickled over raw sockets), requests in flight."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bazaar_core.client_auth import KeyAuth
from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from bazaar_core.supervisor import Child
from tests.authclient import admin_key
from tests.conftest import stack_settings

pytestmark = pytest.mark.integration

MB = 1024 * 1024
HEADER_TIMEOUT_S, BODY_TIMEOUT_S, KEEP_ALIVE_S = 2.0, 2.0, 1.0
MAX_REQUESTS = 2


def sale(store: str = "s1") -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": store,
        "terminal_id": "t1",
        "occurred_at": "2026-11-22T09:30:00+05:00",
        "lines": [{"sku": "rice", "quantity": "1", "unit_price": "10.00"}],
    }


class Api:
    def __init__(self, settings: Settings, child: Child, key: str) -> None:
        self.settings, self.child = settings, child
        self.port = settings.api_port
        auth = KeyAuth(f"http://127.0.0.1:{self.port}", key)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30, auth=auth)
        self.bearer = auth.headers()  # for the requests written by hand: the route would answer 401 before reading a body

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@pytest.fixture(scope="module")
def api(kafka_bootstrap, tmp_path_factory) -> Iterator[Api]:
    base = tmp_path_factory.mktemp("bounds")
    settings = stack_settings(
        kafka_bootstrap,
        base,
        "bounds",
        header_timeout_s=HEADER_TIMEOUT_S,
        body_timeout_s=BODY_TIMEOUT_S,
        api_keep_alive_s=KEEP_ALIVE_S,
        api_max_requests=MAX_REQUESTS,
        max_import_bytes=4 * MB,
    )
    ensure_topics(settings, topic_specs(settings), topic_configs(settings))
    key = admin_key(settings)  # bazaar auth init, as `bazaar up` runs it
    env = {**os.environ, **settings.to_env()}
    child = Child.bazaar("api", ["api"], env, base / "logs", f"http://127.0.0.1:{settings.api_port}/health")
    child.start()
    try:
        child.wait_healthy(timeout=120)
        yield Api(settings, child, key)
    finally:
        child.stop()


def head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket, timeout: float) -> tuple[int | None, dict, float]:
    """(status or None when the server closed without one, JSON body or {}, seconds until the
    server closed the connection); reads until the server closes it."""
    started, data = time.monotonic(), b""
    sock.settimeout(timeout)
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    waited = time.monotonic() - started
    if not data:
        return None, {}, waited
    status = int(data.split(b" ", 2)[1])
    body = data.split(b"\r\n\r\n", 1)[1]
    try:
        return status, json.loads(body), waited
    except ValueError:
        return status, {}, waited


# ---- size -------------------------------------------------------------------------------------------


def test_a_3mb_body_with_content_length_is_413_before_a_byte_of_it_is_read(api):
    with api.connect() as sock:
        sock.sendall(head("/v1/events", {**api.bearer, "Content-Type": "application/json", "Content-Length": str(3 * MB)}))
        status, body, waited = answer(sock, timeout=10)  # not one byte of the body sent
    assert (status, body["error"]) == (413, "body_too_large")
    assert "2,097,152 bytes" in body["detail"][0]["reason"]
    assert waited < 5


def test_a_3mb_chunked_body_is_413_once_past_the_limit(api):
    chunk = b"x" * 65536
    sent = 0
    with api.connect() as sock:
        sock.sendall(head("/v1/events", {**api.bearer, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        try:
            while sent < 3 * MB:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed while still sending: what a limit should do
        status, body, _ = answer(sock, timeout=10)
    assert (status, body["error"]) == (413, "body_too_large")


def test_a_catalog_import_has_its_own_larger_limit(api):
    row = "x" * 3000
    csv = "sku,name,name_ur\n" + "".join(f"big-{i},Big {i},{row}\n" for i in range(1000))  # about 3 MB
    assert 2 * MB < len(csv) < 4 * MB
    r = api.http.post("/v1/products:import", content=csv.encode(), headers={"Content-Type": "text/csv"})
    assert (r.status_code, r.json()) == (200, {"imported": 1000, "errors": []})
    with api.connect() as sock:
        sock.sendall(head("/v1/products:import", {**api.bearer, "Content-Type": "text/csv", "Content-Length": str(5 * MB)}))
        status, body, _ = answer(sock, timeout=10)
    assert (status, body["error"]) == (413, "body_too_large")


# ---- content type -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_valid_event_posted_as_text_or_form_is_415(api, content_type):
    r = api.http.post("/v1/events", content=json.dumps(sale()).encode(), headers={"Content-Type": content_type})
    assert (r.status_code, r.json()["error"]) == (415, "unsupported_media_type")
    assert api.http.post("/v1/events", json=sale()).status_code == 202


def test_every_write_route_refuses_a_form_body(api):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    hook = str(uuid.uuid4())
    for method, path in [
        ("POST", "/v1/events"),
        ("PUT", "/v1/products/rice"),
        ("PUT", "/v1/stores/s1"),
        ("PUT", "/v1/stores/s1/products/rice"),
        ("POST", "/v1/webhooks"),
        ("POST", f"/v1/stores/s1/alerts/{uuid.uuid4()}/ack"),
        ("DELETE", f"/v1/webhooks/{hook}"),
        ("POST", f"/v1/webhooks/{hook}/dead-letters/{uuid.uuid4()}/retry"),
        ("POST", "/v1/products:import"),
    ]:
        r = api.http.request(method, path, content=b"a=1", headers=form)
        assert (r.status_code, r.json()["error"]) == (415, "unsupported_media_type"), (method, path)
    r = api.http.post("/v1/products:import", content=b"sku,name\nrice,Rice\n", headers={"Content-Type": "application/json"})
    assert r.status_code == 415 and "text/csv" in r.json()["detail"][0]["reason"]


# ---- slow clients -----------------------------------------------------------------------------------


def test_headers_trickled_a_byte_a_second_are_cut_off(api):
    request = head("/v1/events", {"Content-Type": "application/json", "Content-Length": "2"})
    with api.connect() as sock:
        started = time.monotonic()
        sent = 0
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(1.0)
                if time.monotonic() - started > HEADER_TIMEOUT_S + 5:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, _ = answer(sock, timeout=10)
        held = time.monotonic() - started
    assert status == 408
    assert held < HEADER_TIMEOUT_S + 3, f"held {held:.1f} s after {sent} bytes"
    assert sent < len(request)


def test_a_connection_that_sends_nothing_is_closed(api):
    with api.connect() as sock:
        status, _, waited = answer(sock, timeout=HEADER_TIMEOUT_S + 10)
    assert status is None and waited < HEADER_TIMEOUT_S + 2


def test_an_idle_keep_alive_connection_is_closed(api):
    with api.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        data = b""
        sock.settimeout(KEEP_ALIVE_S + HEADER_TIMEOUT_S + 10)
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and time.monotonic() - started < KEEP_ALIVE_S + 2


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_trickled_a_byte_a_second_is_408_and_disconnected(api, framing):
    body = json.dumps(sale()).encode()
    headers = {**api.bearer, "Content-Type": "application/json"}
    headers.update({"Content-Length": str(len(body))} if framing == "content-length" else {"Transfer-Encoding": "chunked"})
    with api.connect() as sock:
        sock.sendall(head("/v1/events", headers))
        started = time.monotonic()
        try:
            for byte in body:
                piece = bytes([byte])
                sock.sendall(piece if framing == "content-length" else b"1\r\n" + piece + b"\r\n")
                time.sleep(1.0)
                if time.monotonic() - started > BODY_TIMEOUT_S + 5:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, answered, _ = answer(sock, timeout=10)
        held = time.monotonic() - started
    assert (status, answered["error"]) == (408, "body_timeout")
    assert held < BODY_TIMEOUT_S + 3


def test_an_unread_body_does_not_keep_the_connection(api):
    """A 415 is answered from the headers; the client still sending its body is not waited for."""
    with api.connect() as sock:
        sock.sendall(head("/v1/events", {**api.bearer, "Content-Type": "text/plain", "Content-Length": "1000"}) + b"x")
        status, _, waited = answer(sock, timeout=10)
    assert status == 415 and waited < 2


# ---- requests in flight -----------------------------------------------------------------------------


def test_past_the_requests_in_flight_the_api_answers_503_with_retry_after(api):
    held = []
    try:
        for _ in range(MAX_REQUESTS):  # each waits for a body that has not come yet
            sock = api.connect()
            sock.sendall(head("/v1/events", {**api.bearer, "Content-Type": "application/json", "Content-Length": "100"}))
            held.append(sock)
        time.sleep(0.3)
        r = api.http.post("/v1/events", json=sale())
        assert (r.status_code, r.json()["error"], r.headers["retry-after"]) == (503, "overloaded", "1")
        assert api.http.get("/health").status_code == 200  # health is not counted
        assert 'bazaar_api_requests_rejected_total{error="overloaded"}' in api.http.get("/metrics").text
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while (r := api.http.post("/v1/events", json=sale())).status_code == 503:  # the slots come back
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)
    assert r.status_code == 202
