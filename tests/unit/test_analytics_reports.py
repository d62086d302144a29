"""Every report's SQL on embedded chDB against the plain-Python model, with the ledger written by
the stream's own rules, sunk through the real Sink in odd-sized batches and half of it replayed."""

from __future__ import annotations

import asyncio
import json

import pytest

from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from clickhouse import formats, reports
from clickhouse.migrate import migrate
from clickhouse.rows import (
    LEDGER_COLUMNS,
    PRODUCT_COLUMNS,
    STORE_COLUMNS,
    STORE_PRODUCT_COLUMNS,
    ledger_rows,
    product_rows,
    store_product_rows,
    store_rows,
)
from clickhouse.sink import Sink, TableSpec
from tests.analytics_checks import catalog_for, check_reports, replay_ledger, with_voids
from tests.analytics_model import Model
from tests.chdb_databases import fresh_database

pytestmark = pytest.mark.unit

CATALOG = {
    "stores": (STORE_COLUMNS, store_rows),
    "products": (PRODUCT_COLUMNS, product_rows),
    "store_products": (STORE_PRODUCT_COLUMNS, store_product_rows),
}


async def sink_all(db, table: str, columns, convert, messages, batch: int, stamps_token: bool = False) -> list[tuple[int, int]]:
    """Feed (partition, offset, raw) messages through a Sink; the positions acked, in order."""
    acked: list[tuple[int, int]] = []
    sink = Sink(db, TableSpec(table, tuple(columns), convert, stamps_token), max_batch=batch, max_wait_s=60)

    def ack(p: int, o: int):
        async def _ack():
            acked.append((p, o))

        return _ack

    for partition, offset, raw in messages:
        if sink.add(partition, offset, raw, ack(partition, offset)):
            await sink.flush()
    await sink.flush()
    return acked


def load(db, gen: Generator) -> tuple[Model, list[dict]]:
    bodies = with_voids([wire_body(b) for b in gen.events()])
    catalog, records = catalog_for(gen)
    for kind, (columns, convert) in CATALOG.items():
        msgs = [(0, i, json.dumps(value).encode()) for i, (k, _, value) in enumerate(records) if k == kind]
        asyncio.run(sink_all(db, kind, columns, convert, msgs, batch=100))
    entries, first = replay_ledger(bodies)
    acked = asyncio.run(sink_all(db, "ledger", LEDGER_COLUMNS, ledger_rows, entries, batch=37, stamps_token=True))
    assert acked == [(p, o) for p, o, _ in entries]  # every message acked, in order, after its insert
    # a replay from Kafka after a crash: half of the topic inserted again in other batches
    asyncio.run(sink_all(db, "ledger", LEDGER_COLUMNS, ledger_rows, entries[: len(entries) // 2], batch=50, stamps_token=True))
    changed = sum(1 for row in first.values() if row["changed"])
    assert db.query("SELECT count() FROM stock_changes").result_rows[0][0] == changed  # first entries only
    return Model(bodies, catalog), bodies


@pytest.fixture(scope="module")
def loaded():
    db = fresh_database()
    migrate(db)
    db.command("SYSTEM STOP MERGES ledger")  # keep the copies apart: the views must be exact before merges
    gen = Generator(GenConfig(stores=4, terminals_per_store=2, skus=25, days=3, events_per_store_day=40, seed=7, resend_share=0.05))
    model, bodies = load(db, gen)
    return db, model, gen


def ask_in_process(db):
    def ask(name: str, **params) -> dict:
        rep = reports.get(name)
        table = reports.run(db, rep, reports.resolve(rep, {k: str(v) for k, v in params.items()}))
        return json.loads(formats.to_json(table))

    return ask


def test_every_report_matches_the_python_model(loaded):
    db, model, gen = loaded
    stored = db.query("SELECT count() FROM ledger").result_rows[0][0]
    distinct = db.query("SELECT count() FROM ledger_first").result_rows[0][0]
    assert distinct == len(model.rows)
    assert stored > distinct  # the copies are there, and the views ignore them
    assert check_reports(ask_in_process(db), model, gen.stores[:3]) > 50


def test_stock_as_of_now_is_the_stream_value(loaded):
    from domain.events import LEG_IN, LEG_OUT, needs_in_leg
    from domain.voids import MemoryBook, apply_recorded
    from schemas.events import EventAdapter

    db, model, gen = loaded
    states: dict = {}
    book = MemoryBook()  # the generator's history and the voids after it, through the stream's rules
    for body in model.bodies:
        ev = EventAdapter.validate_python(body)
        apply_recorded(states, book, ev)
        if needs_in_leg(ev, LEG_OUT):
            apply_recorded(states, book, ev, leg=LEG_IN)
    expected = {k: s.on_hand for k, s in states.items()}
    ask = ask_in_process(db)
    for store in gen.stores:
        body = ask("stock_as_of", store_id=store, at="2299-12-31T00:00:00Z")
        got = {r["sku"]: r["on_hand"] for r in body["rows"]}
        want = {k.split("|")[1]: v for k, v in expected.items() if k.startswith(store + "|")}
        from domain.quantities import milli_str

        assert got == {sku: milli_str(v) for sku, v in want.items()}, store


@pytest.mark.parametrize(
    "kind, text",
    [
        ("date", "0001-01-02"),
        ("date", "9999-12-31"),
        ("date", "1969-12-31"),
        ("time", "9999-12-31T23:59:59-23:59"),
        ("time", "0001-01-01T00:00:00+23:59"),
    ],
)
def test_dates_outside_what_clickhouse_holds_are_a_bad_parameter_not_an_error(kind, text):
    from clickhouse.errors import BadParameter

    param = reports.Param("to", kind, "a bound")
    with pytest.raises(BadParameter):
        param.parse(text)
    assert reports.Param("to", kind, "a bound").parse("2026-12-04" if kind == "date" else "2026-12-04T10:00:00+05:00")


def test_a_scope_answers_its_stores_only(loaded):
    """``scope`` (what a store-scoped caller asking for every store gets): the rows of those stores,
    as the report over every store has them; an aggregate over stores counts those stores alone."""
    db, _model, gen = loaded
    ask = ask_in_process(db)
    two, one = gen.stores[:2], gen.stores[2]
    at = "2299-12-31T00:00:00Z"
    for rep in reports.REPORTS.values():
        names = {p.name for p in rep.params}
        if "scope" not in names:
            assert "store_id" in names and next(p for p in rep.params if p.name == "store_id").required, rep.name
            continue
        # a fixed `to` as well: a default of now() moves between the two asks (an ongoing stock-out's duration)
        kinds = {p.name: p.kind for p in rep.params}
        extra = {name: at for name in ("at", "to") if name in names and kinds[name] != "date"}
        every = ask(rep.name, **extra)["rows"]
        scoped = ask(rep.name, scope=",".join(two), **extra)
        assert scoped["params"]["scope"] == two
        if rep.name == "top_sellers":
            assert {r["sku"] for r in scoped["rows"]} and scoped["rows"] != every
            only = ask(rep.name, scope=one, **extra)["rows"]
            assert only == ask(rep.name, store_id=one, **extra)["rows"]
            continue
        assert every and {r["store_id"] for r in every} > set(two), rep.name  # the check below can fail
        assert scoped["rows"] == [r for r in every if r["store_id"] in two], rep.name


def test_last_suppliers_is_each_products_latest_purchase_naming_one():
    """The reorder list's supplier when the catalog names none: plain Python over the bodies (the
    first copy of each event, latest by occurred_at then event id) agrees."""
    from datetime import datetime

    db = fresh_database()
    migrate(db)
    gen = Generator(GenConfig(stores=2, terminals_per_store=1, skus=12, days=4, events_per_store_day=30, seed=11, resend_share=0.1))
    _model, bodies = load(db, gen)
    latest: dict[tuple[str, str], tuple] = {}
    seen = set()
    for b in bodies:
        if b["event_id"] in seen or b["type"] != "purchase" or not b.get("supplier"):
            seen.add(b["event_id"])
            continue
        seen.add(b["event_id"])
        at = datetime.fromisoformat(b["occurred_at"])
        for line in b["lines"]:
            key = (b["store_id"], line["sku"])
            latest[key] = max(latest.get(key, (at, "", "")), (at, b["event_id"], b["supplier"]))
    ask = ask_in_process(db)
    store = gen.stores[0]
    got = {r["sku"]: r["supplier"] for r in ask("last_suppliers", store_id=store)["rows"]}
    assert got and got == {sku: v[2] for (s, sku), v in latest.items() if s == store}
