"""A seeded, realistic day (or days) of kiryana POS traffic.

N stores with several terminals each; baskets of 1-8 lines with skewed sku popularity; loose
goods sold by weight (exact grams); purchases, returns, adjustments, counts and transfers;
offline terminals that sync their events in a late burst; and re-sends after timeouts.

The generator keeps its own expected stock, computed from the invariant with plain integer
arithmetic (latest count + movements after it), independent of the stream code it checks.
"""

from __future__ import annotations

import random
import uuid
from bisect import bisect
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from itertools import accumulate

TZ = timezone(timedelta(hours=5))  # the demo stores keep Pakistan time


@dataclass(frozen=True)
class Product:
    sku: str
    loose: bool  # sold by weight, in kg with gram precision
    price_cents: int
    cost_cents: int
    supplier: str | None = None


@dataclass
class GenConfig:
    stores: int = 100
    terminals_per_store: int = 2
    skus: int = 200
    days: int = 1
    events_per_store_day: int = 200
    seed: int = 42
    offline_share: float = 0.15  # share of terminal-days that spend a few hours offline
    resend_share: float = 0.02  # share of events re-sent after a (simulated) timeout
    transfers: bool = True
    opening_count: bool = True  # each store counts its shelves before the first day opens
    start: datetime | None = None  # default: 08:00 local, `days` days before today (inside the late window)
    catalog: list[Product] | None = None  # the products to sell (most popular first); default: `skus` made-up ones
    store_ids: list[str] | None = None  # default: store-00000, store-00001, ...


@dataclass
class _Pending:
    emit_at: int  # microseconds, when the event reaches the server
    seq: int
    body: dict


@dataclass
class Generator:
    config: GenConfig
    products: list[Product] = field(init=False)
    _counts: dict[str, tuple] = field(init=False, default_factory=dict)
    _moves: dict[str, list] = field(init=False, default_factory=lambda: defaultdict(list))
    emitted: int = field(init=False, default=0)
    unique: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.config.start is None:
            today = datetime.now(TZ).replace(hour=8, minute=0, second=0, microsecond=0)
            self.config.start = today - timedelta(days=self.config.days)
        self.rng = random.Random(self.config.seed)
        rng = self.rng
        self.products = list(self.config.catalog or [])
        for i in range(0 if self.products else self.config.skus):
            loose = rng.random() < 0.25
            price = rng.randint(20, 400) * 50 if loose else rng.randint(10, 900) * 5
            self.products.append(Product(f"sku-{i:05d}", loose, price, price * rng.randint(70, 90) // 100))
        weights = [1 / (rank + 1) ** 1.1 for rank in range(len(self.products))]  # Zipf-like popularity
        self._cum = list(accumulate(weights))
        self.stores = list(self.config.store_ids or [f"store-{i:05d}" for i in range(self.config.stores)])

    # ---- the stream of events, in arrival order ----------------------------------------------

    def events(self) -> Iterator[dict]:
        """Every event body (JSON-ready, decimals as strings) in the order terminals deliver them."""
        pending: list[_Pending] = []
        seq = 0
        for day in range(self.config.days):
            for body, emit_at in self._day(day):
                pending.append(_Pending(emit_at, seq, body))
                seq += 1
        pending.sort(key=lambda p: (p.emit_at, p.seq))
        for p in pending:
            self.emitted += 1
            yield p.body

    def _opening(self, store: str, at: datetime) -> dict:
        """A stock count of the store's assortment, a week's sales or so of each product."""
        eid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        lines = []
        for p in self.products[:200]:
            qty = self.rng.randint(5, 60) * 1000 if p.loose else self.rng.randint(6, 120) * 1000
            lines.append({"sku": p.sku, "quantity": _q(qty)})
            self._record_count(f"{store}|{p.sku}", _us(at), eid, qty)
        return {
            "event_id": eid,
            "type": "count",
            "store_id": store,
            "terminal_id": f"{store}-t0",
            "occurred_at": at.isoformat(),
            "lines": lines,
        }

    def _day(self, day: int) -> Iterator[tuple[dict, int]]:
        cfg, rng = self.config, self.rng
        assert cfg.start is not None  # set in __init__
        day_start = cfg.start + timedelta(days=day)
        open_us = 14 * 3600 * 1_000_000  # 08:00 to 22:00
        for store in self.stores:
            if day == 0 and cfg.opening_count:
                at = day_start - timedelta(minutes=30)
                body = self._opening(store, at)
                body["received_at_hint"] = _us(at) + 100_000
                self.unique += 1
                yield body, _us(at) + 100_000
            offline = {}
            for t in range(cfg.terminals_per_store):
                if rng.random() < cfg.offline_share:
                    begin = rng.randint(0, open_us // 2)
                    offline[t] = (begin, begin + rng.randint(1, 4) * 3600 * 1_000_000)
            offsets = sorted(rng.sample(range(open_us), cfg.events_per_store_day))
            for off in offsets:
                terminal = rng.randrange(cfg.terminals_per_store)
                at = day_start + timedelta(microseconds=off)
                body = self._event(store, f"{store}-t{terminal}", at)
                emit = _us(at) + rng.randint(50_000, 400_000)
                window = offline.get(terminal)
                if window and window[0] <= off < window[1]:
                    emit = _us(day_start) + window[1] + rng.randint(0, 600) * 1_000_000  # synced late, in a burst
                body["received_at_hint"] = emit  # dropped before sending; lets tests stamp received_at
                self.unique += 1
                yield body, emit
                if rng.random() < cfg.resend_share:
                    yield body, emit + rng.randint(1, 30) * 1_000_000

    def _event(self, store: str, terminal: str, at: datetime) -> dict:
        rng = self.rng
        r = rng.random()
        eid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        base = {"event_id": eid, "store_id": store, "terminal_id": terminal, "occurred_at": at.isoformat()}
        at_us = _us(at)
        if r < 0.84:
            lines = [self._line(p, self._sale_qty(p), "unit_price", p.price_cents) for p in self._basket()]
            self._record_moves(store, at_us, lines, -1)
            return {**base, "type": "sale", "lines": lines}
        if r < 0.90:
            lines = [self._line(p, self._purchase_qty(p), "unit_cost", p.cost_cents) for p in self._basket(10)]
            self._record_moves(store, at_us, lines, +1)
            supplier = rng.choice(["Metro", "Unilever", "Nestle", "local mandi"])
            return {**base, "type": "purchase", "supplier": lines and self._supplier(lines[0]["sku"]) or supplier, "lines": lines}
        if r < 0.92:
            lines = [self._line(p, self._sale_qty(p)) for p in self._basket(2)]
            self._record_moves(store, at_us, lines, +1)
            return {**base, "type": "return", "lines": lines}
        if r < 0.95:
            reason = rng.choice(["damage", "expiry", "theft", "own_use", "correction"])
            lines = []
            for p in self._basket(3):
                q = self._sale_qty(p)
                sign = rng.choice([1, -1]) if reason == "correction" else -1
                lines.append({"sku": p.sku, "quantity": _q(sign * q)})
            self._record_moves(store, at_us, lines, +1)
            return {**base, "type": "adjustment", "reason": reason, "lines": lines}
        if r < 0.98 or not self.config.transfers or len(self.stores) < 2:
            lines = []
            for p in self._basket(6):
                key = f"{store}|{p.sku}"
                found = max(0, self._expected_at(key) + rng.choice([0, 0, 0, -1000, 1000]))
                lines.append({"sku": p.sku, "quantity": _q(found)})
                self._record_count(key, at_us, eid, found)
            return {**base, "type": "count", "lines": lines}
        to = rng.choice(
            [s for s in (rng.choice(self.stores) for _ in range(3)) if s != store]
            or [self.stores[(self.stores.index(store) + 1) % len(self.stores)]]
        )
        lines = [self._line(p, self._purchase_qty(p) // 4 or 1000) for p in self._basket(3)]
        self._record_moves(store, at_us, lines, -1)
        self._record_moves(to, at_us, lines, +1)
        return {**base, "type": "transfer", "to_store_id": to, "lines": lines}

    def _supplier(self, sku: str) -> str | None:
        return next((p.supplier for p in self.products if p.sku == sku), None)

    def _basket(self, most: int = 8) -> list[Product]:
        n = self.rng.randint(1, most)
        total = self._cum[-1]
        picked = {bisect(self._cum, self.rng.random() * total) for _ in range(n)}  # distinct lines
        return [self.products[i] for i in sorted(picked)]

    def _sale_qty(self, p: Product) -> int:
        if p.loose:
            return self.rng.choice([125, 250, 500, 750, 1000, 1500, 2000, self.rng.randint(1, 3000)])
        return self.rng.choice([1000, 1000, 1000, 2000, 3000, 6000])

    def _purchase_qty(self, p: Product) -> int:
        return self.rng.randint(5, 25) * 1000 if p.loose else self.rng.choice([12, 24, 36, 48]) * 1000

    @staticmethod
    def _line(p: Product, qty: int, money_field: str | None = None, cents: int = 0) -> dict:
        line = {"sku": p.sku, "quantity": _q(qty)}
        if money_field:
            line[money_field] = f"{cents // 100}.{cents % 100:02d}"
        return line

    # ---- expected stock: the invariant, in plain integers ------------------------------------

    def _record_moves(self, store: str, at_us: int, lines: list[dict], sign: int) -> None:
        for line in lines:
            self._moves[f"{store}|{line['sku']}"].append((at_us, sign * _milli(line["quantity"])))

    def _record_count(self, key: str, at_us: int, eid: str, qty: int) -> None:
        current = self._counts.get(key)
        if current is None or (at_us, eid) > current[:2]:
            self._counts[key] = (at_us, eid, qty)

    def _expected_at(self, key: str) -> int:
        count = self._counts.get(key)
        since = count[0] if count else None
        return (count[2] if count else 0) + sum(d for at, d in self._moves[key] if since is None or at > since)

    def expected(self) -> dict[str, int]:
        """key "store|sku" -> on-hand in milli-units, for every key any event touched."""
        return {key: self._expected_at(key) for key in set(self._moves) | set(self._counts)}


def _us(ts: datetime) -> int:
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _q(milli: int) -> str:
    sign = "-" if milli < 0 else ""
    whole, frac = divmod(abs(milli), 1000)
    return f"{sign}{whole}.{frac:03d}".rstrip("0").rstrip(".") if frac else f"{sign}{whole}"


def _milli(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    return sign * (int(whole) * 1000 + int((frac + "000")[:3]))


def wire_body(body: dict, received_at: datetime | None = None) -> dict:
    """The event as a terminal posts it (the generator's bookkeeping hint removed)."""
    out = {k: v for k, v in body.items() if k != "received_at_hint"}
    if received_at is not None:
        out["received_at"] = received_at.isoformat()
    return out
