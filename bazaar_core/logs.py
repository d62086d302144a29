"""Structured logs: one JSON object per line, with event ids and other context as fields.

No terminal escape sequences reach a log: a message's colour codes are stripped and uvicorn's
coloured copy of its message (``color_message``) is dropped.

librdkafka's own lines (confluent-kafka clients) go through this logging too, with
``librdkafka_logging()`` in a client's settings, rather than straight to stderr in librdkafka's
format. Once the process is stopping (``stopping()``), their lines about broker connections (a
refused connect, a closed connection) are dropped: a client that is closing has nothing to do with
a broker that went away first, and each of its connections would say so every few milliseconds.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time

import orjson

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_DROPPED = {"color_message"}  # uvicorn: its message again, with colour codes
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])?")  # CSI, OSC, two-byte, a lone ESC

LIBRDKAFKA_LOGGER = "bazaar.librdkafka"
_CONNECTION_LINES = ("Connection refused", "Disconnected", "Connect to ", "connection closed", "Connection reset")
_stopping = threading.Event()


def plain(text: str) -> str:
    """``text`` without terminal escape sequences."""
    return _ESCAPES.sub("", text) if "\x1b" in text else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": plain(record.getMessage()),
        }
        out.update(
            {
                k: plain(v) if isinstance(v, str) else v
                for k, v in record.__dict__.items()
                if k not in _RESERVED and k not in _DROPPED and not k.startswith("_")
            }
        )
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        try:  # orjson: far cheaper than json per line
            return orjson.dumps(out, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson refuses (integers beyond 64 bits, non-str keys)
            return json.dumps(out, default=str)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return plain(super().format(record))


class QuietWhileStopping(logging.Filter):
    """Drops librdkafka's lines about broker connections once the process is stopping."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _stopping.is_set() or not record.name.endswith("librdkafka"):
            return True
        message = record.getMessage()
        return not any(line in message for line in _CONNECTION_LINES)


def stopping() -> None:
    """The process has begun to stop: from now on its Kafka clients' connection failures are not logged."""
    _stopping.set()


def librdkafka_logging(level: int = 3) -> dict:
    """A confluent-kafka client's settings for its librdkafka log: through this logging, lines at
    syslog ``level`` or more severe (3: errors). Only for a client that is polled (``poll``,
    ``consume``, a poll thread): its lines wait in its queue until then."""
    return {"logger": logging.getLogger(LIBRDKAFKA_LOGGER), "log_level": level}


def _thread_crashed(args: threading.ExceptHookArgs) -> None:
    """An exception no thread caught: logged like any error (Python's default prints a bare traceback)."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("bazaar.threads").error(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
    )


def setup(level: str = "INFO", json_lines: bool = True) -> None:
    threading.excepthook = _thread_crashed
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(QuietWhileStopping())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request it makes at INFO (the notifier: one line per webhook delivery)
    for noisy in ("aiokafka", "faust", "mode", "kafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
