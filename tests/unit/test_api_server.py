"""``api.server``: an answer's head and body leave in one write; the head deadline's one timer."""

from __future__ import annotations

import asyncio

import pytest

from api.server import OneWrite

pytestmark = pytest.mark.unit

HEAD = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n"


class Transport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, parts) -> None:
        self.calls.append(("writelines", b"".join(parts)))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", b""))

    def get_extra_info(self, name: str):
        return ("127.0.0.1", 1) if name == "peername" else None


def test_a_head_and_its_body_leave_in_one_call_and_the_rest_as_written():
    async def go():
        t = Transport()
        w = OneWrite(t, asyncio.get_running_loop())
        w.write(HEAD)
        assert t.calls == []  # held for the body
        w.write(b"{}")
        w.write(b"more")  # not a head: as it comes
        await asyncio.sleep(0)
        return t.calls, w.get_extra_info("peername")

    calls, peer = asyncio.run(go())
    assert calls == [("writelines", HEAD + b"{}"), ("write", b"more")]
    assert peer == ("127.0.0.1", 1)  # the transport's own answers


def test_a_head_without_a_body_leaves_on_the_next_turn_and_before_a_close():
    async def go():
        t = Transport()
        w = OneWrite(t, asyncio.get_running_loop())
        w.write(HEAD)
        await asyncio.sleep(0)
        first = list(t.calls)
        w.write(HEAD)
        w.close()
        await asyncio.sleep(0)
        return first, t.calls

    first, calls = asyncio.run(go())
    assert first == [("write", HEAD)]
    assert calls == [("write", HEAD), ("write", HEAD), ("close", b"")]


def test_nothing_is_written_to_a_closing_transport():
    async def go():
        t = Transport()
        w = OneWrite(t, asyncio.get_running_loop())
        w.write(HEAD)
        t.closing = True
        await asyncio.sleep(0)
        return t.calls

    assert asyncio.run(go()) == []
