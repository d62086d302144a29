"""Analytics end to end: a generated multi-store history posted to the API goes through the real
broker and stock worker onto the ledger topic, into `bazaar analytics` (embedded chDB), and every
report is checked against plain Python over the same event bodies, to the last unit and paisa.

One stack for the module (starting processes is the slow part on 2 cores). Its set-up already
SIGKILLs the analytics process mid-history and restarts it; later tests replay the whole ledger
into it again and switch ClickHouse off for a while.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from bazaar_core.settings import Settings
from domain.quantities import milli_str
from tests.analytics_checks import catalog_for, check_reports, replay_ledger
from tests.analytics_model import Catalog, Model, from_us
from tests.authclient import make_key
from tests.conftest import stack_settings
from tests.integration.analytics_harness import Analytics
from tests.integration.harness import Running
from tests.integration.kafka_read import produce_json

pytestmark = pytest.mark.integration

TOPICS = {"stores": "stores_topic", "products": "products_topic", "store_products": "store_products_topic"}


@dataclass
class Stack:
    settings: Settings
    running: Running
    analytics: Analytics
    catalog: Catalog
    gen: Generator
    bodies: list[dict]
    fault: Path

    def model(self) -> Model:
        return Model(self.bodies, self.catalog)

    def post(self, bodies: list[dict], batch: int = 100) -> None:
        for i in range(0, len(bodies), batch):
            resp = self.running.post({"events": bodies[i : i + batch]})
            assert resp.status_code == 202, resp.text
        self.bodies.extend(bodies)

    def revive_worker(self) -> None:
        """Restart the stock worker if it died: it replays from its last commit, as under `bazaar up`.
        (A fresh worker can crash on its first event when the broker is slow to show it the new
        changelog topic: PartitionsMismatch; not what these tests are about.)"""
        port = self.settings.worker_port
        if not self.running.workers[port].alive:
            self.running.restart_worker(port)

    def settle(self) -> None:
        """Until the worker applied everything posted."""
        stores = sorted({b["store_id"] for b in self.bodies} | {b.get("to_store_id") for b in self.bodies} - {None})
        for attempt in range(3):
            self.revive_worker()
            try:
                for store in stores:
                    self.running.store_stock(store)
                return
            except AssertionError:
                if attempt == 2:
                    raise
                time.sleep(2)

    def ask_api(self, name: str, **params) -> dict:
        resp = self.running.http.get(f"/v1/reports/{name}", params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()


def _settings(kafka_bootstrap: str, base: Path) -> Settings:
    return stack_settings(
        kafka_bootstrap,
        base,
        "analytics",
        analytics_batch_max=40,
        analytics_batch_seconds=0.2,
        clickhouse_fault_file=str(base / "clickhouse-down"),
    )


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, tmp_path_factory):
    base = tmp_path_factory.mktemp("analytics")
    settings = _settings(kafka_bootstrap, base)
    gen = Generator(GenConfig(stores=5, terminals_per_store=2, skus=30, days=3, events_per_store_day=45, seed=21, resend_share=0.04))
    catalog, records = catalog_for(gen)
    running = Running(settings, [settings.worker_port])  # creates the topics
    for kind, key, value in records:  # the catalog first: the API and worker read it at start-up
        produce_json(settings.kafka_bootstrap, getattr(settings, TOPICS[kind]), key, value)
    running.start()
    analytics = Analytics(running).start()
    s = Stack(settings, running, analytics, catalog, gen, [], Path(settings.clickhouse_fault_file))
    try:
        bodies = [wire_body(b) for b in gen.events()]
        half = len(bodies) // 2
        s.post(bodies[:half])
        deadline = time.monotonic() + 60
        while analytics.status()["ledger"]["distinct"] == 0:  # SIGKILL as soon as part of it is in
            assert time.monotonic() < deadline, analytics.log_tail()
            s.revive_worker()
            time.sleep(0.05)
        analytics.kill()
        s.post(bodies[half:])
        s.settle()
        analytics.start()
        analytics.wait_rows(len(s.model().rows), timeout=90)
        yield s
    finally:
        analytics.close()
        running.close()


def test_every_report_matches_plain_python_after_a_sigkill_mid_history(stack):
    model = stack.model()
    status = stack.analytics.status()
    assert status["ledger"]["distinct"] == len(model.rows)
    assert status["ledger"]["rows"] >= status["ledger"]["distinct"]
    assert check_reports(stack.ask_api, model, stack.gen.stores[:3], instants=2) > 50

    # an owner's view of one store, and every report exports as CSV
    store = stack.gen.stores[1]
    owner = stack.running.http.get(f"/v1/stores/{store}/reports/stock_as_of", params={"store_id": "someone-else"})
    assert owner.status_code == 200 and owner.json()["params"]["store_id"] == store
    assert {r["sku"]: r["on_hand"] for r in owner.json()["rows"]} == {
        sku: milli_str(v) for key, v in stack.gen.expected().items() for s, sku in [key.split("|")] if s == store
    }
    for name in ("daily_sales", "top_sellers", "stock_outs", "stock_as_of", "movement_history"):
        params = {"sku": stack.gen.products[0].sku} if name == "movement_history" else {}
        csv = stack.running.http.get(f"/v1/stores/{store}/reports/{name}", params={**params, "format": "csv"})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv"), csv.text
        assert csv.text.splitlines()[0] == ",".join(c["name"] for c in stack.ask_api(name, store_id=store, **params)["columns"])
    assert stack.running.http.get("/v1/reports/nope").status_code == 404
    bad = stack.running.http.get("/v1/reports/slow_movers", params={"days": "0"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "days"


def test_as_of_stock_equals_the_stock_table_at_that_moment(stack):
    model = stack.model()
    # now: the stock table (the worker's lookups) and the ledger agree on every key
    for store in stack.gen.stores:
        table = {sku: item["on_hand"] for sku, item in stack.running.store_stock(store).items()}
        as_of = {r["sku"]: r["on_hand"] for r in stack.ask_api("stock_as_of", store_id=store, at="2299-12-31T00:00:00Z")["rows"]}
        assert as_of == table, store
    # in the past: right after the worker applied an event, its stock table held the ledger's
    # on_hand_after; when what it had applied by then is exactly what had occurred by then (no
    # late event still to come), the as-of stock at that instant must be that value
    checked = 0
    for store in stack.gen.stores[:3]:
        for _, sku in model.keys(store)[:5]:
            stream = {r["event_id"]: r for r in stack.ask_api("movement_history", store_id=store, sku=sku)["rows"]}
            arrivals = model.by_arrival[(store, sku)]
            applied: set[str] = set()
            for i, row in enumerate(arrivals):
                applied.add(row.event_id)
                if i % 4 or applied != {r.event_id for r in arrivals if r.at <= row.at}:
                    continue
                rows = stack.ask_api("stock_as_of", store_id=store, at=from_us(row.at).isoformat())["rows"]
                got = next(r["on_hand"] for r in rows if r["sku"] == sku)
                assert Decimal(got) == Decimal(stream[row.event_id]["on_hand_after"]), (store, sku, from_us(row.at))
                checked += 1
    assert checked >= 15
    # and those figures are the stream's rules applied in arrival order
    _, first = replay_ledger(stack.bodies)
    store, sku = model.keys(stack.gen.stores[0])[0]
    for r in stack.ask_api("movement_history", store_id=store, sku=sku)["rows"]:
        figures = first[(r["event_id"], store, sku)]
        assert (r["on_hand_before"], r["on_hand_after"], r["outcome"]) == (
            figures["on_hand_before"],
            figures["on_hand_after"],
            figures["outcome"],
        )


def _reports(stack: Stack) -> dict[str, dict]:
    out = {}
    for name in ("daily_sales", "top_sellers", "stock_outs", "stock_valuation", "days_of_cover", "low_stock", "slow_movers"):
        params = {"from": "2000-01-01", "to": "2100-01-01"} if name in ("daily_sales", "top_sellers") else {}
        if name == "stock_outs":
            params = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
        if name in ("stock_valuation", "days_of_cover", "low_stock", "slow_movers"):
            params = {"at": "2100-01-01T00:00:00Z"}
        out[name] = stack.ask_api(name, **params)["rows"]
    for store in stack.gen.stores:
        out[f"as_of {store}"] = stack.ask_api("stock_as_of", store_id=store, at="2100-01-01T00:00:00Z")["rows"]
    return out


def _reset_group(settings: Settings, timeout: float = 45.0) -> None:
    """Rewind the analytics consumer group to the start of the ledger (once its dead member expired)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    group = f"{settings.topic_prefix}-analytics"
    tps = [TopicPartition(settings.ledger_topic, p, 0) for p in range(settings.partitions)]
    deadline = time.monotonic() + timeout
    while True:
        try:
            done = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, tps)])[group].result()
            errors = [tp.error for tp in done.topic_partitions if tp.error]
        except KafkaException as exc:
            errors = [exc]
        if not errors:
            return
        assert time.monotonic() < deadline, errors  # the killed member is still in the group
        time.sleep(1)


def test_sigkill_then_full_replay_from_kafka_changes_no_report(stack):
    before = _reports(stack)
    distinct = stack.analytics.status()["ledger"]["distinct"]
    stack.analytics.kill()
    _reset_group(stack.settings)  # the restarted sink reads the whole ledger again: every row a second time
    stack.analytics.start()
    deadline = time.monotonic() + 60
    while True:
        status = stack.analytics.status()
        offsets = status["feeds"]["ledger"]["next_offsets"]
        if status["feeds"]["ledger"]["backlog"] == 0 and offsets and sum(offsets.values()) >= _ledger_size(stack.settings):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    time.sleep(0.5)
    assert stack.analytics.metric("bazaar_analytics_inserted_rows_total") >= distinct  # every row went in once more
    assert stack.analytics.status()["ledger"]["distinct"] == distinct
    assert _reports(stack) == before


def _ledger_size(settings: Settings) -> int:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "size-probe"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(settings.ledger_topic, p), timeout=10)[1] for p in range(settings.partitions)
        )
    finally:
        consumer.close()


def test_clickhouse_down_for_a_while_backlog_grows_then_everything_arrives(stack):
    a = stack.analytics
    distinct = a.status()["ledger"]["distinct"]
    failures = a.metric("bazaar_analytics_insert_failures_total")
    stack.fault.touch()  # inserts fail from now on, as if ClickHouse were unreachable
    try:
        more = Generator(GenConfig(stores=3, terminals_per_store=1, skus=30, days=1, events_per_store_day=40, seed=77, opening_count=False))
        new = [wire_body(b) for b in more.events()]
        stack.post(new)
        stack.settle()  # stock processing goes on regardless
        legs = len(new) + sum(1 for b in new if b["type"] == "transfer")

        def backlog_reaches(n: int) -> None:  # every new ledger entry waits: consumed-not-inserted + lag
            deadline, backlog = time.monotonic() + 30, 0
            while backlog < n:
                assert time.monotonic() < deadline, f"backlog {backlog} < {n}: {a.status()}"
                time.sleep(0.5)
                backlog = a.metric("bazaar_analytics_backlog")

        backlog_reaches(legs)
        assert a.status()["ledger"]["distinct"] == distinct
        assert a.metric("bazaar_analytics_insert_failures_total") > failures
        health = a.http.get("/health").json()
        assert health["status"] == "degraded" and health["backlog"]["ledger"] >= legs
        # the fault file is a transient failure: waited out, never dead-lettered
        assert health["clickhouse"] == "unreachable" and health["dead_lettered"] == {}, health
        assert any(m.startswith("clickhouse unreachable: inserts into ledger fail") for m in health["problems"]), health
        a.stop()  # a clean stop (SIGTERM) during the outage commits nothing it did not insert
        assert a.child.proc.returncode == 0, "analytics did not stop cleanly within 20 s"
        a.start()
        backlog_reaches(legs)
        assert a.status()["ledger"]["distinct"] == distinct
    finally:
        stack.fault.unlink(missing_ok=True)
    model = stack.model()
    a.wait_rows(len(model.rows), timeout=60)
    deadline = time.monotonic() + 10
    while a.metric("bazaar_analytics_backlog") != 0:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    stores = stack.gen.stores[:3]
    assert check_reports(stack.ask_api, model, stores[:1], instants=1) > 10
    for store in stores:
        got = {r["sku"]: r["on_hand"] for r in stack.ask_api("stock_as_of", store_id=store, at="2299-12-31T00:00:00Z")["rows"]}
        assert got == {sku: item["on_hand"] for sku, item in stack.running.store_stock(store).items()}


def test_bazaar_report_prints_tables_csv_and_json(stack):
    env = {**stack.running.env, "BAZAAR_ANALYTICS_URL": stack.analytics.url}
    store = stack.gen.stores[0]

    def report(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "bazaar.cli", "report", *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    table = report("stock_as_of", "--store", store)
    assert table.splitlines()[0].startswith("stock_as_of") and re.search(r"\(\d+ rows\)", table)
    csv = report("daily_sales", "--store", store, "--from", "2000-01-01", "--to", "2100-01-01", "--format", "csv")
    header = "store_id,day,timezone,bills,units,revenue,cogs,gross_margin,uncosted_lines,voids,returns,refunds,net_revenue"
    assert csv.splitlines()[0] == header
    assert len(csv.splitlines()) > 2
    assert '"report": "top_sellers"' in report("top_sellers", "--format", "json", "--from", "2000-01-01", "--to", "2100-01-01")
    assert "movement_history" in report("--list")
    assert stack.analytics.http.get("/metrics").text.count("bazaar_analytics_backlog") > 0
    assert httpx.get(f"{stack.analytics.url}/metrics").status_code == 401  # not without a token (ops:read)
    # a store-scoped key asking for every store gets its own: the CLI as an analyst of one store
    analyst = {**env, "BAZAAR_API_KEY": make_key(stack.running.settings, "analyst", [store])}
    done = subprocess.run(
        [sys.executable, "-m", "bazaar.cli", "report", "daily_sales", "--from", "2000-01-01", "--to", "2100-01-01", "--format", "json"],
        env=analyst,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert rows and {r["store_id"] for r in rows} == {store}


def test_a_wrong_sale_voided_is_undone_to_the_paisa_once_and_flagged_when_unmatched(stack):
    """A cashier records a sale by mistake and voids it: the stock is back, the day's sales are back
    to the paisa with voids=1; a second void of it changes nothing; a void of an unknown sale raises
    the void_unmatched alert; the voids report names who did each. Bounds refuse fat fingers."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from bazaar_core.client_auth import KeyAuth
    from domain import tokens

    store, sku, price = "void-shop", stack.gen.products[0].sku, "45.50"
    cashier = httpx.Client(
        base_url=stack.running.api_url, timeout=60, auth=KeyAuth(stack.running.api_url, make_key(stack.settings, "cashier", [store]))
    )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    day = start.date().isoformat()

    def event(kind: str, minutes: int, quantity: str, **extra) -> dict:
        line = {"sku": sku, "quantity": quantity, **({"unit_cost": "40"} if kind == "purchase" else {"unit_price": price})}
        body = {"event_id": str(uuid.uuid4()), "type": kind, "store_id": store, "terminal_id": "t1"}
        return {**body, "occurred_at": (start + timedelta(minutes=minutes)).isoformat(), "lines": [line], **extra}

    def post(client: httpx.Client, *bodies: dict) -> None:
        resp = client.post("/v1/events", json={"events": list(bodies)})
        assert resp.status_code == 202, resp.text
        for p, o in tokens.decode(resp.json()["token"]).items():
            tokens.merge(stack.running.offsets, p, o)
        stack.bodies.extend(bodies)

    def sales_today() -> dict:
        stack.settle()
        stack.analytics.wait_rows(len(stack.model().rows), timeout=60)
        [row] = stack.running.http.get(f"/v1/stores/{store}/reports/daily_sales", params={"from": day, "to": day}).json()["rows"]
        return row

    good, wrong = event("sale", 1, "2"), event("sale", 2, "999")
    post(stack.running.http, event("purchase", 0, "10", supplier="metro"))  # (a manager's; a cashier may not)
    post(cashier, good)
    before = sales_today()
    assert (before["bills"], Decimal(before["revenue"]), before["voids"]) == (1, Decimal("91"), 0)
    post(cashier, wrong)
    assert stack.running.store_stock(store)[sku]["on_hand"] == "-991"
    first = event("return", 3, "999", reason="void", original_event_id=wrong["event_id"])
    post(cashier, first)
    assert stack.running.store_stock(store)[sku]["on_hand"] == "8"
    after = sales_today()
    figures = [after[c] for c in ("bills", "units", "revenue", "net_revenue", "voids", "returns", "refunds")]
    assert [Decimal(str(f)) for f in figures] == [1, 2, Decimal("91"), Decimal("91"), 1, 0, 0], after

    # voiding it again changes nothing; a void of a sale nobody sent is flagged with an alert
    post(cashier, event("return", 4, "999", reason="void", original_event_id=wrong["event_id"]))
    stranger = event("return", 5, "1", reason="void", original_event_id=str(uuid.uuid4()))
    post(cashier, stranger)
    assert stack.running.store_stock(store)[sku]["on_hand"] == "8"
    assert sales_today() == after
    deadline = time.monotonic() + 20
    while True:
        alerts = stack.running.http.get(f"/v1/stores/{store}/alerts").json()["items"]
        unmatched = [a for a in alerts if a["kind"] == "void_unmatched"]
        if unmatched or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(a["event_id"], a["reason"], a["original_event_id"]) for a in unmatched] == [
        (stranger["event_id"], "unknown_sale", stranger["original_event_id"])
    ]

    voids = stack.running.http.get(f"/v1/stores/{store}/reports/voids", params={"date": day}).json()["rows"]
    assert [(v["original_event_id"], v["applied"], v["verdict"], Decimal(v["amount"]), v["items"]) for v in voids] == [
        (wrong["event_id"], True, "applied", Decimal("45454.5"), 1),
        (wrong["event_id"], False, "already_voided", Decimal("45454.5"), 1),
        (stranger["original_event_id"], False, "unknown_sale", Decimal("45.5"), 1),
    ]
    assert all(v["actor"].startswith("test cashier (") for v in voids), voids

    # fat fingers: 422 naming the field, nothing recorded
    for body, field in [
        (event("sale", 6, "1000001"), "lines[0].quantity"),
        ({**event("sale", 6, "1"), "lines": [{"sku": sku, "quantity": "1", "unit_price": "10000000.01"}]}, "lines[0].unit_price"),
        (event("return", 6, "1", reason="void"), "original_event_id"),
    ]:
        resp = cashier.post("/v1/events", json=body)
        assert resp.status_code == 422 and [d["field"] for d in resp.json()["detail"]] == [field], resp.text
    cashier.close()
