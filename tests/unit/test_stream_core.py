"""The worker's batch under both cores (streams/core.py): the real ``Checkpoint.apply`` over RocksDB
(rocksdict in a temporary directory) with a recording outbox, fed the same batches of the messages
the API writes, once with the compiled core and once with the Python rules alone, must leave the
same bytes in RocksDB and send the same records in the same order, through rebalances, restarts,
replays, a poison message and the batches the core leaves to the Python rules."""

from __future__ import annotations

import asyncio
import logging
import random
import zlib
from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import orjson
import pytest
import rocksdict

from api import ingest
from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from bazaar_core.settings import Settings
from schemas.catalog import Pack, Product, Store, StoreProduct
from streams import core as stream_core
from streams.catalog import CatalogCache
from streams.checkpoint import Checkpoint, batch_rules

pytestmark = pytest.mark.unit

batchcore = pytest.importorskip("bazaar_batchcore", reason="the compiled core is not built (./bazaar.sh setup builds it)")

PARTITIONS = 4
ZONES = ["Asia/Karachi", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/London"]


class _Store:
    def __init__(self, root) -> None:
        self.root, self.dbs = root, {}

    def _db_for_partition(self, partition: int) -> rocksdict.Rdict:
        if partition not in self.dbs:
            self.dbs[partition] = rocksdict.Rdict(str(self.root / f"p{partition}"), options=rocksdict.Options(raw_mode=True))
        return self.dbs[partition]

    def contents(self) -> dict[int, list[tuple[bytes, bytes]]]:
        return {p: list(db.items()) for p, db in sorted(self.dbs.items())}


class _Table:
    changelog_topic_name = "bazaar-stock-changelog"

    def __init__(self, root) -> None:
        self.data = _Store(root)


class _Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def begin(self) -> None:
        self.sent.append(("begin",))

    def send(self, topic, partition, key, value, changelog=False) -> None:
        self.sent.append((topic, partition, key, value, changelog))

    def seal(self) -> None:
        return None


class _Gaps:
    async def check(self, msg):
        return []


def _catalog(settings: Settings, skus: list[str], stores: list[str]) -> CatalogCache:
    """Thresholds that fire (reorder points near the opening stock), packs, an inactive product,
    overrides, and stores in zones with and without daylight saving (one store not in the catalog)."""
    catalog = CatalogCache(settings)
    rng = random.Random(7)
    for i, sku in enumerate(skus):
        catalog.products[sku] = Product(
            sku=sku,
            name=f"product {i}",
            reorder_point=Decimal(rng.randint(5, 60)),
            reorder_min=Decimal(rng.choice([1, 6, 12])) if i % 3 else None,
            reorder_max=Decimal(rng.randint(80, 200)) if i % 4 else None,
            lead_time_days=rng.choice([None, 1, 3, 7]),
            packs=[Pack(unit="carton", size=Decimal(12)), Pack(unit="dozen", size=Decimal(12))] if i % 5 == 0 else [],
            active=i != 3,
        )
    for j, store in enumerate(stores[:-1]):
        catalog.stores[store] = Store(store_id=store, name=store, timezone=ZONES[j % len(ZONES)])
    catalog.overrides[f"{stores[0]}|{skus[0]}"] = StoreProduct(store_id=stores[0], sku=skus[0], reorder_point=Decimal(90))
    catalog.overrides[f"{stores[1]}|{skus[1]}"] = StoreProduct(store_id=stores[1], sku=skus[1], active=False)
    catalog._changed()
    return catalog


class _Worker:
    """One worker's stock agent over its own RocksDB, the compiled core or not."""

    def __init__(self, root, settings: Settings, catalog: CatalogCache, compiled: bool) -> None:
        self.table = _Table(root)
        self.outbox = _Outbox()
        self.settings, self.catalog, self.compiled = settings, catalog, compiled
        self.ran = self.left = 0
        self.start()

    def start(self) -> None:
        """A (re)started worker: nothing cached, RocksDB as it was."""
        s = self.settings
        states, sales, applier, core = batch_rules(s, self.table, self.catalog, batchcore if self.compiled else None)
        if core is not None:
            run = core.run

            def counted(messages):
                ran = run(messages)
                if ran is None:
                    self.left += 1
                else:
                    self.ran += 1
                return ran

            core.run = counted  # type: ignore[method-assign]
        self.checkpoint = Checkpoint(s, states, applier, self.outbox, _Gaps(), None, self.table, None, sales, core)

    def apply(self, batch: list[tuple]) -> None:
        events = [
            SimpleNamespace(message=SimpleNamespace(partition=p, offset=o, key=k, value=v, headers=h, tp=None)) for p, o, k, v, h in batch
        ]
        asyncio.run(self.checkpoint.apply(events))


def _sent(outbox: _Outbox) -> list[tuple]:
    """The records sent, a dead letter's time of failure left out (the only thing a run changes)."""
    out = []
    for rec in outbox.sent:
        if len(rec) > 1 and rec[0].endswith("dead-letters.v1"):
            body = orjson.loads(rec[3])
            body.pop("failed_at", None)
            rec = (*rec[:3], body, rec[4])
        out.append(rec)
    return out


def _messages(seed: int, days: int = 1, per_day: int = 120) -> tuple[list[tuple], list[str], list[str]]:
    """The messages the API writes for a generated stretch of days, each received a few minutes
    after it occurred (so the sale book's buckets span the days, and the oldest are dropped)."""
    gen = Generator(GenConfig(stores=6, events_per_store_day=per_day, skus=30, seed=seed, days=days))
    now = datetime.now(UTC)
    offsets: dict[int, int] = {}
    out = []
    for body in gen.events():
        events = ingest.parse_events(orjson.dumps(wire_body(body)), 1)
        received = min(now, events[0].occurred_at + timedelta(minutes=3))
        items, _ = ingest.messages(ingest.stamp(events, received))
        for key, value, headers in items:
            p = zlib.crc32(key) % PARTITIONS
            offsets[p] = offsets.get(p, -1) + 1
            out.append((p, offsets[p], key, value, headers))
    return out, [p.sku for p in gen.products], gen.stores


@pytest.mark.parametrize("cache_keys", [50_000, 40])
def test_both_cores_write_the_same_rocksdb_and_send_the_same_records(tmp_path, cache_keys):
    logging.getLogger("bazaar").setLevel(logging.ERROR)
    settings = Settings(stream_cache_keys=cache_keys)
    messages, skus, stores = _messages(seed=11, days=48, per_day=12)
    catalog = _catalog(settings, skus, stores)
    python = _Worker(tmp_path / "python", settings, catalog, compiled=False)
    rust = _Worker(tmp_path / "rust", settings, catalog, compiled=True)
    rng = random.Random(cache_keys)
    poison = (messages[40][0], 10_000, messages[40][2], b'{"not": "an event"', [("bazaar-digest", b"x")])
    i, batches = 0, 0
    while i < len(messages):
        n = rng.choice([1, 2, 7, 30, 120, 500])
        batch = messages[i : i + n]
        if batches == 3:
            batch = [*batch, poison]  # dead-lettered by the Python rules in both workers
        i += n
        batches += 1
        for worker in (python, rust):
            worker.apply(batch)
            if batches % 5 == 0:
                worker.apply(batch)  # a replay after a crash: the same outputs again
            if batches % 7 == 0:
                worker.checkpoint.forget()  # a rebalance
            if batches % 11 == 0:
                worker.start()  # a restart on the same disk
        assert _sent(rust.outbox) == _sent(python.outbox), f"batch {batches}"
    assert rust.table.data.contents() == python.table.data.contents()
    topics = {rec[0] for rec in python.outbox.sent if len(rec) > 1}
    every = {settings.ledger_topic, settings.alerts_topic, settings.dead_letters_topic, _Table.changelog_topic_name}
    assert topics == every, topics  # the comparison covered every output
    assert any(rec[3] is None for rec in python.outbox.sent if len(rec) > 1)  # and a tombstone (a dropped bucket)
    assert rust.ran > rust.left > 0, (rust.ran, rust.left)  # the core ran most batches, and left some
    assert len(python.outbox.sent) > 1000


def test_catalog_changes_reach_the_core(tmp_path):
    """A threshold changed between batches: both cores raise (or clear) the same alerts after it."""
    settings = Settings()
    messages, skus, stores = _messages(seed=5)
    catalog = _catalog(settings, skus, stores)
    python = _Worker(tmp_path / "python", settings, catalog, compiled=False)
    rust = _Worker(tmp_path / "rust", settings, catalog, compiled=True)
    half = len(messages) // 2
    for worker in (python, rust):
        worker.apply(messages[:half])
    for sku in skus[:10]:
        catalog.products[sku] = catalog.products[sku].model_copy(update={"reorder_point": Decimal(500)})
    catalog.stores[stores[-1]] = Store(store_id=stores[-1], name="late", timezone="Pacific/Chatham")
    catalog._changed()
    for worker in (python, rust):
        worker.apply(messages[half:])
    assert _sent(rust.outbox) == _sent(python.outbox)
    assert rust.table.data.contents() == python.table.data.contents()
    assert rust.ran == 2


@pytest.mark.parametrize("zone", ZONES + ["UTC", "Pacific/Chatham", "America/St_Johns", "Africa/Casablanca"])
def test_zone_segments_give_the_offset_zoneinfo_gives(zone):
    tz = ZoneInfo(zone)
    until = int((datetime.now(UTC) + timedelta(days=3)).timestamp() * 1_000_000)
    segments = stream_core.zone_segments(tz, until)
    starts = [s for s, _ in segments]
    assert starts == sorted(starts)
    rng = random.Random(zone)
    earliest = starts[0]
    probes = [rng.randrange(earliest, until) for _ in range(2000)]
    probes += [s + d for s, _ in segments[1:] for d in (-1, 0, 1)]  # either side of every change
    for at in probes:
        i = bisect_right(starts, at) - 1
        moment = datetime.fromtimestamp(at // 1_000_000, UTC).replace(microsecond=at % 1_000_000)
        expected = moment.astimezone(tz).utcoffset()
        assert segments[i][1] == expected // timedelta(microseconds=1), (zone, moment)


def test_the_setting_picks_the_core(monkeypatch, caplog):
    assert stream_core.load(Settings(stream_core="python")) is None
    assert stream_core.load(Settings(stream_core="rust")) is batchcore
    assert stream_core.load(Settings(stream_core="auto")) is batchcore
    monkeypatch.setattr(stream_core, "MODULE", "bazaar_batchcore_missing")
    with caplog.at_level(logging.WARNING, logger="bazaar.streams.core"):
        assert stream_core.load(Settings(stream_core="auto")) is None
    assert "not installed" in caplog.text
    with pytest.raises(RuntimeError, match="BAZAAR_STREAM_CORE=rust"):
        stream_core.load(Settings(stream_core="rust"))


def test_a_failing_core_leaves_its_batches_to_the_python_rules(tmp_path, caplog):
    """An error inside the core (a bug) costs the batch its speed, never its outputs."""
    settings = Settings()
    messages, skus, stores = _messages(seed=3)
    catalog = _catalog(settings, skus, stores)
    python = _Worker(tmp_path / "python", settings, catalog, compiled=False)
    rust = _Worker(tmp_path / "rust", settings, catalog, compiled=True)
    core = rust.checkpoint.core
    assert core is not None
    real = core.core

    class Failing:
        def __getattr__(self, name):
            return getattr(real, name)

        def run(self, values, days):
            raise ValueError("a bug")

    third = len(messages) // 3
    with caplog.at_level(logging.ERROR, logger="bazaar.streams.core"):
        for i, batch in enumerate((messages[:third], messages[third : 2 * third], messages[2 * third :])):
            core.core = Failing() if i == 1 else real
            for worker in (python, rust):
                worker.apply(batch)
    assert "the compiled core failed" in caplog.text
    assert (rust.ran, rust.left) == (2, 1)
    assert _sent(rust.outbox) == _sent(python.outbox)
    assert rust.table.data.contents() == python.table.data.contents()
