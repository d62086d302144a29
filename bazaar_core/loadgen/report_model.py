"""Every report computed in plain Python from the event bodies a client posted: the independent check
of the ClickHouse SQL, by the analytics tests and by `bazaar chaos` after each fault. Integers
throughout (milli-units, paisa, 1e-5 rupees for exact amounts); nothing here imports the analytics
code or the stream's rules.

The definitions mirror docs/analytics.md ("Definitions"):
* an event counts once (its first copy); a transfer is a row at each store;
* stock at T = the latest count by (occurred_at, event_id) at or before T + the movements after it;
* moving-average cost of a sale = Σ amount / Σ quantity of the store's purchases of the sku with
  occurred_at <= the sale's; else the catalog cost; cogs per line rounded half up to the paisa;
* a store's day is its local day (catalog time zone, UTC without one).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

UTC = UTC
DAY_US = 86_400 * 1_000_000


def milli(text: object) -> int:
    d = Decimal(str(text)) * 1000
    assert d == d.to_integral_value(), text
    return int(d)


def paisa(text: object) -> int:
    d = Decimal(str(text)) * 100
    assert d == d.to_integral_value(), text
    return int(d)


def us(ts: datetime | str) -> int:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def q(milli_units: int) -> Decimal:
    return Decimal(milli_units) / 1000


def money_p(paisa_units: int) -> Decimal:
    return Decimal(paisa_units) / 100


def money_x(amount_1e5: int) -> Decimal:
    return Decimal(amount_1e5) / 100_000


def half_up(num: int, den: int) -> int:
    assert num >= 0 and den > 0
    return (2 * num + den) // (2 * den)


@dataclass(frozen=True)
class Row:
    store: str
    sku: str
    event_id: str
    type: str
    qty: int  # milli: signed movement, or the counted quantity
    amount: int | None  # 1e-5 rupees, exact
    at: int  # occurred_at, microseconds UTC (an applied void's: its sale's)
    other: str | None = None
    reason: str | None = None  # a return's: customer_return or void
    original: str | None = None  # the sale a return names
    verdict: str | None = None  # a void's: applied or its flag
    own_at: int | None = None  # a void's own occurred_at
    actor: str | None = None

    @property
    def is_count(self) -> bool:
        return self.type == "count"

    def order(self) -> tuple:
        return (self.at, self.is_count, self.event_id)


@dataclass
class Catalog:
    zones: dict[str, str] = field(default_factory=dict)  # store -> IANA zone
    costs: dict[str, int] = field(default_factory=dict)  # sku -> catalog cost in paisa
    names: dict[str, str] = field(default_factory=dict)
    reorder: dict[str, int] = field(default_factory=dict)  # sku -> reorder point, milli
    overrides: dict[tuple[str, str], dict] = field(default_factory=dict)  # (store, sku) -> {"reorder_point": milli, "active": bool}

    def zone(self, store: str) -> ZoneInfo:
        return ZoneInfo(self.zones.get(store, "UTC"))

    def local_day(self, store: str, at: int) -> date:
        return from_us(at).astimezone(self.zone(store)).date()


def ledger_rows(bodies: list[dict]) -> list[Row]:
    """One row per (event, store, sku) of the first copy of every event. A void of a sale of its
    store seen before it and not voided yet gives back the sale's quantities at the sale's time;
    any other void is recorded with quantity 0 (already_voided, not_a_sale or unknown_sale)."""
    seen, rows = set(), []
    sales: dict[str, tuple[dict, dict[str, int]]] = {}  # sale id -> (body, sku -> milli taken)
    voided: set[str] = set()
    kinds: dict[str, tuple[str, str]] = {}  # event id -> (store, type)
    for body in bodies:
        eid = body["event_id"]
        if eid in seen:
            continue
        seen.add(eid)
        kind, store, at = body["type"], body["store_id"], us(body["occurred_at"])
        qty: dict[str, int] = defaultdict(int)
        amount: dict[str, int] = {}
        for line in body["lines"]:
            n = milli(line["quantity"])
            qty[line["sku"]] += -n if kind in ("sale", "transfer") else n
            price = line.get("unit_price") if kind in ("sale", "return") else line.get("unit_cost") if kind == "purchase" else None
            if price is not None:
                amount[line["sku"]] = amount.get(line["sku"], 0) + n * paisa(price)
        kinds[eid] = (store, kind)
        actor = body.get("actor")
        if kind == "return":
            reason, original = body.get("reason") or "customer_return", body.get("original_event_id")
            if reason == "void":
                sale = sales.get(original) if original is not None else None
                if sale is not None and original is not None and sale[0]["store_id"] == store and original not in voided:
                    voided.add(original)
                    sale_at = us(sale[0]["occurred_at"])
                    for sku, n in sale[1].items():
                        rows.append(Row(store, sku, eid, kind, n, amount.get(sku), sale_at, None, reason, original, "applied", at, actor))
                else:
                    verdict = (
                        "already_voided"
                        if original in voided and sale is not None and sale[0]["store_id"] == store
                        else "not_a_sale"
                        if kinds.get(original or "", ("", ""))[0] == store
                        else "unknown_sale"
                    )
                    for sku in qty:
                        rows.append(Row(store, sku, eid, kind, 0, amount.get(sku), at, None, reason, original, verdict, at, actor))
                continue
            for sku, n in qty.items():
                rows.append(Row(store, sku, eid, kind, n, amount.get(sku), at, None, reason, original, actor=actor))
            continue
        if kind == "sale":
            sales[eid] = (body, {sku: -n for sku, n in qty.items()})
        for sku, n in qty.items():
            rows.append(Row(store, sku, eid, kind, n, amount.get(sku), at, body.get("to_store_id"), actor=actor))
            if kind == "transfer":
                rows.append(Row(body["to_store_id"], sku, eid, kind, -n, None, at, store, actor=actor))
    return rows


class Model:
    def __init__(self, bodies: list[dict], catalog: Catalog) -> None:
        self.bodies = bodies
        self.rows = ledger_rows(bodies)
        self.catalog = catalog
        self.by_arrival: dict[tuple[str, str], list[Row]] = defaultdict(list)  # in the order the bodies came
        for r in self.rows:
            self.by_arrival[(r.store, r.sku)].append(r)
        self.by_key = {k: sorted(rows, key=Row.order) for k, rows in self.by_arrival.items()}  # by occurred_at
        self.voided = {(r.store, r.original) for r in self.rows if r.verdict == "applied"}

    def keys(self, store: str = "") -> list[tuple[str, str]]:
        return sorted(k for k in self.by_key if not store or k[0] == store)

    # ---- stock ---------------------------------------------------------------------------------

    def stock_at(self, store: str, sku: str, at: int) -> dict | None:
        rows = [r for r in self.by_key[(store, sku)] if r.at <= at]
        if not rows:
            return None
        counts = [r for r in rows if r.is_count]
        last = max(counts, key=lambda r: (r.at, r.event_id)) if counts else None
        moves = [r for r in rows if not r.is_count and (last is None or r.at > last.at)]
        sales = [r.at for r in rows if r.type == "sale"]
        bought = [r for r in rows if r.type == "purchase" and r.amount is not None]
        return {
            "on_hand": (last.qty if last else 0) + sum(r.qty for r in moves),
            "last_count_at": last.at if last else None,
            "last_count_quantity": last.qty if last else None,
            "movements_after_count": len(moves),
            "last_event_at": max(r.at for r in rows),
            "last_sale_at": max(sales) if sales else None,
            "bought_milli": sum(r.qty for r in bought),
            "bought_value": sum(r.amount for r in bought),
        }

    def stock_table(self, store: str, at: int) -> dict[tuple[str, str], dict]:
        out = {}
        for s, sku in self.keys(store):
            state = self.stock_at(s, sku, at)
            if state is not None:
                out[(s, sku)] = state
        return out

    def timeline(self, store: str, sku: str) -> list[tuple[Row, int]]:
        level, out = 0, []
        for r in self.by_key[(store, sku)]:
            level = r.qty if r.is_count else level + r.qty
            out.append((r, level))
        return out

    # ---- costs ---------------------------------------------------------------------------------

    def cogs(self, sale: Row) -> int | None:
        units = -sale.qty
        bought = [r for r in self.by_key[(sale.store, sale.sku)] if r.type == "purchase" and r.amount is not None and r.at <= sale.at]
        qty, value = sum(r.qty for r in bought), sum(r.amount or 0 for r in bought)
        if qty > 0:
            return half_up(units * value, qty * 1000)
        cost = self.catalog.costs.get(sale.sku)
        return None if cost is None else half_up(units * cost, 1000)

    def _in(self, r: Row, store: str, first: date, last: date) -> bool:
        return (not store or r.store == store) and first <= self.catalog.local_day(r.store, r.at) <= last

    def sales(self, store: str, first: date, last: date, voided: bool = False) -> list[Row]:
        """Sale rows of the days (those a void undid instead, with ``voided``)."""
        return [
            r
            for r in self.rows
            if r.type == "sale" and ((r.store, r.event_id) in self.voided) == voided and self._in(r, store, first, last)
        ]

    def customer_returns(self, store: str, first: date, last: date) -> list[Row]:
        return [r for r in self.rows if r.type == "return" and r.reason == "customer_return" and self._in(r, store, first, last)]

    # ---- reports -------------------------------------------------------------------------------

    def daily_sales(self, store: str, first: date, last: date) -> list[dict]:
        groups: dict[tuple, dict[str, list[Row]]] = defaultdict(lambda: {"sale": [], "void": [], "return": []})
        for kind, rows in (
            ("sale", self.sales(store, first, last)),
            ("void", self.sales(store, first, last, voided=True)),
            ("return", self.customer_returns(store, first, last)),
        ):
            for r in rows:
                groups[(self.catalog.local_day(r.store, r.at), r.store)][kind].append(r)
        out = []
        for (day, s), by_kind in sorted(groups.items()):
            rows, returns = by_kind["sale"], by_kind["return"]
            costs = [self.cogs(r) for r in rows]
            revenue = sum(r.amount or 0 for r in rows)
            refunds = sum(r.amount or 0 for r in returns)
            cogs = None if None in costs else sum(c or 0 for c in costs)
            out.append(
                {
                    "store_id": s,
                    "day": day.isoformat(),
                    "timezone": self.catalog.zones.get(s, "UTC"),
                    "bills": len({r.event_id for r in rows}),
                    "units": q(-sum(r.qty for r in rows)),
                    "revenue": money_x(revenue),
                    "cogs": None if cogs is None else money_p(cogs),
                    "gross_margin": None if cogs is None else money_x(revenue) - money_p(cogs),
                    "uncosted_lines": costs.count(None),
                    "voids": len({r.event_id for r in by_kind["void"]}),
                    "returns": len({r.event_id for r in returns}),
                    "refunds": money_x(refunds),
                    "net_revenue": money_x(revenue - refunds),
                }
            )
        return out

    def top_sellers(self, store: str, first: date, last: date, limit: int) -> list[dict]:
        groups: dict[str, list[Row]] = defaultdict(list)
        back: dict[str, list[Row]] = defaultdict(list)
        for r in self.sales(store, first, last):
            groups[r.sku].append(r)
        for r in self.customer_returns(store, first, last):
            back[r.sku].append(r)
        out: list[dict[str, Any]] = []
        for sku in set(groups) | set(back):
            rows = groups[sku]
            costs = [self.cogs(r) for r in rows]
            revenue = sum(r.amount or 0 for r in rows)
            refunds = sum(r.amount or 0 for r in back[sku])
            out.append(
                {
                    "sku": sku,
                    "name": self.catalog.names.get(sku),
                    "units": q(-sum(r.qty for r in rows)),
                    "revenue": money_x(revenue),
                    "bills": len({r.event_id for r in rows}),
                    "stores": len({r.store for r in rows}),
                    "gross_margin": None if None in costs else money_x(revenue) - money_p(sum(c or 0 for c in costs)),
                    "returned_units": q(sum(r.qty for r in back[sku])),
                    "refunds": money_x(refunds),
                    "net_revenue": money_x(revenue - refunds),
                }
            )
        out.sort(key=lambda d: (-d["net_revenue"], -d["units"], d["sku"]))
        return out[:limit]

    def voids(self, store: str, day: date) -> list[dict]:
        """The store's voids of a local day (by their own occurred_at), in that order."""
        by_void: dict[str, list[Row]] = defaultdict(list)
        for r in self.rows:
            if (
                r.type == "return"
                and r.reason == "void"
                and r.store == store
                and self.catalog.local_day(store, r.at if r.own_at is None else r.own_at) == day
            ):
                by_void[r.event_id].append(r)
        sale_rows: dict[str, list[Row]] = defaultdict(list)
        for r in self.rows:
            if r.type == "sale" and r.store == store:
                sale_rows[r.event_id].append(r)
        out = []
        for eid, rows in by_void.items():
            first = rows[0]
            applied = first.verdict == "applied"
            source = sale_rows[first.original or ""] if applied else rows
            out.append(
                {
                    "void_event_id": eid,
                    "original_event_id": first.original,
                    "voided_at": first.own_at,
                    "actor": first.actor,
                    "applied": applied,
                    "verdict": first.verdict,
                    "amount": money_x(sum(r.amount or 0 for r in source)),
                    "items": len(source),
                }
            )
        out.sort(key=lambda d: (d["voided_at"], d["void_event_id"]))
        return out

    def stock_as_of(self, store: str, at: int) -> list[dict]:
        return [
            {
                "sku": sku,
                "name": self.catalog.names.get(sku),
                "on_hand": q(st["on_hand"]),
                "last_count_at": st["last_count_at"],
                "last_count_quantity": None if st["last_count_quantity"] is None else q(st["last_count_quantity"]),
                "movements_after_count": st["movements_after_count"],
                "last_event_at": st["last_event_at"],
            }
            for (_, sku), st in sorted(self.stock_table(store, at).items())
        ]

    def slow_movers(self, store: str, at: int, days: int) -> list[dict]:
        out = []
        for (s, sku), st in self.stock_table(store, at).items():
            last = st["last_sale_at"]
            if st["on_hand"] > 0 and (last is None or last <= at - days * DAY_US):
                out.append(
                    {
                        "store_id": s,
                        "sku": sku,
                        "name": self.catalog.names.get(sku),
                        "on_hand": q(st["on_hand"]),
                        "last_sale_at": last,
                        "days_since_sale": None if last is None else (at - last) // DAY_US,
                    }
                )
        out.sort(key=lambda d: (d["last_sale_at"] is not None, d["last_sale_at"] or 0, d["store_id"], d["sku"]))
        return out

    def stock_valuation(self, store: str, at: int) -> list[dict]:
        out = []
        for (s, sku), st in sorted(self.stock_table(store, at).items()):
            on_hand, qty, value = st["on_hand"], st["bought_milli"], st["bought_value"]
            cost = self.catalog.costs.get(sku)
            worth: int | None
            if qty > 0:
                source, unit_cost = "purchases", half_up(value, qty)
                worth = 0 if on_hand <= 0 else half_up(on_hand * value, qty * 1000)
            elif cost is not None:
                source, unit_cost = "catalog", cost
                worth = 0 if on_hand <= 0 else half_up(on_hand * cost, 1000)
            else:
                source, unit_cost, worth = None, None, (0 if on_hand <= 0 else None)
            out.append(
                {
                    "store_id": s,
                    "sku": sku,
                    "name": self.catalog.names.get(sku),
                    "on_hand": q(on_hand),
                    "cost_source": source,
                    "unit_cost": None if unit_cost is None else money_p(unit_cost),
                    "value": None if worth is None else money_p(worth),
                }
            )
        return out

    def stock_valuation_by_store(self, store: str, at: int) -> list[dict]:
        groups: dict[str, list[dict]] = defaultdict(list)
        for row in self.stock_valuation(store, at):
            groups[row["store_id"]].append(row)
        return [
            {
                "store_id": s,
                "skus_in_stock": sum(1 for r in rows if r["on_hand"] > 0),
                "units_on_hand": sum((r["on_hand"] for r in rows if r["on_hand"] > 0), Decimal(0)),
                "value": sum((r["value"] for r in rows if r["value"] is not None), Decimal(0)),
                "unvalued_skus": sum(1 for r in rows if r["value"] is None),
            }
            for s, rows in sorted(groups.items())
        ]

    def stock_outs(self, store: str, start: int, end: int) -> list[dict]:
        out = []
        for s, sku in self.keys(store):
            periods: list[list[Any]] = []
            current: list[Any] | None = None
            for r, level in self.timeline(s, sku):
                if level <= 0 and current is None:
                    current = [r.at, None, level]
                    periods.append(current)
                elif level <= 0 and current is not None:
                    current[2] = min(current[2], level)
                elif current is not None:
                    current[1], current = r.at, None
            for began, ended, lowest in periods:
                if ended == began or began >= end or (ended is not None and ended <= start):
                    continue
                out.append(
                    {
                        "store_id": s,
                        "sku": sku,
                        "name": self.catalog.names.get(sku),
                        "started_at": began,
                        "ended_at": ended,
                        "ongoing": ended is None,
                        "duration_s": ((ended if ended is not None else end) - began) // 1_000_000,
                        "lowest_on_hand": q(lowest),
                    }
                )
        out.sort(key=lambda d: (d["started_at"], d["store_id"], d["sku"]))
        return out

    def days_of_cover(self, store: str, at: int, days: int) -> list[dict]:
        out = []
        for (s, sku), st in self.stock_table(store, at).items():
            sold = -sum(r.qty for r in self.by_key[(s, sku)] if r.type == "sale" and at - days * DAY_US < r.at <= at)
            on_hand = st["on_hand"]
            cover = 0 if on_hand <= 0 else None if sold == 0 else (on_hand * days * 100) // sold
            out.append(
                {
                    "store_id": s,
                    "sku": sku,
                    "name": self.catalog.names.get(sku),
                    "on_hand": q(on_hand),
                    "sold_units": q(sold),
                    "window_days": days,
                    "avg_daily_units": q(sold // days),
                    "days_of_cover": None if cover is None else money_p(cover),
                }
            )
        out.sort(key=lambda d: (d["days_of_cover"] is None, d["days_of_cover"] or 0, d["store_id"], d["sku"]))
        return out

    def low_stock(self, store: str, at: int, threshold: int) -> list[dict]:
        out = []
        for (s, sku), st in self.stock_table(store, at).items():
            override = self.catalog.overrides.get((s, sku), {})
            point = override.get("reorder_point", self.catalog.reorder.get(sku, threshold))
            active = override.get("active", True)
            if st["on_hand"] <= point and active:
                out.append(
                    {"store_id": s, "sku": sku, "name": self.catalog.names.get(sku), "on_hand": q(st["on_hand"]), "reorder_point": q(point)}
                )
        out.sort(key=lambda d: (d["on_hand"], d["store_id"], d["sku"]))
        return out

    def movement_history(self, store: str, sku: str) -> list[dict]:
        return [
            {
                "occurred_at": r.at,
                "event_id": r.event_id,
                "type": r.type,
                "quantity": q(r.qty),
                "amount": None if r.amount is None else money_x(r.amount),
                "level_after": q(level),
            }
            for r, level in self.timeline(store, sku)
        ]


# ---- comparing a report with the model ------------------------------------------------------


def _norm(value: Any, like: Any) -> Any:
    """A report's JSON value in the model's terms (Decimal, microseconds, str, ...)."""
    if value is None:
        return None
    if isinstance(like, Decimal):
        return Decimal(value)
    if isinstance(like, int) and not isinstance(like, bool) and isinstance(value, str) and "T" in value:
        return us(value)
    if isinstance(like, int) and not isinstance(like, bool) and isinstance(value, str):
        return int(value)
    return value


def difference(body: dict, expected: list[dict], label: str) -> str | None:
    """None when the report's rows equal the model's, in order, on every column the model computes;
    else what differs first."""
    got = body["rows"]
    if len(got) != len(expected):
        return f"{label}: {len(got)} rows, expected {len(expected)}\n got {got[:5]}\n want {expected[:5]}"
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        for col, want in e.items():
            like = want
            if want is None:  # pick the kind from another row of the model
                like = next((r[col] for r in expected if r[col] is not None), None)
            if _norm(g[col], like) != want:
                return f"{label}: row {i} column {col}: {g[col]!r} != {want!r}\n row {g}\n want {e}"
    return None
