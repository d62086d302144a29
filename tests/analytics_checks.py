"""Shared by the unit and integration tests of analytics: a catalog for a generated history, the
stream's ledger replayed in memory, and every report compared with ``tests.analytics_model``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from bazaar_core.loadgen.generator import Generator
from bazaar_core.loadgen.report_model import Catalog, Model, difference, from_us, milli, paisa

Ask = Callable[..., dict]  # ask(report_name, **params) -> the report's JSON body

ZONES = ["Asia/Karachi", "Pacific/Auckland", "America/New_York"]  # the first stores; the rest have no catalog entry (UTC)


def catalog_for(gen: Generator) -> tuple[Catalog, list[tuple[str, str, dict]]]:
    """The catalog the tests publish, as the model sees it and as records (kind, key, value)."""
    cat, records = Catalog(), []
    for i, store in enumerate(gen.stores[: len(ZONES)]):
        cat.zones[store] = ZONES[i]
        records.append(("stores", store, {"store_id": store, "name": f"Store {i}", "timezone": ZONES[i]}))
    for i, p in enumerate(gen.products):
        value: dict[str, Any] = {
            "sku": p.sku,
            "name": f"Product {i}",
            "unit": "kg" if p.loose else "piece",
            "price": f"{p.price_cents // 100}.{p.price_cents % 100:02d}",
        }
        cat.names[p.sku] = value["name"]
        if i < len(gen.products) - 1:  # the least popular has no catalog cost: a margin needs a purchase of it
            value["cost"] = f"{p.cost_cents // 100}.{p.cost_cents % 100:02d}"
            cat.costs[p.sku] = paisa(value["cost"])
        if i % 3 == 0:
            value["reorder_point"] = "10"
            cat.reorder[p.sku] = 10_000
        records.append(("products", p.sku, value))
    overrides = [(gen.stores[0], gen.products[1].sku, {"reorder_point": "50"}), (gen.stores[1], gen.products[2].sku, {"active": False})]
    for store, sku, fields in overrides:
        records.append(("store_products", f"{store}|{sku}", {"store_id": store, "sku": sku, **fields}))
        cat.overrides[(store, sku)] = {k: (milli(v) if k == "reorder_point" else v) for k, v in fields.items()}
    return cat, records


def replay_ledger(bodies: list[dict], partitions: int = 8) -> tuple[list[tuple[int, int, bytes]], dict]:
    """The ledger topic the stock agent writes for these bodies in this order, from the stream's own
    rules: [(partition, offset, entry JSON)], and the first figures per (event, store, sku)."""
    import orjson

    from domain import tokens
    from domain.events import LEG_IN, LEG_OUT, needs_in_leg
    from domain.ledger import ledger_entry
    from domain.voids import MemoryBook, apply_recorded
    from schemas.events import EventAdapter

    states: dict = {}
    book = MemoryBook()  # one worker's sale book: a void is judged by it
    offsets: dict[int, int] = defaultdict(int)
    out, first = [], {}
    for body in bodies:
        ev = EventAdapter.validate_python(body)
        legs = [LEG_OUT] + ([LEG_IN] if needs_in_leg(ev, LEG_OUT) else [])
        for leg in legs:
            applied, verdict = apply_recorded(states, book, ev, leg=leg)
            entry = ledger_entry(ev, leg, applied, verdict=verdict)
            if entry is None:
                continue
            partition = tokens.partition_for(entry["store_id"].encode(), partitions)
            out.append((partition, offsets[partition], orjson.dumps(entry)))
            offsets[partition] += 1
            for row in entry["rows"]:
                first.setdefault((entry["event_id"], entry["store_id"], row["sku"]), row)
    return out, first


def with_voids(bodies: list[dict]) -> list[dict]:
    """The bodies and, at the end, what a shopkeeper undoes: voids of a few sales (one voided twice),
    a void of a sale never sent, one naming a purchase, and priced customer returns of a sale."""
    import uuid
    from datetime import datetime, timedelta

    sales = [b for b in bodies if b["type"] == "sale"][:: max(1, len([b for b in bodies if b["type"] == "sale"]) // 5)][:5]
    bought = next(b for b in bodies if b["type"] == "purchase")
    out = list(bodies)

    def later(body: dict, minutes: int) -> str:
        return (datetime.fromisoformat(body["occurred_at"]) + timedelta(minutes=minutes)).isoformat()

    def undo(body: dict, original: str, reason: str, minutes: int, lines: list[dict] | None = None) -> dict:
        lines = lines if lines is not None else body["lines"]
        return {
            "event_id": str(uuid.uuid4()),
            "type": "return",
            "store_id": body["store_id"],
            "terminal_id": body["terminal_id"],
            "occurred_at": later(body, minutes),
            "actor": f"cashier-{minutes}",
            "reason": reason,
            "original_event_id": original,
            "lines": [{k: v for k, v in line.items() if k in ("sku", "quantity", "unit_price")} for line in lines],
        }

    for i, sale in enumerate(sales):
        out.append(undo(sale, sale["event_id"], "void", 3 + i))
    if sales:
        out.append(undo(sales[0], sales[0]["event_id"], "void", 9))  # twice: counts once
        out.append(undo(sales[0], str(uuid.uuid4()), "void", 11))  # a sale never sent
        out.append(undo(sales[-1], sales[-1]["event_id"], "customer_return", 13, sales[-1]["lines"][:1]))
    out.append(undo(bought, bought["event_id"], "void", 15, [{**line, "unit_price": "1"} for line in bought["lines"]]))
    return out


# ---- comparing ------------------------------------------------------------------------------


def compare(body: dict, expected: list[dict], label: str) -> None:
    """The report's rows equal the model's, in order, on every column the model computes."""
    differs = difference(body, expected, label)
    assert differs is None, differs


def local_days(model: Model) -> list[date]:
    days = sorted({model.catalog.local_day(r.store, r.at) for r in model.rows})
    return days


def check_reports(ask: Ask, model: Model, stores: list[str], instants: int = 3) -> int:
    """Every report, for all stores and each store, as of a few instants, against the model; how
    many reports compared."""
    days = local_days(model)
    first, last = days[0] - timedelta(days=1), days[-1] + timedelta(days=1)
    end = max(r.at for r in model.rows)
    begin = min(r.at for r in model.rows)
    ats = [end + 1_000_000, begin + 2 * (end - begin) // 3, begin + (end - begin) // 3][:instants]
    checked = 0

    def check(name: str, expected: list[dict], **params) -> None:
        nonlocal checked
        compare(ask(name, **params), expected, f"{name} {params}")
        checked += 1

    iso = lambda t: from_us(t).isoformat()  # noqa: E731
    for store in ["", *stores]:
        check("daily_sales", model.daily_sales(store, first, last), store_id=store, **{"from": first.isoformat(), "to": last.isoformat()})
        check(
            "top_sellers",
            model.top_sellers(store, first, last, 7),
            store_id=store,
            limit=7,
            **{"from": first.isoformat(), "to": last.isoformat()},
        )
        check("stock_outs", model.stock_outs(store, begin, end), store_id=store, **{"from": iso(begin), "to": iso(end)})
        for at in ats:
            check("stock_valuation", model.stock_valuation(store, at), store_id=store, at=iso(at))
            check("stock_valuation_by_store", model.stock_valuation_by_store(store, at), store_id=store, at=iso(at))
            check("slow_movers", model.slow_movers(store, at, 1), store_id=store, at=iso(at), days=1)
            check("days_of_cover", model.days_of_cover(store, at, 2), store_id=store, at=iso(at), days=2)
            check("low_stock", model.low_stock(store, at, 2000), store_id=store, at=iso(at), threshold="2")
    for store in stores:
        for day in days[:2]:
            check("daily_sales", model.daily_sales(store, day, day), store_id=store, **{"from": day.isoformat(), "to": day.isoformat()})
        for day in days:
            check("voids", model.voids(store, day), store_id=store, date=day.isoformat())
        for at in ats:
            check("stock_as_of", model.stock_as_of(store, at), store_id=store, at=iso(at))
        for _, sku in model.keys(store)[:4]:
            check("movement_history", model.movement_history(store, sku), store_id=store, sku=sku)
    return checked
