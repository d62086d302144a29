"""`bazaar notifier`: post alerts to the registered webhooks (``bazaar_core.notifier.service``), with ``/health``,
``/metrics`` and its probes ``/ready`` (its alerts consumer assigned and caught up) and ``/livez`` (not
stuck) on its own port (``BAZAAR_NOTIFIER_PORT``, 6070). The probes are public and say a status and
what it is about, no figure."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bazaar_core import logs
from bazaar_core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="port of /health, /ready, /livez and /metrics (default BAZAAR_NOTIFIER_PORT=6070)")


def serve_http(host: str, port: int, notifier) -> ThreadingHTTPServer:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/health":
                status = notifier.status()
                self._send(200 if notifier.healthy else 503, json.dumps(status).encode(), "application/json")
            elif self.path == "/ready":
                self._probe(notifier.readiness())
            elif self.path == "/livez":
                self._probe(notifier.liveness())
            elif self.path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b'{"error": "not_found"}', "application/json")

        def _probe(self, verdict) -> None:
            self._send(200 if verdict.ok else 503, json.dumps(verdict.body()).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # health checks every second would flood the log
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="notifier-http", daemon=True).start()
    return server


async def _main(settings) -> None:
    from bazaar_core.notifier.service import Notifier

    notifier = Notifier(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, notifier.stop)
    server = serve_http(settings.notifier_host, settings.notifier_port, notifier)
    try:
        await notifier.run()
    finally:
        server.shutdown()


def run(args: argparse.Namespace) -> int:
    from bazaar_core.kafka.admin import TopicSetupError, ensure_topics
    from bazaar_core.kafka.topics import topic_configs, topic_specs

    settings = get_settings()
    if args.port:
        settings = settings.model_copy(update={"notifier_port": args.port})
    logs.setup(settings.log_level, settings.log_json)
    try:
        ensure_topics(settings, topic_specs(settings), topic_configs(settings))
    except TopicSetupError as exc:
        print(f"bazaar notifier: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_main(settings))
    return 0
