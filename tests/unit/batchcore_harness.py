"""Random event histories through the Python rules (``domain/``, the specification) and the compiled
batch core (``batchcore/``, module ``bazaar_batchcore``), batch by batch, comparing byte for byte
everything either writes to RocksDB and the changelog or sends to Kafka
(tests/unit/test_batchcore_equivalence.py).

The Python side is the worker's own: ``domain.batch.Applier`` over ``streams.state.BatchStates`` and
``streams.sales.BatchSales`` on RocksDB (rocksdict in a temporary directory), the catalog a
``streams.catalog.CatalogCache``, the messages what ``api.ingest.messages`` produces. The core's
RocksDB is a dict: ``prepare``'s keys are answered from it and ``run``'s writes applied to it. A batch
the core declines is applied by Python alone, and its changelog records written to the dict, as
the worker would write them to the one RocksDB both read.

``python -m tests.unit.batchcore_harness [histories [longest [first seed]]]`` prints how often the
core declined a batch, and why, and what the histories exercised.
"""

from __future__ import annotations

import random
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import rocksdict

from api.ingest import messages
from bazaar_core.settings import Settings
from domain.batch import Applier, BatchOutput, InvalidEvent
from domain.events import from_us, to_us
from domain.stock import StockState
from schemas.catalog import Pack, Product, Store, StoreProduct
from schemas.events import EventAdapter
from streams import codec
from streams.catalog import CatalogCache
from streams.checkpoint import headers_of
from streams.core import StreamCore, zone_segments
from streams.sales import BatchSales
from streams.state import BatchStates

LEDGER, ALERTS = Settings().ledger_topic, Settings().alerts_topic
ZONES = {"s1": "Asia/Karachi", "s2": "America/New_York", "s4": "Australia/Lord_Howe"}  # s3: not in the catalog (UTC)
STORES = ["s1", "s2", "s3", "s4"]
PARTITION = {"s1": 0, "s2": 1, "s3": 0, "s4": 1}
SKUS = ["rice", "dal", "oil", "ghee"]  # ghee: unknown to the catalog
CATALOG_SKUS = SKUS[:3]
T0 = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
OFFSETS = [UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-4)), timezone(timedelta(hours=10, minutes=30))]
ZONE_FROM, ZONE_UNTIL = datetime(2000, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)
FLAGGED = {"conflict", "beyond_window", "stale_count", "not_applied"}


# ---- the catalog, for both -------------------------------------------------------------------


@cache
def zone_table(name: str) -> tuple[str, list[tuple[int, int]], int]:
    """(zone, [(from µs, UTC offset µs), ...], valid until µs): the zone's offsets from 2000 on,
    each transition found to the second."""
    zone = ZoneInfo(name)
    second = 1_000_000

    def offset(s: int) -> int:
        off = from_us(s * second).astimezone(zone).utcoffset()
        assert off is not None
        return off // timedelta(microseconds=1)

    start, until = to_us(ZONE_FROM) // second, to_us(ZONE_UNTIL) // second
    segments = [(start * second, offset(start))]
    t, step = start, 6 * 3600
    while t < until:
        n = min(t + step, until)
        if offset(n) != segments[-1][1]:
            lo, hi = t, n  # offset(lo) is the current one, offset(hi) the next
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == segments[-1][1]:
                    lo = mid
                else:
                    hi = mid
            segments.append((hi * second, offset(hi)))
        t = n
    return name, segments, until * second


def core_catalog(cat: CatalogCache) -> tuple[list, list, list, list]:
    """``Core.set_catalog``'s arguments from the worker's catalog cache, as ``streams.core`` makes
    them (``CatalogCache.core_tables``, ``streams.core.zone_segments``)."""
    products, overrides, stores = cat.core_tables()
    until = to_us(ZONE_UNTIL)
    zones = [(z, zone_segments(ZoneInfo(z), until), until) for z in sorted({zone for _, zone in stores})]
    return products, overrides, stores, zones


def catalog_cache() -> CatalogCache:
    """A CatalogCache without its topic follower (its rules, the catalog set by the test)."""
    cat = CatalogCache.__new__(CatalogCache)
    cat.products, cat.stores, cat.overrides = {}, {}, {}
    cat._zones, cat._limits, cat._version = {}, {}, 0
    return cat


def random_catalog(rng: random.Random, cat: CatalogCache) -> None:
    points = [None, "0", "1", "1.5", "4", "10", "0.333", "999999.999", "-2"]
    cat.products.clear()
    cat.overrides.clear()
    cat.stores.clear()
    for sku in CATALOG_SKUS:
        packs = [Pack(unit="carton", size=Decimal(rng.choice(["12", "0.5", "2.25", "0.007", "144"])))] if rng.random() < 0.5 else []
        if packs and rng.random() < 0.3:
            packs.append(Pack(unit="box", size=packs[0].size))  # a tie: the first largest pack
        rmin, rmax = rng.choice([None, "0", "2", "3.5", "0.001"]), rng.choice([None, None, "6", "20", "7.777", "999999"])
        cat.products[sku] = Product(
            sku=sku,
            name=sku.title(),
            unit="kg" if sku == "rice" else "piece",
            packs=packs,
            active=rng.random() < 0.85,
            reorder_point=_dec(rng.choice(points)),
            reorder_min=_dec(rmin),
            reorder_max=_dec(rmax),
            lead_time_days=rng.choice([None, 0, 1, 3, 7, 365]),
        )
    for store in STORES:
        for sku in SKUS:
            if rng.random() < 0.2:
                cat.overrides[f"{store}|{sku}"] = StoreProduct(
                    store_id=store, sku=sku, reorder_point=_dec(rng.choice(points)), active=rng.choice([None, True, False])
                )
    for store, zone in ZONES.items():
        cat.stores[store] = Store(store_id=store, name=store.upper(), timezone=zone)
    cat._changed()


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


# ---- histories ---------------------------------------------------------------------------------

Record = tuple[str, int, bytes | None, bytes]
Message = tuple[int, int, bytes | None, bytes, Any]  # partition, offset, key, value, headers (pairs or a dict)


@dataclass
class History:
    window_days: int
    velocity_days: int
    void_window_days: int
    cache_keys: int
    py_cache_keys: int
    seed_keys: dict[str, bytes]  # stock keys stored before the history (older layouts)
    steps: list[Any] = field(default_factory=list)  # ("batch", [Message]) | ("restart",) | ("forget",) | ("catalog", seed)
    kinds: Counter[str] = field(default_factory=Counter)


def _qty(rng: random.Random, lo: int = 1, hi: int = 5000) -> str:
    if rng.random() < 0.03:  # now and then a figure near the contract's bound (1,000,000 a line)
        hi = max(hi, rng.choice([999_999_999, 1_000_000_000, 123_456_789]))
    n = rng.randint(lo, hi)
    return str(Decimal(n) / 1000) if rng.random() < 0.8 else f"{n // 1000}.{n % 1000:03d}"


def _price(rng: random.Random) -> str:
    return rng.choice(["10.00", "0", "99.99", "12.5", "1", "1234567.89", "10000000", "0.01", "3.33"])


def _lines(rng: random.Random, kind: str) -> list[dict[str, Any]]:
    skus = [rng.choice(SKUS) for _ in range(rng.choice([1, 1, 2, 3]))]  # a sku twice now and then
    lines = []
    for sku in skus:
        line: dict[str, Any] = {"sku": sku}
        if kind == "count":
            line["quantity"] = _qty(rng, 0, 9000) if rng.random() < 0.9 else "0"
        elif kind == "adjustment":
            line["quantity"] = "-" + _qty(rng)
        else:
            line["quantity"] = _qty(rng)
        if kind in ("sale", "return") and (kind == "sale" or rng.random() < 0.6):
            line["unit_price"] = _price(rng)
        if kind == "purchase":
            line["unit_cost"] = _price(rng)
        if kind in ("sale", "purchase") and rng.random() < 0.15:  # converted by the API from a pack
            line["entered_quantity"], line["entered_unit"], line["quantity"] = "1", "carton", "12"
        lines.append(line)
    return lines


def _time(rng: random.Random, us: int) -> str:
    if rng.random() < 0.3:
        us -= us % 1_000_000  # whole seconds
    return from_us(us).astimezone(rng.choice(OFFSETS)).isoformat()


def random_history(rng: random.Random, n_events: int, ordinary_only: bool = False) -> History:
    """A history of up to ``n_events`` posted events and their re-sends, cut into batches."""
    h = History(
        window_days=rng.choice([1, 2, 30]),
        velocity_days=rng.choice([1, 3, 7]),
        void_window_days=rng.choice([1, 3, 35]),
        cache_keys=rng.choice([0, 2, 1000]),
        py_cache_keys=rng.choice([0, 3]),
        seed_keys=seeded_keys(rng, legacy=not ordinary_only),
    )
    clock = to_us(T0)
    instants: list[int] = [clock]  # occurred_at instants already used: ties happen
    posted: list[dict[str, Any]] = []  # bodies posted so far
    log: list[Message] = []
    offsets = Counter[int]()

    def emit(body: dict[str, Any], received_us: int) -> None:
        stamped = rng.random() > 0.03  # (a producer before received_at was stamped: occurred_at stands in)
        event = EventAdapter.validate_python({**body, "received_at": from_us(received_us)} if stamped else body)
        items, _ = messages([event])
        for key, value, headers in items:
            p = PARTITION[key.decode()]
            log.append((p, offsets[p], key, value, dict(headers) if rng.random() < 0.3 else headers))
            offsets[p] += 1

    kinds = ["sale"] * 6 + ["purchase"] * 2 + ["count"] * 2 + ["transfer"] * 2 + ["return", "adjustment", "resend", "replay", "conflict"]
    if not ordinary_only:
        kinds += ["void", "void", "garbage", "clash"]
    for _ in range(n_events):
        step = rng.random()
        if step < 0.05:
            clock += rng.randint(1, 3) * 86_400_000_000 + rng.randint(0, 3_600_000_000)  # days pass: folds, new days
        elif step < 0.15:
            pass  # the same receive instant
        else:
            clock += rng.randint(1, 7200) * 1_000_000
        kind = rng.choice(kinds)
        if kind in ("resend", "replay", "conflict") and not posted:
            kind = "sale"
        h.kinds[kind] += 1
        if kind == "replay":  # a crash replay: the very messages again
            first = rng.randrange(max(0, len(log) - 6), len(log)) if log else 0
            log.extend(log[first : first + rng.randint(1, 3)])
            continue
        if kind == "garbage":
            log.append((0, offsets[0], b"s1", rng.choice([b"{not json", b'{"v":2}', b""]), [("bazaar-digest", b"x")]))
            offsets[0] += 1
            continue
        if kind == "resend":  # the terminal sends it again: a new receive time, the same digest
            emit(rng.choice(posted[-8:]), clock)
            continue
        if kind == "conflict":  # the same id, another payload
            body = dict(rng.choice(posted[-8:]))
            body["lines"] = [{**line, "quantity": _qty(rng, 1, 900) if body["type"] != "adjustment" else "-0.5"} for line in body["lines"]]
            emit(body, clock)
            continue
        store = rng.choice(STORES)
        if rng.random() < 0.25:
            occurred = rng.choice(instants[-10:])
        else:
            # (a terminal's clock may run ahead of the server's, by up to the allowed skew)
            occurred = clock + rng.choice(
                [0, -rng.randint(0, 3_600_000_000), -rng.randint(0, 3 * 86_400_000_000), rng.randint(0, 3_600_000_000)]
            )
        occurred = max(occurred, to_us(T0) - 5 * 86_400_000_000)
        instants.append(occurred)
        clash = kind == "clash" and posted  # another event under an id already used (another kind, maybe)
        if kind == "clash":
            kind = rng.choice(["sale", "count", "purchase", "transfer", "void"])
        body: dict[str, Any] = {
            "event_id": rng.choice(posted)["event_id"] if clash else str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "store_id": store,
            "terminal_id": rng.choice(["t1", "t-2", "térm\t3 ☃"]),
            "occurred_at": _time(rng, occurred),
        }
        if rng.random() < 0.3:
            body["actor"] = rng.choice(["cashier 1", 'Zoë "Z" \u0001\\', "ادھار"])
        if rng.random() < 0.1:
            body["note"] = "re-counted"
        if kind == "void":
            body["type"] = "return"
            body["reason"] = "void"
            sales = [b for b in posted if b["type"] == "sale" and (b["store_id"] == store or rng.random() < 0.2)]
            others = [b for b in posted if b["type"] != "sale"]
            pick = rng.random()
            body["lines"] = _lines(rng, "sale")
            if sales and pick < 0.7:
                voided = rng.choice(sales[-6:])
                body["original_event_id"] = voided["event_id"]
                if rng.random() < 0.8:  # what a till sends: the sale's own lines
                    body["lines"] = voided["lines"]
            elif others and pick < 0.85:
                body["original_event_id"] = rng.choice(others)["event_id"]
            else:
                body["original_event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        else:
            body["type"] = kind
            body["lines"] = _lines(rng, kind)
        if kind == "purchase":
            body["supplier"] = rng.choice(["metro", 'Métro "cash"\n& carry'])
        if kind == "transfer":
            body["to_store_id"] = rng.choice([s for s in STORES if s != store])
        if kind == "return" and rng.random() < 0.5:
            body["reason"] = "customer_return"
            if posted and rng.random() < 0.5:
                body["original_event_id"] = rng.choice(posted)["event_id"]
        if kind == "adjustment":
            reason = rng.choice(["damage", "expiry", "theft", "own_use", "correction"])
            if rng.random() < 0.7:
                body["reason"] = reason
            for line in body["lines"]:
                if "reason" not in body or rng.random() < 0.3:
                    line["reason"] = rng.choice(["damage", "correction"])
                if (line.get("reason") or body.get("reason")) == "correction" and rng.random() < 0.5:
                    line["quantity"] = line["quantity"].lstrip("-")
        posted.append(body)
        emit(body, clock)
    # the transfer legs and the partitions interleave: an in leg may come a little later
    for i in range(len(log) - 1, 0, -1):
        if rng.random() < 0.1:
            j = min(len(log) - 1, i + rng.randint(1, 3))
            log.insert(j, log.pop(i))
    i = 0
    while i < len(log):
        n = rng.choice([1, 2, 3, 5, 8, 13])
        h.steps.append(("batch", log[i : i + n]))
        i += n
        r = rng.random()
        if r < 0.08:
            h.steps.append(("restart",))
        elif r < 0.14:
            h.steps.append(("forget",))
        elif r < 0.17:
            h.steps.append(("catalog", rng.getrandbits(32)))
    return h


def seeded_keys(rng: random.Random, legacy: bool) -> dict[str, bytes]:
    """Stock keys as an earlier release stored them (LAYOUT_2_TWO_LINES: no horizon, movements
    without receive times, sales by day in an object; with ``legacy`` now and then
    LAYOUT_1_ONE_ARRAY or LAYOUT_4_SPILLED, which the core leaves to the Python rules)."""
    out: dict[str, bytes] = {}
    for store in STORES:
        for sku in SKUS:
            if rng.random() > 0.3:
                continue
            state = StockState()
            if rng.random() < 0.7:
                state.count_at, state.count_id, state.count_qty = to_us(T0) - 86_400_000_000, str(uuid.UUID(int=rng.getrandbits(128))), 5000
                state.count_after = 5000
            for _ in range(rng.randint(0, 3)):
                at = to_us(T0) - rng.randint(1, 20) * 3_600_000_000
                if state.count_at is not None and at <= state.count_at:
                    continue
                delta = -rng.randint(1, 3000)
                state.moves[str(uuid.UUID(int=rng.getrandbits(128)))] = [at, delta, "0123456789abcdef", state.on_hand, 0][:4]
                state.moved += delta
            if rng.random() < 0.3:  # movements it folded by occurred_at (the horizon is folded_until + 1)
                state.base, state.folded_until = -rng.randint(1, 2000), to_us(T0) - 21 * 3_600_000_000
            state.oldest = min((m[0] for m in state.moves.values()), default=None)
            state.updated_at = to_us(T0) - 3_600_000_000
            if rng.random() < 0.5:
                day = T0.date().toordinal() - 1
                state.alerts.sales = {day: 1500}
                state.alerts.first_day = day
            header = codec._header(state)[:12]
            if rng.random() < 0.5:  # sales as an object, as the first releases wrote them
                header[9][1] = {str(d): n for d, n in state.alerts.sales.items()}
            r = rng.random()
            if legacy and r < 0.1:  # LAYOUT_1_ONE_ARRAY: the core leaves it to the Python rules
                value = orjson.dumps([*header[:9], state.moves, header[9], header[10], header[11]])
            elif legacy and r < 0.2:  # LAYOUT_4_SPILLED: each movement under a key of its own (the same)
                value = orjson.dumps([*header, len(state.moves)])
                for event_id, move in state.moves.items():
                    out[f"\x00{store}|{sku}|{event_id}"] = orjson.dumps(move)
            else:
                value = orjson.dumps(header) + b"\n" + orjson.dumps(state.moves)
            out[f"{store}|{sku}"] = value
    return out


# ---- running one history through both ----------------------------------------------------------


class FakeStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._dbs: dict[int, rocksdict.Rdict] = {}

    def _db_for_partition(self, partition: int) -> rocksdict.Rdict:
        if partition not in self._dbs:
            self._dbs[partition] = rocksdict.Rdict(str(self.root / f"p{partition}"), options=rocksdict.Options(raw_mode=True))
        return self._dbs[partition]

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()


class FakeTable:
    def __init__(self, root: Path) -> None:
        self.data = FakeStore(root)


@dataclass
class Census:
    """What the core did with the batches of the histories run."""

    batches: int = 0
    declined: Counter[str] = field(default_factory=Counter)  # reason -> batches
    events: int = 0
    records: int = 0
    writes: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # what the histories exercised (the Python rules' counts)
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)
    kinds: Counter[tuple[str, str]] = field(default_factory=Counter)
    voids: Counter[str] = field(default_factory=Counter)  # void verdicts
    core_voids: Counter[str] = field(default_factory=Counter)  # void verdicts in batches the core applied


class Divergence(AssertionError):
    pass


def _norm_reason(why: str) -> str:
    return why.split(":")[0][:80]


class Pair:
    """The Python worker and the core over one history."""

    def __init__(self, core_module: Any, h: History, root: Path, cat: CatalogCache, census: Census, core: bool = True) -> None:
        self.mod, self.h, self.cat, self.census = core_module, h, cat, census
        self.table = FakeTable(root)
        self.rocks: dict[int, dict[bytes, bytes]] = {0: {}, 1: {}}  # the core's RocksDB
        for key, value in h.seed_keys.items():
            p = PARTITION[key.lstrip("\x00").split("|")[0]]
            self.rocks[p][key.encode()] = value
            self.table.data._db_for_partition(p)[key.encode()] = value
        self.latest_us = to_us(datetime.now(UTC))
        self.start_python()
        if core:
            self.start_core()

    def start_python(self) -> None:
        self.states = BatchStates(self.table, cache_keys=self.h.py_cache_keys)
        self.sales = BatchSales(self.table, lambda: self.states.partition)
        self.applier = Applier(
            states=self.states,
            catalog=self.cat,
            window_days=self.h.window_days,
            velocity_days=self.h.velocity_days,
            ledger_topic=LEDGER,
            alerts_topic=ALERTS,
            sales=self.sales,
            void_window_days=self.h.void_window_days,
        )

    def start_core(self) -> None:
        h = self.h
        self.core = self.mod.Core(h.window_days, h.velocity_days, h.void_window_days, LEDGER, ALERTS, h.cache_keys)
        self.core.set_catalog(*core_catalog(self.cat))

    def step(self, step: tuple) -> None:
        if step[0] == "restart":  # a worker restarted from RocksDB (recovered from the changelog)
            self.start_python()
            self.start_core()
        elif step[0] == "forget":
            self.core.forget()
        elif step[0] == "catalog":
            random_catalog(random.Random(step[1]), self.cat)
            self.core.set_catalog(*core_catalog(self.cat))
        else:
            self.batch(step[1])

    def python_batch(self, batch: list[Message]) -> tuple[BatchOutput, list[tuple[int, bytes, bytes | None]], int, list]:
        out, dead = BatchOutput(), []
        for partition, offset, key, value, headers in batch:
            self.states.partition = partition
            try:
                self.applier.apply(out, partition, offset, key, value, headers_of(headers))
            except InvalidEvent as exc:
                dead.append((partition, offset, str(exc)))
        sent: list[tuple[int, bytes, bytes | None]] = []
        keys = self.states.flush(lambda p, k, v: sent.append((p, k, v)))
        self.sales.flush(lambda p, k, v: sent.append((p, k, v)))
        return out, sent, keys, dead

    def core_batch(self, batch: list[Message]) -> Any:
        wanted = self.core.prepare([(*m, None) for m in batch], self.latest_us)
        if isinstance(wanted, str):
            return wanted
        values, days = [], {}
        for partition, key, prefix in wanted:
            db = self.rocks[partition]
            value = db.get(key)
            values.append(value)
            if prefix is not None and value is None:
                days[prefix] = sorted(int(k[len(prefix) :]) for k in db if k.startswith(prefix))
        return self.core.run(values, days)

    def batch(self, batch: list[Message]) -> None:
        census = self.census
        census.batches += 1
        census.events += len(batch)
        got = self.core_batch(batch)
        out, sent, keys, dead = self.python_batch(batch)
        census.outcomes.update(out.outcomes)
        census.alerts.update(out.alerts)
        census.kinds.update(out.events)
        verdicts = [v for t, _, _, value in out.records if t == LEDGER for v in [orjson.loads(value).get("void")] if v]
        census.voids.update(verdicts)
        if isinstance(got, str):
            census.declined[_norm_reason(got)] += 1
        else:
            writes, records, events, outcomes, alerts, negative, flagged, core_keys = got
            census.records += len(records)
            census.core_voids.update(verdicts)
            census.writes += len(writes)
            _same("state writes (RocksDB and changelog)", _by_key(sent), _by_key(writes), batch)
            _same("records (topic, partition, key, value)", out.records, [tuple(r) for r in records], batch)
            _same("events", dict(out.events), {(t, leg): n for t, leg, n in events}, batch)
            _same("key outcomes", dict(out.outcomes), dict(outcomes), batch)
            _same("alerts", dict(out.alerts), {(t, k): n for t, k, n in alerts}, batch)
            _same("negative", out.negative, negative, batch)
            _same("flagged", sum(n for o, n in out.outcomes.items() if o in FLAGGED), flagged, batch)
            _same("keys written", keys, core_keys, batch)
            assert not dead, "the core applied a batch the Python rules dead-letter part of"
        for partition, key, value in sent:  # what the worker writes to the one RocksDB
            if value is None:
                self.rocks[partition].pop(key, None)
            else:
                self.rocks[partition][key] = value

    def check_stores(self) -> None:
        """Both RocksDBs hold the same keys and values at the end."""
        for p, mine in self.rocks.items():
            theirs = {bytes(k): bytes(v) for k, v in self.table.data._db_for_partition(p).items()}
            _same(f"RocksDB partition {p}", theirs, mine, [])


def _by_key(writes: list) -> dict[tuple[int, bytes], bytes | None]:
    out: dict[tuple[int, bytes], bytes | None] = {}
    for p, k, v in writes:
        assert (p, k) not in out, f"{k!r} written twice in one batch"
        out[(p, bytes(k))] = None if v is None else bytes(v)
    return out


def _same(what: str, python: Any, core: Any, batch: list[Message]) -> None:
    if python == core:
        return
    lines = [f"{what} differ", "batch:"]
    lines += [f"  p{m[0]}@{m[1]} key={m[2]!r} headers={m[4]!r} {m[3][:400]!r}" for m in batch]
    if isinstance(python, dict) and isinstance(core, dict):
        for k in sorted(set(python) | set(core), key=repr):
            if python.get(k) != core.get(k):
                lines += [f"  {k!r}:", f"    python {python.get(k)!r}", f"    core   {core.get(k)!r}"]
    elif isinstance(python, list) and isinstance(core, list):
        for i in range(max(len(python), len(core))):
            a = python[i] if i < len(python) else None
            b = core[i] if i < len(core) else None
            if a != b:
                lines += [f"  [{i}]", f"    python {a!r}", f"    core   {b!r}"]
    else:
        lines += [f"  python {python!r}", f"  core   {core!r}"]
    raise Divergence("\n".join(lines))


class Worker:
    """The stock agent as ``streams.checkpoint.Checkpoint`` runs a batch: the compiled core through
    ``streams.core.StreamCore`` first, the Python rules when it leaves the batch to them, over
    RocksDB (rocksdict) with both caches."""

    def __init__(self, core_module: Any, h: History, root: Path, cat: CatalogCache) -> None:
        self.mod, self.h, self.cat = core_module, h, cat
        self.table = FakeTable(root)
        self.settings = Settings(
            late_window_days=h.window_days,
            velocity_window_days=h.velocity_days,
            void_window_days=h.void_window_days,
            stream_cache_keys=h.cache_keys,
            stream_core="rust",
        )
        self.start()

    def start(self) -> None:
        h, settings = self.h, self.settings
        self.states = BatchStates(self.table, cache_keys=h.py_cache_keys)
        self.sales = BatchSales(self.table, lambda: self.states.partition)
        self.applier = Applier(
            self.states,
            self.cat,
            h.window_days,
            h.velocity_days,
            settings.ledger_topic,
            settings.alerts_topic,
            sales=self.sales,
            void_window_days=h.void_window_days,
        )
        self.core = StreamCore(self.mod, settings, self.states, self.sales, self.cat)

    def forget(self) -> None:  # Checkpoint.forget
        self.states.forget()
        self.core.forget()

    def batch(self, batch: list[Message]) -> tuple[list[Record], list[tuple[int, bytes, bytes | None]], bool]:
        """(records, changelog records, whether the core applied it)."""
        sent: list[tuple[int, bytes, bytes | None]] = []
        send = lambda p, k, v: sent.append((p, k, v))  # noqa: E731
        ran = self.core.run([(*m, None) for m in batch])
        if ran is not None:
            ran.flush(send)
            return list(ran.out.records), sent, True
        out = BatchOutput()
        for partition, offset, key, value, headers in batch:
            self.states.partition = partition
            try:
                self.applier.apply(out, partition, offset, key, value, headers_of(headers))
            except InvalidEvent:
                pass
        self.states.flush(send)
        self.sales.flush(send)
        return out.records, sent, False


def run_through_worker(core_module: Any, h: History, census: Census, catalog_seed: int) -> None:
    """A history through the Python rules alone and through the worker running the core
    (``Worker``): the same changelog and output records, batch by batch."""
    cat = catalog_cache()
    random_catalog(random.Random(catalog_seed), cat)
    with tempfile.TemporaryDirectory() as tmp:
        pair = Pair(core_module, h, Path(tmp) / "python", cat, census, core=False)
        worker = Worker(core_module, h, Path(tmp) / "worker", cat)
        for key, value in h.seed_keys.items():
            worker.table.data._db_for_partition(PARTITION[key.lstrip("\x00").split("|")[0]])[key.encode()] = value
        try:
            for step in h.steps:
                if step[0] == "restart":
                    pair.start_python()
                    worker.start()
                elif step[0] == "forget":
                    worker.forget()
                elif step[0] == "catalog":
                    random_catalog(random.Random(step[1]), cat)
                else:
                    census.batches += 1
                    out, sent, _, _ = pair.python_batch(step[1])
                    records, changelog, ran = worker.batch(step[1])
                    if not ran:
                        census.declined["left to the Python rules"] += 1
                    _same("changelog records", sent, changelog, step[1])
                    _same("records (topic, partition, key, value)", out.records, records, step[1])
        finally:
            pair.table.data.close()
            worker.table.data.close()


def run_history(core_module: Any, h: History, census: Census, catalog_seed: int) -> None:
    cat = catalog_cache()
    random_catalog(random.Random(catalog_seed), cat)
    with tempfile.TemporaryDirectory() as tmp:
        pair = Pair(core_module, h, Path(tmp), cat, census)
        try:
            for step in h.steps:
                pair.step(step)
            pair.check_stores()
        finally:
            pair.table.data.close()


def main(argv: list[str]) -> None:
    import logging

    import bazaar_batchcore

    logging.getLogger("bazaar").setLevel(logging.ERROR)  # (every flagged event logs a warning)

    histories = int(argv[1]) if len(argv) > 1 else 200
    longest = int(argv[2]) if len(argv) > 2 else 60
    first = int(argv[3]) if len(argv) > 3 else 0
    for ordinary in (True, False):
        census = Census()
        for seed in range(first, first + histories):
            rng = random.Random(seed)
            h = random_history(rng, rng.randint(5, longest), ordinary_only=ordinary)
            run_history(bazaar_batchcore, h, census, seed)
        label = "ordinary traffic (sales, purchases, returns, adjustments, counts, transfers, re-sends)" if ordinary else "everything"
        declined = sum(census.declined.values())
        print(f"{label}: {histories} histories, {census.batches} batches, {census.events} messages, {declined} declined")
        for why, n in census.declined.most_common():
            print(f"  {n:6d}  {why}")
        print(f"  events {dict(census.kinds)}")
        print(f"  key outcomes {dict(census.outcomes)}")
        print(f"  alerts {dict(census.alerts)}")
        print(f"  void verdicts {dict(census.voids)}, of them applied by the core {dict(census.core_voids)}")


if __name__ == "__main__":
    main(sys.argv)
