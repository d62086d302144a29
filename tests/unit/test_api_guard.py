"""api/guard.py in process: what counts against a body's time budget, and the content-type rule."""

from __future__ import annotations

import asyncio

import pytest

from api.guard import Guard, Refused, _Body, media_type
from bazaar_core.settings import Settings

pytestmark = pytest.mark.unit


def chunks(delay_s: float, count: int):
    sent = 0

    async def receive():
        nonlocal sent
        await asyncio.sleep(delay_s)
        sent += 1
        return {"type": "http.request", "body": b"x" * 10, "more_body": sent < count}

    return receive


def test_a_body_slower_than_its_budget_is_408_whatever_the_route_does_between_reads():
    async def read(work_s: float):
        body = _Body(chunks(0.05, 5), limit=1000, budget_s=0.18)
        for _ in range(5):
            await body.receive()
            await asyncio.sleep(work_s)
        return body

    with pytest.raises(Refused) as refused:
        asyncio.run(read(0.0))  # 5 x 0.05 s of waiting > 0.18 s
    assert (refused.value.status, refused.value.error) == (408, "body_timeout")
    body = asyncio.run(_fast_read())
    assert body.done and body.received == 50


async def _fast_read():
    body = _Body(chunks(0.01, 5), limit=1000, budget_s=0.18)
    for _ in range(5):
        await body.receive()
        await asyncio.sleep(0.05)  # 0.25 s of work in all: not the client's time
    return body


def test_a_body_past_its_limit_is_413_as_it_arrives():
    async def read():
        body = _Body(chunks(0, 5), limit=35, budget_s=5)
        for _ in range(5):
            await body.receive()

    with pytest.raises(Refused) as refused:
        asyncio.run(read())
    assert (refused.value.status, refused.value.error) == (413, "body_too_large")


@pytest.mark.parametrize(
    "value, expected",
    [
        (b"application/json", "application/json"),
        (b"Application/JSON ; charset=utf-8", "application/json"),
        (b"text/plain;charset=UTF-8", "text/plain"),
        (None, None),
    ],
)
def test_media_type(value, expected):
    assert media_type(value) == expected


def test_a_bodiless_post_without_a_type_passes_and_one_naming_a_form_does_not():
    answers = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def call(headers):
        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {"type": "http", "method": "POST", "path": "/v1/stores/s1/alerts/x/ack", "headers": headers}
        await Guard(app, Settings())(scope, receive, send)
        answers.append(sent[0]["status"])

    asyncio.run(call([]))
    asyncio.run(call([(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"0")]))
    asyncio.run(call([(b"sec-fetch-site", b"cross-site")]))
    assert answers == [200, 415, 403]
