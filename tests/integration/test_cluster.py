"""The whole stack on a three-node cluster (replication 3, two in sync), two workers and two API
replicas: a seeded day gives every stock exactly; then the broker leading the most events
partitions is SIGKILLed while clients keep posting (retrying with the same event ids), restarted,
and every stock is exact again: nothing acknowledged lost, nothing counted twice. Then every API
replica answers alike: stock lookups (one sku and a store's list), alerts, the catalog and the
uncatalogued list, for a sample of stores, give the same JSON from each."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from bazaar.chaos import ClusterStack
from bazaar.load_client import RetryingClient
from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.cluster]


def day(seed: int, prefix: str, stores: int = 6) -> Generator:
    ids = [f"{prefix}-{i}" for i in range(stores)]
    return Generator(GenConfig(stores=stores, events_per_store_day=90, skus=30, seed=seed, store_ids=ids))


@pytest.mark.timeout(300)
def test_a_broker_killed_under_load_loses_and_doubles_nothing(tmp_path):
    stack = ClusterStack(tmp_path).start()
    events_topic = stack.settings.events_topic
    client = RetryingClient(stack.api_urls, stack.auth, give_up_s=90)
    figures: dict[str, object] = {**stack.timings}
    try:
        first = day(41, "before")
        client.post_all((wire_body(b) for b in first.events()), batch=25)
        checked, wrong = stack.wrong_stock(first, client.delivery.token)
        assert checked > 100 and wrong == {}, wrong
        figures["rss_mib_after_first_day"] = stack.jvm_rss_mib()

        second = day(42, "during")
        bodies = [wire_body(b) for b in second.events()]
        third = len(bodies) // 3
        client.post_all(bodies[:third], batch=25)
        victim = stack.busiest_node(events_topic)
        led = sum(1 for leader in stack.leaders(events_topic).values() if leader == victim.node.node_id)
        assert victim.pid is not None
        os.killpg(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        before = client.delivery.figures()
        client.post_all(bodies[third : 2 * third], batch=25)  # while the broker is down
        figures["failover_s"] = round(time.monotonic() - killed + stack.wait_led_elsewhere(victim.node.node_id, events_topic), 1)
        victim.restart()
        victim.wait_ready()
        client.post_all(bodies[2 * third :], batch=25)
        figures["in_sync_again_s"] = round(time.monotonic() - killed + stack.wait_in_sync(), 1)
        during = client.delivery.figures()

        assert client.delivery.acked_ids >= {b["event_id"] for b in bodies}
        for gen in (first, second):
            checked, wrong = stack.wrong_stock(gen, client.delivery.token)
            assert wrong == {}, f"{len(wrong)} of {checked} stocks wrong: {dict(list(wrong.items())[:10])}"
        figures["replicas_agree_s"] = replicas_answer_alike(stack, client, [first, second])
        check = stack.bazaar("topics", "--check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "as expected (replication factor 3, min.insync.replicas 2)" in check.stdout
        figures.update(
            killed_node=victim.node.node_id,
            events_partitions_it_led=led,
            client_while_down={k: during[k] - before[k] for k in ("http_503", "other_failures", "retries")},
            client_total=client.delivery.figures(),
            rss_mib_end=stack.jvm_rss_mib(),
        )
        print(json.dumps(figures))
    finally:
        client.close()
        stack.close()


# ---- every API replica answers alike ------------------------------------------------------------

PRODUCTS = {
    "cluster-rice": {"name": "Basmati rice", "names": {"ur": "باسمتی چاول"}, "unit": "kg", "price": "220.00", "reorder_point": "10"},
    "cluster-soap": {"name": "Lifebuoy soap", "unit": "piece", "packs": [{"unit": "carton", "size": "12"}], "price": "95.00"},
}
ODD_STORE = "replicas-0"  # unregistered, selling what the catalog does not know: negative stock, alerts


def alike(stack: ClusterStack, path: str, params: dict | None = None, timeout: float = 30.0) -> Any:
    """The JSON every API replica answers to GET ``path``, once they answer the same: lookups are
    the workers' (alike at once after a token); alerts, the catalog and the uncatalogued totals are
    each replica's own view of their topics, alike once each has read them."""
    assert stack.http is not None
    deadline = time.monotonic() + timeout
    while True:
        bodies = []
        for url in stack.api_urls:
            resp = stack.http.get(f"{url}{path}", params=params, timeout=60)
            assert resp.status_code == 200, (url, path, resp.status_code, resp.text[:500])
            bodies.append(resp.json())
        if all(body == bodies[0] for body in bodies[1:]):
            return bodies[0]
        assert time.monotonic() < deadline, f"GET {path} {params}: the replicas answer differently: {[str(b)[:800] for b in bodies]}"
        time.sleep(0.3)


def replicas_answer_alike(stack: ClusterStack, client: RetryingClient, days: list[Generator]) -> float:
    """Products put on one replica and a sale of unknown skus at an unregistered store, then the same
    answers from every replica for a sample of stores; the seconds until they all agreed."""
    assert stack.http is not None
    first_api = stack.api_urls[0]
    for sku, product in PRODUCTS.items():
        resp = stack.http.put(f"{first_api}/v1/products/{sku}", json=product)
        assert resp.status_code in (200, 201), resp.text
    sale = {
        "event_id": str(uuid.uuid4()),
        "type": "sale",
        "store_id": ODD_STORE,
        "terminal_id": "t1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "lines": [
            {"sku": "cluster-tea", "quantity": "2", "unit_price": "30.00"},
            {"sku": "cluster-rice", "quantity": "1", "unit_price": "220.00"},
        ],
    }
    client.post_all([sale])
    started, token = time.monotonic(), client.delivery.token
    after = {"after": token, "timeout_ms": 30_000}

    stores = [ODD_STORE, *(sorted(gen.stores)[i] for gen in days for i in (0, -1))]
    alerts = 0
    for store in stores:
        page = alike(stack, f"/v1/stores/{store}/stock", {**after, "limit": 1000})
        assert page["items"] and page["next_cursor"] is None, (store, page)  # (the sample's stores are small)
        for item in page["items"][:: max(1, len(page["items"]) // 3)]:
            assert alike(stack, f"/v1/stores/{store}/stock/{item['sku']}", after) == item
        assert (
            alike(stack, f"/v1/stores/{store}/stock", {**after, "limit": 5, "negative": "true"})["items"]
            == [i for i in page["items"] if i["negative"]][:5]
        )
        history = alike(stack, f"/v1/stores/{store}/alerts", {"state": "all", "limit": 1000})
        active = alike(stack, f"/v1/stores/{store}/alerts", {"state": "active"})
        assert {a["alert_id"] for a in active["items"]} <= {a["alert_id"] for a in history["items"]}
        alerts += len(history["items"])
    odd = alike(stack, f"/v1/stores/{ODD_STORE}/alerts", {"state": "all", "limit": 1000})
    assert {(a["sku"], a["kind"]) for a in odd["items"]} >= {("cluster-tea", "negative_stock"), ("cluster-tea", "out_of_stock")}, odd
    assert alerts >= 2

    catalog = alike(stack, "/v1/products", {"limit": 500})
    assert {p["sku"] for p in catalog["items"]} == set(PRODUCTS)
    assert [p["sku"] for p in alike(stack, "/v1/products", {"q": "چاول"})["items"]] == ["cluster-rice"]
    assert alike(stack, "/v1/products/cluster-soap")["packs"] == PRODUCTS["cluster-soap"]["packs"]

    listed = alike(stack, "/v1/catalog/uncatalogued")
    by_store = {s["store_id"]: s for s in listed["stores"]}
    assert set(by_store) >= set(stores)  # no store of the load is registered
    assert [k["sku"] for k in by_store[ODD_STORE]["unknown_skus"]] == ["cluster-tea"]  # the rice is catalogued
    assert listed["counts"]["products"] == len(PRODUCTS)
    return round(time.monotonic() - started, 1)
