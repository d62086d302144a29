"""The sink: acks only after a successful insert, retries while ClickHouse is down, and a batch
retried after an ambiguous failure (stored, but the client saw an error) is not stored twice."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from clickhouse.migrate import migrate
from clickhouse.rows import LEDGER_COLUMNS, ledger_rows
from clickhouse.sink import Backoff, Sink, TableSpec, batch_token
from tests.chdb_databases import fresh_database

pytestmark = pytest.mark.unit

SPEC = TableSpec("ledger", LEDGER_COLUMNS, ledger_rows, stamps_token=True)


def entry(store: str = "s1", sku: str = "atta", qty: str = "-1") -> bytes:
    return json.dumps(
        {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "type": "sale",
            "leg": "out",
            "store_id": store,
            "terminal_id": "t1",
            "occurred_at": "2026-11-20T10:00:00+05:00",
            "received_at": "2026-11-20T10:00:01+05:00",
            "rows": [
                {
                    "sku": sku,
                    "quantity": qty,
                    "amount": "120.50",
                    "on_hand_before": "5",
                    "on_hand_after": "4",
                    "changed": True,
                    "outcome": "applied",
                }
            ],
        }
    ).encode()


def count(db, sql: str = "SELECT count() FROM ledger") -> int:
    return db.query(sql).result_rows[0][0]


def test_acks_follow_inserts_and_waits_out_an_outage(tmp_path):
    fault = tmp_path / "clickhouse-down"
    db = fresh_database(str(fault))
    migrate(db)
    sink = Sink(db, SPEC, max_batch=3, max_wait_s=60, backoff=Backoff(first_s=0.01, max_s=0.05))
    acked: list[int] = []

    def ack(offset: int):
        async def _ack():
            acked.append(offset)

        return _ack

    async def scenario() -> None:
        fault.touch()  # ClickHouse "down"
        for offset in range(3):
            assert sink.add(0, offset, entry(), ack(offset)) is (offset == 2)
        flushing = asyncio.create_task(sink.flush())
        await asyncio.sleep(0.3)
        assert not flushing.done() and acked == [] and sink.pending == 3 and sink.failing
        assert count(db) == 0
        fault.unlink()  # back up: the same batch goes in, then is acked
        assert await asyncio.wait_for(flushing, 5) == 3
        assert acked == [0, 1, 2] and sink.pending == 0 and not sink.failing

    asyncio.run(scenario())
    assert count(db) == 3


def test_a_retried_batch_is_stored_once():
    db = fresh_database()
    migrate(db)
    raws = [entry(sku=f"sku-{i}") for i in range(5)]
    rows = [r for i, raw in enumerate(raws) for r in ledger_rows(raw, 0, i)]
    token = batch_token("ledger", [(0, i) for i in range(5)])
    rows = [(*r[:-1], token) for r in rows]
    db.insert("ledger", rows, LEDGER_COLUMNS, token)
    db.insert("ledger", rows, LEDGER_COLUMNS, token)  # the client saw a timeout and sent it again
    assert count(db) == 5
    assert token == batch_token("ledger", [(0, i) for i in range(5)]) != batch_token("ledger", [(0, i) for i in range(1, 6)])


def test_replayed_entries_collapse_to_the_first():
    """A replay re-sends entries; a later copy with other figures (a re-send that met a count) loses."""
    db = fresh_database()
    migrate(db)
    db.command("SYSTEM STOP MERGES ledger")
    first = json.loads(entry())
    copy = json.loads(json.dumps(first))
    copy["rows"][0].update({"on_hand_before": "9", "on_hand_after": "9", "changed": False, "outcome": "before_count"})
    for offset, value in ((7, first), (12, copy), (7, first)):
        db.insert(
            "ledger",
            [(*r[:-1], f"b{offset}") for r in ledger_rows(json.dumps(value).encode(), 3, offset)],
            LEDGER_COLUMNS,
            f"x{uuid.uuid4()}",
        )
    assert count(db) == 3
    got = db.query("SELECT src_offset, on_hand_after, outcome FROM ledger_first").result_rows
    assert [(o, str(a), out) for o, a, out in got] == [(7, "4.000", "applied")]


def test_invalid_messages_are_dead_lettered_and_acked_in_order():
    db = fresh_database()
    migrate(db)
    letters: list = []

    async def dead_letters(batch) -> None:
        letters.extend(batch)

    sink = Sink(db, SPEC, max_batch=10, max_wait_s=60, topic="t.ledger.v1", dead_letters=dead_letters)
    acked: list[int] = []

    async def scenario() -> None:
        for offset, raw in enumerate([entry(), b"{not json", entry(), None]):

            async def _ack(o=offset):
                acked.append(o)

            sink.add(1, offset, raw, _ack)
        assert await sink.flush() == 4

    asyncio.run(scenario())
    assert acked == [0, 1, 2, 3] and count(db) == 2
    assert [(d.source, d.offset, d.raw_value()) for d in letters] == [("analytics", 1, b"{not json")]
