"""How ``bazaar api`` serves the app: uvicorn with its C parser and loop, and bounds on connections.

uvicorn closes an idle keep-alive connection (``api_keep_alive_s``) and answers 503 past
``api_max_connections`` open connections, but has no bound on the time a client takes to send its
headers: a connection that sends nothing, or a byte a second, was held for ever. ``HeaderDeadline``
closes it once ``header_timeout_s`` has passed since it was opened (or since a keep-alive
request's first byte) without a complete request head; a client that had started one gets a 408
first. Bodies are bounded by ``api.guard``. ``OneWrite`` sends a small answer's head and body in
one system call (uvicorn writes them apart).
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bazaar_core.settings import Settings

_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 27\r\nconnection: close\r\n\r\nrequest headers too slow.\r\n"
)


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's head (``timeout_s``).

    One timer per connection, not one per request: it is set when a head is under way and none is
    pending, and when it fires it looks at the head under way then (if any): one past its deadline
    is cut off, a later one gets the timer again for its own deadline. A keep-alive connection
    serving many requests a second so sets a timer about once every ``timeout_s``."""

    timeout_s: float = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._deadline: TimerHandle | None = None
        self._started = False  # a byte of the current request head has arrived
        super().connection_made(OneWrite(transport, self.loop))  # type: ignore[arg-type]  # (a transport but for one method)
        self._head_since: float | None = self.loop.time()  # the head under way since (None: none)
        self._arm()

    def _arm(self) -> None:
        if self._deadline is None and self._head_since is not None:
            self._deadline = self.loop.call_at(self._head_since + self.timeout_s, self._check)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._started = True
        if self._head_since is None:  # a keep-alive connection's next request: from its first byte
            self._head_since = self.loop.time()  # (the first request's: from the connection's start)
        self._arm()

    def on_headers_complete(self) -> None:
        self._head_since = None
        self._started = False
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _check(self) -> None:
        self._deadline = None
        since = self._head_since
        if since is None:  # no head under way: the next one sets the timer again
            return
        if self.loop.time() < since + self.timeout_s - 0.01:  # a later head than the one it was set for (a timer may fire a little early)
            self._arm()
            return
        self._too_slow()

    def _too_slow(self) -> None:
        if self.transport.is_closing():
            return
        if self._started:  # a client that never began a request gets no answer, like an idle one
            self.transport.write(_TIMEOUT)
        self.transport.close()


class OneWrite:
    """The connection's transport, but a response's head (which uvicorn writes on its own) is held
    until the body's first write, or until the loop's next turn, so that a small answer leaves in
    one system call instead of two. Everything else is the transport's."""

    __slots__ = ("_transport", "_loop", "_held", "_flush")

    def __init__(self, transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: bytes | None = None
        self._flush: asyncio.Handle | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))
        elif data.startswith(b"HTTP/") and data.endswith(b"\r\n\r\n"):
            self._held = data
            if self._flush is None:
                self._flush = self._loop.call_soon(self._write_held)
        else:
            self._transport.write(data)

    def _write_held(self) -> None:
        self._flush = None
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._write_held()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


def protocol(settings: Settings) -> type[HeaderDeadline]:
    return type("HeaderDeadlineProtocol", (HeaderDeadline,), {"timeout_s": settings.header_timeout_s})


def options(settings: Settings) -> dict:
    """``uvicorn.run``'s (and ``uvicorn.Config``'s) keyword arguments for the API."""
    return {
        "host": settings.api_host,
        "port": settings.api_port,
        "log_level": settings.log_level.lower(),
        "log_config": None,  # keep the process's own (JSON) logging
        # C HTTP parser and event loop: a small POST spent more CPU in h11 and asyncio than in its events
        "http": protocol(settings),
        "loop": "uvloop",
        "access_log": settings.api_access_log,  # a line per request (ingest is counted by metrics)
        "timeout_keep_alive": settings.api_keep_alive_s,
        "limit_concurrency": settings.api_max_connections,
    }
