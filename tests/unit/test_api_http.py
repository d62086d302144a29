"""``api.http.getter``: the API's GET to a worker or the analytics process, against a real local
aiohttp server (no Kafka): status, body and headers as sent; no answer raises ``Unreachable``."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web

from api import http as api_http
from api.http import Unreachable

pytestmark = pytest.mark.unit


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_get_passes_status_body_headers_and_query():
    async def stock(request: web.Request) -> web.Response:
        await asyncio.sleep(0)
        return web.json_response(
            {"sku": request.match_info["sku"], "query": dict(request.query)},
            status=504,
            headers={"Content-Disposition": 'attachment; filename="x.csv"'},
        )

    async def go():
        app = web.Application()
        app.router.add_get("/stock/s1/{sku}", stock)
        runner, base = await _serve(app)
        session = api_http.session()
        try:
            get = api_http.getter(session)
            answer = await get(f"{base}/stock/s1/rice", {"after": "v1.0:12,3:4", "wait_ms": "900"}, 5.0)
        finally:
            await session.close()
            await runner.cleanup()
        return answer

    answer = asyncio.run(go())
    assert answer.status == 504
    assert json.loads(answer.body) == {"sku": "rice", "query": {"after": "v1.0:12,3:4", "wait_ms": "900"}}
    assert answer.headers["content-disposition"] == 'attachment; filename="x.csv"'
    assert answer.headers["content-type"].startswith("application/json")


def test_no_answer_is_unreachable():
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(text="late")

    async def go():
        app = web.Application()
        app.router.add_get("/slow", slow)
        runner, base = await _serve(app)
        session = api_http.session()
        get = api_http.getter(session)
        errors = []
        try:
            for url, timeout in ((f"http://127.0.0.1:{_free_port()}/stock", 2.0), (f"{base}/slow", 0.2)):
                with pytest.raises(Unreachable) as info:
                    await get(url, {}, timeout)
                errors.append(str(info.value))
        finally:
            await session.close()
            await runner.cleanup()
        return errors

    refused, timed_out = asyncio.run(go())
    assert "Connect" in refused  # connection refused: nothing listens on that port
    assert "Timeout" in timed_out
