"""bazaar_core.logs: no terminal escapes in a log line; librdkafka's lines come through logging, and
once the process is stopping its connection failures are dropped."""

from __future__ import annotations

import io
import json
import logging
import threading
import time

import pytest
from confluent_kafka import Producer

from bazaar_core import logs
from tests.conftest import free_ports

pytestmark = pytest.mark.unit


@pytest.fixture
def captured(monkeypatch) -> io.StringIO:
    """The process's logging as ``logs.setup`` makes it, into a buffer; not stopping yet."""
    monkeypatch.setattr(logs, "_stopping", threading.Event())
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(logging.root.manager, "disable", 0)
    for name in ("bazaar.threads", logs.LIBRDKAFKA_LOGGER):  # another test's logging config may have disabled them
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    logs.setup("INFO")
    return out


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_colour_codes_never_reach_a_line(captured):
    # what uvicorn logs at start-up: a plain message and a coloured copy of it
    logging.getLogger("tests.logs.uvicorn").info(
        "Started server process [%d]", 7, extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"}
    )
    logging.getLogger("tests.logs.faust").warning("\x1b[1mbold\x1b[0m \x1b]0;title\x07done", extra={"note": "\x1b[31mred\x1b[0m"})
    assert "\x1b" not in captured.getvalue() and "\\u001b" not in captured.getvalue()
    started, bold = lines(captured)
    assert started["msg"] == "Started server process [7]" and "color_message" not in started
    assert bold["msg"] == "bold done" and bold["note"] == "red"


def test_plain_format_has_no_escapes_either(captured, monkeypatch):
    monkeypatch.setattr("sys.stderr", captured)  # (pytest's capture has its own stderr in place by now)
    logs.setup("INFO", json_lines=False)
    logging.getLogger("tests.logs.spinner").warning("\b\x1b[?25h OK ^")
    assert "\x1b" not in captured.getvalue() and captured.getvalue().rstrip().endswith("OK ^")


def test_a_thread_that_dies_is_logged_as_one_json_line(captured):
    def boom() -> None:
        raise RuntimeError("lost")

    thread = threading.Thread(target=boom, name="poller")
    thread.start()
    thread.join()
    [line] = lines(captured)
    assert line["logger"] == "bazaar.threads" and line["msg"] == "uncaught exception in thread poller"
    assert "RuntimeError: lost" in line["exc"]


def refused_lines(out: io.StringIO) -> list[dict]:
    return [r for r in lines(out) if r["logger"] == logs.LIBRDKAFKA_LOGGER and "Connection refused" in r["msg"]]


def test_librdkafka_connection_failures_are_logged_until_the_process_stops(captured):
    """A real librdkafka client against a port nothing listens on: it logs each refused connect,
    through logging, until ``stopping()``; then, still polled and still refused, it logs none."""
    [port] = free_ports(1)
    producer = Producer(
        {"bootstrap.servers": f"127.0.0.1:{port}", "reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 50, **logs.librdkafka_logging()}
    )
    try:
        deadline = time.monotonic() + 10
        while not refused_lines(captured) and time.monotonic() < deadline:
            producer.poll(0.1)
        assert refused_lines(captured), "librdkafka's line about the refused connection never came through logging"

        logs.stopping()
        before = len(refused_lines(captured))
        until = time.monotonic() + 1.5  # librdkafka logs the same failure again at most once a second or so
        while time.monotonic() < until:
            producer.poll(0.1)
        assert len(refused_lines(captured)) == before
        logging.getLogger(logs.LIBRDKAFKA_LOGGER).error("FAIL [rdkafka#producer-9] queue full")
        assert lines(captured)[-1]["msg"].endswith("queue full")  # other librdkafka lines still pass
    finally:
        producer.flush(0)
