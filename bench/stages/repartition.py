"""Repartition: a deployment's stock changelog of N keys copied to a new generation with more
partitions (``bazaar repartition``, 8 -> 32 in the full run), then a new worker recovering its
tables from the copy on an empty disk.

The old changelog is written as the workers write it: one record per (store, sku), its value the
real codec's layout (``streams.codec.encode``) of a state made by the stock rules from an opening
count, on its store's partition among the old count. The copy is timed as an operator runs it: a
first pass (everything), then the final pass (nothing left to copy on a quiet generation: what
the switch itself costs). Then one ``bazaar worker`` starts on the new generation's settings with
an empty data dir: seconds until /health and until sampled lookups answer their counts, then
every key is checked.
"""

from __future__ import annotations

import random
import time

from confluent_kafka import Producer

from bazaar_core.kafka.config import producer_config
from bazaar_core.kafka.repartition import Repartition, generation
from bazaar_core.kafka.topics import stock_changelog
from bazaar_core.settings import Settings
from bench.context import Context
from bench.data import compare, worker_stock
from bench.procs import StageError, Ticker, Workers, proc_status
from bench.stages import exactness, result
from bench.stages.recovery import SAMPLE, _until_correct
from domain.partitioning import store_partition
from domain.stock import StockState, apply_count
from streams.codec import encode

US_PER_DAY = 86_400_000_000


def run(ctx: Context) -> list[dict]:
    plan = ctx.plan
    before, after = plan.repartition_partitions
    old = ctx.settings("bench-repartition", partitions=before)
    new = generation(old, f"{old.topic_prefix}-b", after)
    ctx.ensure_topics(old)
    stores = [f"store-{i:05d}" for i in range(max(1, plan.repartition_keys // plan.skus))]
    skus = [f"sku-{j:03d}" for j in range(plan.skus)]
    started = time.monotonic()
    expected = _write_changelog(old, stores, skus, plan.seed)
    write_s = round(time.monotonic() - started, 2)

    lines: list[str] = []
    first = Repartition(old, new, "first", say=lines.append).run()
    final = Repartition(old, new, "final", say=lines.append).run()
    copied = next(t for t in first.topics if t.source == stock_changelog(old))
    if copied.records != len(expected):
        raise StageError(f"repartition: {copied.records} changelog records copied, {len(expected)} written")
    want = {}
    for store in stores:
        p = store_partition(store, after)
        want[p] = want.get(p, 0) + len(skus)
    if copied.per_target != want:
        raise StageError(f"repartition: records per new partition {copied.per_target}, expected {want} (by store_partition)")

    recovering = new.model_copy(update={"data_dir": new.data_dir / "new-generation"})  # an empty disk
    workers = Workers(recovering, [recovering.worker_port], ctx.log_dir)
    sample = random.Random(plan.seed).sample(sorted(expected), min(SAMPLE, len(expected)))
    try:
        workers.start()
        healthy_s, correct_s = _until_correct(workers, expected, sample, workers.started_at, plan.stage_timeout_s)
        rss = proc_status(workers.pids()[0])
        checked = time.monotonic()
        check = compare(expected, worker_stock(workers.url(), stores, timeout=plan.stage_timeout_s, headers=workers.headers))
        verify_s = round(time.monotonic() - checked, 2)
    finally:
        workers.stop()
    spread = sorted(copied.per_target.values())
    return [
        result(
            "repartition",
            kind="repartition",
            keys=len(expected),
            stores=len(stores),
            partitions_from=before,
            partitions_to=after,
            write_old_changelog_s=write_s,
            changelog_records=copied.records,
            changelog_copy_s=copied.seconds,
            changelog_records_per_s=round(copied.records / copied.seconds, 1) if copied.seconds else None,
            first_pass_s=first.seconds,
            first_pass_records=first.records,
            final_pass_s=final.seconds,
            final_pass_records=final.records,
            records_per_new_partition_min_max=[spread[0], spread[-1]],
            recovery_to_health_s=healthy_s,
            recovery_to_correct_s=correct_s,
            rss_mb_after_recovery=round(rss["rss_kb"] / 1024, 1),
            verify_s=verify_s,
            **exactness(check),
            note=f"{len(stores)} stores x {len(skus)} skus, one stock record each (an opening count, the codec's layout) on "
            f"{before} partitions; copied {before} -> {after} partitions by `Repartition` (first pass, then a final pass "
            "with nothing new); then one worker on the new generation with an empty data dir: start -> /health, start -> "
            f"{len(sample)} sampled lookups correct; then every key checked",
        )
    ]


def _write_changelog(settings: Settings, stores: list[str], skus: list[str], seed: int) -> dict[str, int]:
    """One stock record per (store, sku) on the store's partition, as the workers write them; the
    expected on-hand of each key (milli-units)."""
    rng = random.Random(seed)
    changelog = stock_changelog(settings)
    window = settings.late_window_days * US_PER_DAY
    at = int(time.time() * 1_000_000) - US_PER_DAY
    producer = Producer(producer_config(settings, {"linger.ms": 50, "batch.size": 1_000_000, "queue.buffering.max.messages": 500_000}))
    expected: dict[str, int] = {}
    ticker = Ticker("repartition-write", len(stores) * len(skus), unit="records")
    for i, store in enumerate(stores):
        partition = store_partition(store, settings.partitions)
        for sku in skus:
            key = f"{store}|{sku}"
            qty = rng.randint(0, 500) * 1000
            state = StockState()
            apply_count(state, f"open-{key}", at, qty, "d", at, window)
            while True:
                try:
                    producer.produce(changelog, encode(state), key.encode(), partition=partition)
                    break
                except BufferError:
                    producer.poll(0.05)
            expected[key] = qty
        producer.poll(0)
        ticker.update((i + 1) * len(skus))
    if producer.flush(120) != 0:
        raise StageError("repartition: the old changelog was not all acknowledged")
    ticker.update(len(expected), force=True)
    return expected
