"""BatchSales: the sale book in the stock table's RocksDB, written with its changelog, recovered
from it, and a void judged across batches, a crash and a recovery."""

from __future__ import annotations

import pytest

from domain.voids import BOOK_PREFIX, apply_recorded
from streams.codec import decode
from streams.sales import BatchSales
from streams.state import BatchStates
from tests.unit.test_batch_states import FakeTable
from tests.unit.test_voids import purchase, sale, void

pytestmark = pytest.mark.unit


class Worker:
    """The stock agent's two halves of the stock table over one (fake) Faust table."""

    def __init__(self, table, changelog: dict[tuple[int, bytes], bytes | None]) -> None:
        self.states = BatchStates(table)
        self.sales = BatchSales(table, lambda: self.states.partition)
        self.changelog = changelog  # the compacted changelog topic: the last record per key

    def batch(self, *events, partition: int = 3, crash: bool = False):
        self.states.partition = partition
        verdicts = [apply_recorded(self.states, self.sales, e)[1] for e in events]
        if crash:  # the batch fails before it is written: applied again from RocksDB
            self.states.discard()
            self.sales.discard()
            return verdicts
        send = lambda p, k, v: self.changelog.__setitem__((p, k), v)  # noqa: E731
        self.states.flush(send)
        self.sales.flush(send)
        return verdicts


def on_hand(table, key: bytes, partition: int = 3) -> int:
    return decode(table.data._db_for_partition(partition)[key]).on_hand


def test_a_void_finds_its_sale_in_rocksdb_counts_once_and_survives_recovery(tmp_path):
    table, changelog = FakeTable(tmp_path / "a"), {}
    wrong = sale([("rice", "2.5")], minutes=1)
    Worker(table, changelog).batch(purchase([("rice", "10")]), wrong)
    first = void(wrong, [("rice", "2.5")], minutes=2)
    assert Worker(table, changelog).batch(first, crash=True)[0].applied  # lost in a crash
    assert on_hand(table, b"s1|rice") == 7_500
    [v] = Worker(table, changelog).batch(first)  # replayed by a new worker
    assert v.applied and on_hand(table, b"s1|rice") == 10_000
    assert Worker(table, changelog).batch(void(wrong, [("rice", "2.5")], minutes=3))[0].status == "already_voided"
    assert on_hand(table, b"s1|rice") == 10_000
    assert any(k.startswith(BOOK_PREFIX.encode()) for _, k in changelog)  # the book has changelog records like the stock

    # recovery on another worker: a fresh RocksDB filled from the changelog alone
    restored = FakeTable(tmp_path / "b")
    for (p, k), value in changelog.items():
        if value is not None:
            restored.data._db_for_partition(p)[k] = value
    assert Worker(restored, {}).batch(void(wrong, [("rice", "2.5")], minutes=4))[0].status == "already_voided"
    [again] = Worker(restored, {}).batch(first)  # the first void, redelivered
    assert again.applied and on_hand(restored, b"s1|rice") == 10_000


def test_old_buckets_are_dropped_with_a_tombstone(tmp_path):
    table = FakeTable(tmp_path)
    worker = Worker(table, {})
    worker.batch(sale([("rice", "1")]))
    worker.batch(sale([("rice", "1")], days=60))
    db = table.data._db_for_partition(3)
    buckets = [k for k in db.keys() if k.startswith(BOOK_PREFIX.encode())]
    assert len(buckets) == 1
    assert any(v is None for (_, k), v in worker.changelog.items() if k.startswith(BOOK_PREFIX.encode()))
