"""No single message stalls the ClickHouse sink: a batch ClickHouse refuses is split until the
refusing messages are alone, those are dead-lettered and the rest is inserted; a message that cannot
be read is dead-lettered too; transient failures (ClickHouse unreachable, the test fault file) are
retried and never dead-letter anything; every ack comes after its insert or its dead letter, in order."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

from clickhouse.errors import ClickHouseUnavailable, is_transient
from clickhouse.migrate import load, migrate
from clickhouse.rows import LEDGER_COLUMNS, ledger_rows
from clickhouse.sink import Backoff, Sink, TableSpec
from schemas.deadletters import DeadLetter
from tests.chdb_databases import fresh_database

pytestmark = pytest.mark.unit

FAST = Backoff(first_s=0.001, max_s=0.01)
TOPIC = "t.ledger.v1"


def refusal() -> DatabaseError:
    return DatabaseError("Code: 53. DB::Exception: Type mismatch in column v. (TYPE_MISMATCH)", code=53, name="TYPE_MISMATCH")


class FakeDatabase:
    """Refuses (as ClickHouse does: the whole insert) any insert holding a row whose value starts
    with "bad"; fails ``down`` more attempts as if unreachable; records what it stored."""

    def __init__(self, down: int = 0, answers: bool = True) -> None:
        self.down = down
        self.answers = answers  # does it answer a ping
        self.stored: list[tuple] = []
        self.attempts: list[list[int]] = []  # the offsets in each insert attempt
        self.log: list[str] = []

    def insert(self, table, rows, columns, token) -> None:
        self.attempts.append([r[1] for r in rows])
        if self.down:
            self.down -= 1
            raise ClickHouseUnavailable("fault injected")
        if any(r[0].startswith("bad") for r in rows):
            raise refusal()
        self.stored.extend(rows)
        self.log.extend(f"insert {r[1]}" for r in rows)

    def ping(self) -> bool:
        return self.answers


def convert(raw: bytes, partition: int, offset: int) -> list[tuple]:
    text = raw.decode()
    if text.startswith("{"):
        raise ValueError("not a value")
    return [(text, offset)]


SPEC = TableSpec("t", ("v", "offset"), convert)


class Letters:
    """A dead-letter writer that fails ``fail`` times first, like a broker that is away."""

    def __init__(self, log: list[str], fail: int = 0) -> None:
        self.written: list[DeadLetter] = []
        self.log, self.fail = log, fail

    async def __call__(self, letters: list[DeadLetter]) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("broker away")
        self.written.extend(letters)
        self.log.extend(f"dead {d.offset}" for d in letters)


def run(sink: Sink, values: list[bytes | None], log: list[str]) -> list[int]:
    async def scenario() -> None:
        for offset, raw in enumerate(values):

            async def ack(o=offset):
                log.append(f"ack {o}")

            if sink.add(2, offset, raw, ack, key=b"store-1", headers={"h": "1"}):
                await sink.flush()
        await sink.flush()

    asyncio.run(scenario())
    return [int(line.split()[1]) for line in log if line.startswith("ack")]


def test_refused_rows_are_isolated_dead_lettered_and_the_rest_inserted():
    bad = {3, 17, 18, 40}
    values = [f"{'bad' if i in bad else 'good'}-{i}".encode() for i in range(50)]
    db = FakeDatabase()
    letters = Letters(db.log)
    sink = Sink(db, SPEC, max_batch=50, max_wait_s=60, backoff=FAST, topic=TOPIC, dead_letters=letters)
    acked = run(sink, values, db.log)

    assert sorted(o for _, o in db.stored) == [i for i in range(50) if i not in bad]
    assert [d.offset for d in letters.written] == sorted(bad)
    for d in letters.written:
        assert d.source == "analytics" and d.topic == TOPIC and d.partition == 2 and d.id == f"{TOPIC}|2|{d.offset}"
        assert base64.b64decode(d.value) == values[d.offset] and d.raw_key() == b"store-1" and d.store_id == "store-1"
        assert d.error_type == "InsertRefused" and "TYPE_MISMATCH" in d.error and d.headers == {"h": "1"}
    # every message acked once, in order, and only after everything before it was inserted or dead-lettered
    assert acked == list(range(50))
    assert db.log.index("ack 0") > max(i for i, line in enumerate(db.log) if not line.startswith("ack"))
    # halving finds 4 bad rows in far fewer inserts than one per message
    assert len(db.attempts) < 40
    assert sink.state.refused_inserts >= 4 and sink.state.dead_lettered == 4 and sink.state.refused == 4
    assert sink.state.last_dead_letter["offset"] == 40 and sink.state.last_dead_letter["reason"] == "refused"
    assert not sink.failing and sink.pending == 0


def test_unreadable_messages_and_tombstones():
    db = FakeDatabase()
    letters = Letters(db.log)
    sink = Sink(db, SPEC, max_batch=10, max_wait_s=60, backoff=FAST, topic=TOPIC, dead_letters=letters)
    acked = run(sink, [b"good-0", b"{not a value", None, b"good-3"], db.log)
    assert acked == [0, 1, 2, 3]
    assert sorted(o for _, o in db.stored) == [0, 3]
    [dead] = letters.written
    assert dead.offset == 1 and dead.raw_value() == b"{not a value" and dead.error_type == "UnreadableMessage"
    assert sink.state.unreadable == 1 and sink.state.refused == 0 and sink.state.refused_inserts == 0


def test_transient_failures_are_retried_never_dead_lettered():
    db = FakeDatabase(down=3)
    letters = Letters(db.log)
    sink = Sink(db, SPEC, max_batch=10, max_wait_s=60, backoff=FAST, topic=TOPIC, dead_letters=letters)
    assert run(sink, [f"good-{i}".encode() for i in range(5)], db.log) == [0, 1, 2, 3, 4]
    assert len(db.attempts) == 4 and all(a == [0, 1, 2, 3, 4] for a in db.attempts)  # the same batch, whole
    assert letters.written == [] and sink.state.refused_inserts == 0 and not sink.failing


def test_a_refusal_while_clickhouse_does_not_answer_is_not_blamed_on_the_rows():
    db = FakeDatabase(answers=False)
    letters = Letters(db.log)
    sink = Sink(db, SPEC, max_batch=10, max_wait_s=60, backoff=FAST, topic=TOPIC, dead_letters=letters)

    async def scenario() -> None:
        for offset, raw in enumerate([b"good-0", b"bad-1"]):

            async def ack(o=offset):
                db.log.append(f"ack {o}")

            sink.add(0, offset, raw, ack)
        flushing = asyncio.create_task(sink.flush())
        await asyncio.sleep(0.2)
        assert not flushing.done() and sink.failing and letters.written == [] and "ack 0" not in db.log
        db.answers = True  # it answers again: now the refusal is about the rows
        assert await asyncio.wait_for(flushing, 5) == 2

    asyncio.run(scenario())
    assert [d.offset for d in letters.written] == [1] and [o for _, o in db.stored] == [0] and not sink.failing


def test_acks_wait_until_the_broker_has_the_dead_letters():
    db = FakeDatabase()
    letters = Letters(db.log, fail=2)
    sink = Sink(db, SPEC, max_batch=10, max_wait_s=60, backoff=FAST, topic=TOPIC, dead_letters=letters)
    assert run(sink, [b"good-0", b"bad-1", b"good-2"], db.log) == [0, 1, 2]
    assert [d.offset for d in letters.written] == [1]
    assert db.log.index("dead 1") < db.log.index("ack 0")
    assert sink.state.dead_letter_error is None


def test_errors_are_classified():
    assert is_transient(ClickHouseUnavailable("fault injected: /tmp/x exists"))  # the test hook: ClickHouse "down"
    assert is_transient(OperationalError("Error executing HTTP request"))
    assert is_transient(ConnectionRefusedError()) and is_transient(TimeoutError())
    assert is_transient(DatabaseError("Code: 241. DB::Exception: Memory limit exceeded", code=241))
    assert is_transient(
        DatabaseError("Code: 252. DB::Exception: Too many parts (3001). Merges are processing significantly slower than inserts")
    )
    assert is_transient(DatabaseError("HTTP driver received HTTP status 503"))  # a proxy in front of the server
    assert not is_transient(
        DatabaseError("Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100)", code=252)
    )
    assert not is_transient(refusal())
    assert not is_transient(DataError("Unable to create native array for column `quantity`: error"))
    assert not is_transient(OverflowError("int too big to convert"))
    assert not is_transient(ValueError("bad value"))


def entry(occurred_at: str = "2026-11-20T10:00:00+05:00", quantity: str = "-1") -> bytes:
    return json.dumps(
        {
            "v": 1,
            "event_id": str(uuid.uuid4()),
            "type": "sale",
            "leg": "out",
            "store_id": "s1",
            "terminal_id": "t1",
            "occurred_at": occurred_at,
            "received_at": "2026-11-20T10:00:01+05:00",
            "rows": [
                {
                    "sku": "atta",
                    "quantity": quantity,
                    "amount": "120.50",
                    "on_hand_before": "5",
                    "on_hand_after": "4",
                    "changed": True,
                    "outcome": "applied",
                }
            ],
        }
    ).encode()


MONTHS = [f"{2000 + m // 12:04d}-{m % 12 + 1:02d}-15T10:00:00Z" for m in range(101)]
LEDGER = TableSpec("ledger", LEDGER_COLUMNS, ledger_rows, stamps_token=True)


def test_chdb_101_months_in_one_batch_on_the_old_monthly_ledger_are_split_and_all_inserted():
    """The refusal of the issue, from real chDB, on a ledger still partitioned by month."""
    db = fresh_database()
    migrate(db, [m for m in load() if m.version < 5])
    [voids] = [m for m in load() if m.version == 6]
    for statement in voids.statements():  # the columns the sink writes today (006), on the monthly ledger
        if "ALTER TABLE ledger ADD COLUMN" in statement:
            db.command(statement)
    log: list[str] = []
    letters = Letters(log)
    sink = Sink(db, LEDGER, max_batch=200, max_wait_s=60, backoff=FAST, topic=TOPIC, dead_letters=letters)
    assert run(sink, [entry(at) for at in MONTHS], log) == list(range(101))
    assert letters.written == [] and sink.state.refused_inserts == 1  # the whole batch, then its halves went in
    assert db.query("SELECT count() FROM ledger_first").result_rows[0][0] == 101


def test_chdb_by_year_takes_101_months_at_once_and_a_value_no_column_holds_is_dead_lettered():
    db = fresh_database()
    migrate(db)
    log: list[str] = []
    letters = Letters(log)
    sink = Sink(db, LEDGER, max_batch=200, max_wait_s=60, backoff=FAST, topic=TOPIC, dead_letters=letters)
    values = [entry(at) for at in MONTHS]
    values[57] = entry(quantity="-1e20")  # parses, but Decimal(18, 3) cannot hold it
    assert run(sink, values, log) == list(range(101))
    assert [d.offset for d in letters.written] == [57] and letters.written[0].error_type == "InsertRefused"
    assert db.query("SELECT count() FROM ledger_first").result_rows[0][0] == 100
    assert db.query("SELECT count() FROM ledger WHERE src_offset = 57").result_rows[0][0] == 0
