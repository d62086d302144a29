"""How ``bazaar api`` serves the app: uvicorn with its C parser and loop, and bounds on connections.

uvicorn closes an idle keep-alive connection (``api_keep_alive_s``) and answers 503 past
``api_max_connections`` open connections, but has no bound on the time a client takes to send its
headers: a connection that sends nothing, or a byte a second, was held for ever. ``HeaderDeadline``
closes it once ``header_timeout_s`` has passed since it was opened (or since a keep-alive
request's first byte) without a complete request head; a client that had started one gets a 408
first. Bodies are bounded by ``api.guard``.
"""

from __future__ import annotations

from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bazaar_core.settings import Settings

_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 27\r\nconnection: close\r\n\r\nrequest headers too slow.\r\n"
)


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's head (``timeout_s``)."""

    timeout_s: float = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._deadline: TimerHandle | None = None
        self._started = False  # a byte of the current request head has arrived
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._started = True
        self._arm()  # a keep-alive connection's next request: from its first byte

    def on_headers_complete(self) -> None:
        self._disarm()
        self._started = False
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._started:  # a client that never began a request gets no answer, like an idle one
            self.transport.write(_TIMEOUT)
        self.transport.close()


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
