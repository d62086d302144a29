"""``GET /health`` says ready only once the catalog, alert and webhook views have caught up.

A pure ASGI middleware (it leaves streaming answers alone): while a view is still reading its
topics up to the watermarks found at start-up, ``/health`` answers 503 with what is loading; once
they are all read, the health route answers as before (broker up or down). While the broker is
known to be down, the health route answers at once.
"""

from __future__ import annotations

import json

READY_WAIT_S = 2.0  # a health check at start-up waits this long for the views before saying 503


class ViewsReady:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/health":
            services = getattr(scope["app"].state, "services", None)
            if services is not None and not await services.wait_ready(timeout=READY_WAIT_S) and not services.broker_down():
                body = json.dumps({"status": "starting", "broker": "up", "views": services.ready()}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
