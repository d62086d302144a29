"""Helpers of the catalog, alert and webhook tests: alerts written as the stream writes them, a
webhook receiver that checks signatures, the notifier as a subprocess, the API on a real port."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from confluent_kafka import Producer

from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from bazaar_core.supervisor import Child
from domain import webhooks
from schemas.alerts import Alert, AlertCleared

# The receivers here listen on http://127.0.0.1: tests that deliver to them allow both (a webhook URL
# must otherwise be https and resolve to public addresses only, domain/netrules.py).
LOCAL_RECEIVERS = {"webhook_allow_http": True, "webhook_allow_private": True}


def all_topics(settings: Settings) -> None:
    ensure_topics(settings, topic_specs(settings), topic_configs(settings))


def make_alert(store: str = "s1", sku: str = "rice", kind: str = "low_stock", **over) -> Alert:
    now = datetime.now(UTC)
    body = dict(
        alert_id=uuid.uuid4(),
        kind=kind,
        store_id=store,
        sku=sku,
        on_hand=Decimal("2"),
        threshold=Decimal("5"),
        velocity=Decimal("1.5"),
        days_of_cover=Decimal("1.333"),
        suggested_reorder=Decimal("24"),
        reorder_unit="carton",
        event_id=uuid.uuid4(),
        occurred_at=now,
        raised_at=now,
    )
    body.update(over)
    return Alert(**body)


def make_cleared(of: Alert, **over) -> AlertCleared:
    now = datetime.now(UTC)
    body = dict(
        alert_id=uuid.uuid4(),
        cleared_alert_id=of.alert_id,
        kind=of.kind,
        store_id=of.store_id,
        sku=of.sku,
        on_hand=Decimal("30"),
        threshold=of.threshold,
        event_id=uuid.uuid4(),
        occurred_at=now,
        raised_at=now,
    )
    body.update(over)
    return AlertCleared(**body)


def produce_alerts(settings: Settings, *messages: Alert | AlertCleared) -> None:
    """Write messages onto the alerts topic as the stream does: JSON, keyed by store_id, acks=all."""
    p = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True, "partitioner": "murmur2_random"}
    )
    for m in messages:
        p.produce(settings.alerts_topic, key=m.store_id.encode(), value=m.model_dump_json().encode())
    assert p.flush(20) == 0, "alerts not acked"


def produce_raw(settings: Settings, key: bytes | None, value: bytes | None) -> tuple[int, int]:
    """Write any bytes onto the alerts topic (what the stream would never write): (partition, offset)."""
    p = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "partitioner": "murmur2_random"})
    where: list[tuple[int, int]] = []
    p.produce(
        settings.alerts_topic,
        key=key,
        value=value,
        on_delivery=lambda err, msg: where.append((msg.partition(), msg.offset())) if err is None else None,
    )
    assert p.flush(20) == 0 and where, "message not acked"
    return where[0]


def wait_until(check, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ---- webhook receiver --------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    alert_id: str
    body: bytes
    valid: bool
    status: int
    at: float = field(default_factory=time.monotonic)  # when the request was read


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that can be stopped and started again on the same port.
    ``secrets``: path -> secret; ``statuses``: path -> the status it answers (200 by default)."""

    port: int
    secrets: dict[str, str]
    statuses: dict[str, int] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                secret = receiver.secrets.get(self.path, "")
                valid = webhooks.verify(
                    secret,
                    self.headers.get(webhooks.TIMESTAMP_HEADER, ""),
                    self.headers.get(webhooks.SIGNATURE_HEADER, ""),
                    body,
                    now=time.time(),
                )
                status = receiver.statuses.get(self.path, 200)
                receiver.received.append(Received(self.path, self.headers.get(webhooks.ALERT_ID_HEADER, ""), body, valid, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self, path: str) -> Counter:
        """alert_id -> how many times it was delivered (answered 2xx) on ``path``."""
        return Counter(r.alert_id for r in self.received if r.path == path and 200 <= r.status < 300)

    def attempts(self, path: str) -> Counter:
        return Counter(r.alert_id for r in self.received if r.path == path)


class Blackhole:
    """A webhook receiver on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(128)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # the accept timeout, or closed by stop
                continue
            self._conns.append(conn)  # held open, never read, never answered
            self.accepted += 1

    def stop(self) -> None:
        self._stop.set()
        for conn in [self._sock, *self._conns]:
            conn.close()


def notifier(settings: Settings, name: str = "notifier") -> Child:
    env = {**os.environ, **settings.to_env()}
    log_dir = Path(settings.data_dir) / "logs"
    return Child.bazaar(name, ["notifier"], env, log_dir, f"http://127.0.0.1:{settings.notifier_port}/health")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
