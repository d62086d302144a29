"""`bazaar repartition` on the session broker: a deployment moved to more partitions.

* The copy's rules on raw topics: every changelog record of store s on ``store_partition(s, N)``,
  each key's records in their order, tombstones and headers kept; the compacted topics record for
  record; a second pass copies only what was written since; the refusals.
* The whole move: a stack on 4 partitions under generated load, the first pass while it serves,
  more load, the final pass, then workers on 8 partitions on empty disks: every stock equals the
  generator's totals, and every event re-sent with its id counts once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.config import producer_config
from bazaar_core.kafka.repartition import Repartition, RepartitionError, generation, progress_topic, read_progress
from bazaar_core.kafka.topics import stock_changelog, topic_configs, topic_specs
from bazaar_core.loadgen.generator import GenConfig, Generator, wire_body
from bazaar_core.settings import Settings
from domain.partitioning import changelog_partition, store_partition
from tests.conftest import free_ports
from tests.integration.harness import Running
from tests.integration.test_pipeline import assert_matches

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
Rec = tuple[bytes | None, bytes | None, tuple]  # key, value, headers


def read_topic(settings: Settings, topic: str, partitions: int) -> dict[int, list[Rec]]:
    """Every record of every partition, in offset order."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "t-repartition-read", "enable.partition.eof": True})
    out: dict[int, list[Rec]] = defaultdict(list)
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        todo = set(range(partitions))
        while todo:
            msg = consumer.poll(10)
            assert msg is not None, f"{topic}: partitions {todo} never reached their end"
            if msg.error():
                todo.discard(msg.partition())
                continue
            out[msg.partition()].append((msg.key(), msg.value(), tuple(msg.headers() or ())))
    finally:
        consumer.close()
    return out


def by_key(parts: dict[int, list[Rec]]) -> dict[bytes | None, list[Rec]]:
    keyed: dict[bytes | None, list[Rec]] = defaultdict(list)
    for records in parts.values():
        for rec in records:
            keyed[rec[0]].append(rec)
    return keyed


def write_state(old: Settings, round_: int) -> None:
    """Changelog records of every key layout (stock, a busy key's movements, the sale book) on
    their store's old partition as a worker writes them, a tombstone among them; catalog records
    with headers and a tombstone; alerts keyed by store."""
    producer = Producer(producer_config(old))
    changelog = stock_changelog(old)
    for i in range(40):
        store = f"store-{i:03d}"
        p = store_partition(store, old.partitions)
        for key in (f"{store}|rice", f"{store}|atta", f"\x00{store}|rice|ev-{i}", f"\x01{store}|20400"):
            value = None if (round_ == 1 and key.endswith("atta") and i % 5 == 0) else f'["{key}",{round_}]'.encode()
            producer.produce(changelog, value, key.encode(), partition=p, headers=[("v", str(round_).encode())])
        producer.produce(old.alerts_topic, f'{{"n":{round_}}}'.encode(), store.encode(), partition=p)
    for sku in ("rice", "atta", "dal"):
        value = None if (round_ == 1 and sku == "dal") else f'{{"sku":"{sku}","r":{round_}}}'.encode()
        producer.produce(old.products_topic, value, sku.encode(), partition=0, headers=[("schema", b"product.v1")])
    assert producer.flush(30) == 0


def test_the_copy_puts_each_store_on_its_new_partition_keeps_order_and_copies_only_the_new(settings_factory):
    old = settings_factory(partitions=4)
    new = generation(old, f"{old.topic_prefix}-b", 8)
    ensure_topics(old, topic_specs(old), topic_configs(old))
    write_state(old, 0)
    first = Repartition(old, new, "first", say=lambda _: None).run()
    write_state(old, 1)  # written between the passes
    second = Repartition(old, new, "first", say=lambda _: None).run()
    copied = {t.source: t.records for t in second.topics}
    assert copied[stock_changelog(old)] == 160 and copied[old.products_topic] == 3 and copied[old.alerts_topic] == 40
    assert second.records == 203 == first.records  # only what was written since

    source = read_topic(old, stock_changelog(old), 4)
    target = read_topic(new, stock_changelog(new), 8)
    assert sum(map(len, target.values())) == 320 and len(target) > 4
    for p, records in target.items():
        for key, _, _ in records:
            assert changelog_partition(key, 8) == p, key
    assert by_key(target) == by_key(source)  # every key's records, values, tombstones and headers, in order
    assert sum(1 for recs in target.values() for _, value, _ in recs if value is None) == 8
    assert read_topic(new, new.products_topic, 1) == read_topic(old, old.products_topic, 1)
    for p, records in read_topic(new, new.alerts_topic, 8).items():
        assert {store_partition(k.decode(), 8) for k, _, _ in records} == {p}

    progress = read_progress(new)
    assert progress[stock_changelog(old)]["next"] == {str(p): len(source[p]) for p in range(4)}
    final = Repartition(old, new, "final", say=lambda _: None).run()  # no events on the old topic: nothing to wait for
    assert final.records == 0 and final.waited_s < 5
    with pytest.raises(RepartitionError, match="sealed by a final pass"):
        Repartition(old, new, "first", say=lambda _: None).run()
    with pytest.raises(RepartitionError, match="fewer than the old generation's 4"):
        Repartition(old, generation(old, f"{old.topic_prefix}-c", 2), "first", say=lambda _: None).run()
    stranger = generation(old, f"{old.topic_prefix}-d", 8)  # a prefix whose products topic someone else wrote
    ensure_topics(stranger, {stranger.products_topic: 1})
    producer = Producer(producer_config(stranger))
    producer.produce(stranger.products_topic, b"{}", b"x")
    assert producer.flush(10) == 0
    done = subprocess.run(
        [sys.executable, "-m", "bazaar.cli", "repartition", "--to-prefix", stranger.topic_prefix, "--partitions", "8"],
        cwd=ROOT,
        env={**os.environ, **stranger.to_env(), "BAZAAR_TOPIC_PREFIX": old.topic_prefix},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "already holds records but no pass of this copy wrote them" in done.stderr, done.stderr
    topics = AdminClient({"bootstrap.servers": old.kafka_bootstrap}).list_topics(timeout=10).topics
    assert stranger.events_topic not in topics and progress_topic(stranger) not in topics  # refused before creating anything


def post_all(running: Running, bodies: list[dict], batch: int = 100) -> None:
    for i in range(0, len(bodies), batch):
        resp = running.post({"events": bodies[i : i + batch]})
        assert resp.status_code == 202, resp.text


def test_a_stack_moved_from_4_to_8_partitions_keeps_every_stock_and_counts_resends_once(settings_factory, tmp_path):
    old = settings_factory(partitions=4)
    gen = Generator(GenConfig(stores=12, events_per_store_day=60, skus=30, seed=21))
    bodies = [wire_body(b) for b in gen.events()]
    half = len(bodies) // 2
    running = Running(old, [old.worker_port]).start()
    try:
        post_all(running, bodies[:half])
        first = Repartition(old, generation(old, f"{old.topic_prefix}-b", 8), "first", say=lambda _: None).run()
        assert first.records > 0
        post_all(running, bodies[half:])
        running.api.stop()  # ingest stops; the old workers go on until they have committed every event
        new = generation(old, f"{old.topic_prefix}-b", 8)
        final = Repartition(old, new, "final", lag_wait_s=60, say=lambda _: None).run()
        assert final.records > 0
    finally:
        running.close()

    worker, api = free_ports(2)  # a new worker port: an empty data dir (data_dir/worker-PORT)
    moved = Running(new.model_copy(update={"worker_port": worker, "api_port": api}), [worker]).start()
    try:
        assert assert_matches(moved, gen) > 100
        post_all(moved, bodies)  # terminals re-send everything with the same ids
        assert assert_matches(moved, gen) > 100
    finally:
        moved.close()
