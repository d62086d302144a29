"""Scale: the same traffic over more stores (and keys: stores x skus), timed over windows of the same length.

At each store count one worker starts on a fresh topic holding every store's opening count of every
sku and applies them (not timed: start-up and the counts stay out); it is stopped, its RocksDB
flushed and compacted (bytes per key with one count each: the same history at every point), and
started again on the same data dir. Then the window: the same
traffic (``scale_offered_events_per_s`` for ``scale_window_s``, the generator's day spread over the
stores) is written at a steady pace, and the worker's applied offsets (``/status``) and CPU
(``/proc``) are read as the writing starts and as it ends. What the window gives, at every point
over the same seconds:

* events/s sustained: events the worker applied during the window over its length (the offered
  rate is meant to be above what the worker applies, so it works on a backlog throughout:
  ``saturated`` says whether a backlog was left at the window's end);
* CPU µs per event: the worker's CPU over the window over the events it applied meanwhile.

Flatness compares the points on both: the smaller of slowest / fastest events/s and cheapest /
costliest CPU per event. After the window the rest is drained (``drain_s``), then every key is
checked, memory and RocksDB bytes per key measured.

The same traffic over fewer stores is more traffic per store and per key (2,400 events a store in
the window at 100 stores, 24 at 10,000): a store's sale book for the day and a key's movements
inside the late window grow with it, so the small points carry bigger states; each point reports
its events per store and per key."""

from __future__ import annotations

import math
import time

import httpx
from confluent_kafka import Producer

from bazaar_core.loadgen.generator import GenConfig
from bench import profile
from bench.children.raw_producer import Deliveries, producer_config
from bench.context import Context
from bench.data import Item, compare, generate, worker_stock
from bench.procs import StageError, Ticker, Workers, cpu_s, du_bytes, free_ports, high_watermarks, proc_status
from bench.stages import exactness, result
from bench.stages.workers import batch_stats, compacted_bytes

# a backlog at the window's end above this share of its messages (and above two full batches, what a
# worker keeping up can have in flight): the worker applied less than it was offered
SATURATED_SHARE = 0.02


def run(ctx: Context) -> list[dict]:
    plan = ctx.plan
    window_events = max(1, round(plan.scale_offered_events_per_s * plan.scale_window_s))
    points = [_point(ctx, stores, window_events) for stores in plan.scale_stores]
    exact = all(p["exact"] for p in points)
    rates = [p["events_per_s"] for p in points]
    cpus = [p["cpu_us_per_event"] or 0.0 for p in points]
    return [
        result(
            "scale",
            kind="throughput",
            exact=exact,
            checked_keys=sum(p["checked_keys"] for p in points),
            differences=sum(p["differences"] for p in points),
            events_per_s=min(rates),
            cpu_us_per_event=max(cpus) or None,
            window_s=plan.scale_window_s,
            offered_events_per_s=plan.scale_offered_events_per_s,
            saturated=all(p["saturated"] for p in points),
            **flatness(points),
            points=points,
            **marginal_bytes(points),
            **compacted_flatness(points),
            note=f"at each store count, 1 worker applies every store's opening count of all {plan.skus} skus (not timed), then "
            f"{window_events:,} events ({plan.scale_offered_events_per_s:,.0f}/s offered for {plan.scale_window_s:g} s, the same at "
            "every point) are written at a steady pace; events/s = the slowest point's events applied per second of the "
            "window, cpu_us_per_event = the costliest point's; flatness = the smaller of slowest/fastest events/s and "
            "cheapest/costliest CPU per event",
        )
    ]


def flatness(points: list[dict]) -> dict:
    """The points compared on events/s sustained over the window and on CPU per event (a point that kept
    up with the offered rate is judged on its CPU alone: its events/s is the offered rate)."""
    rates = [p["events_per_s"] or 0.0 for p in points]
    cpus = [p["cpu_us_per_event"] or 0.0 for p in points]
    if not points or min(rates) <= 0 or min(cpus) <= 0:
        return {"flatness": None, "rate_flatness": None, "cpu_flatness": None}
    rate_flat = round(min(rates) / max(rates), 3)
    cpu_flat = round(min(cpus) / max(cpus), 3)
    return {"flatness": min(rate_flat, cpu_flat), "rate_flatness": rate_flat, "cpu_flatness": cpu_flat}


def _point(ctx: Context, stores: int, window_events: int) -> dict:
    plan = ctx.plan
    per_store = max(1, math.ceil(window_events / stores))
    data = generate(
        f"scale-{stores}",
        GenConfig(stores=stores, events_per_store_day=per_store, skus=plan.skus, seed=plan.seed + 3, opening_count=True),
    )
    opening = stores  # the generator delivers every store's opening count first, one message each
    head, after = data.bodies[:opening], data.bodies[opening]
    if any(b["type"] != "count" for b in head) or (after["type"] == "count" and len(after["lines"]) == plan.skus):
        raise StageError(f"scale-{stores}: the opening counts are not the head of the generated events")
    stage = f"scale-{stores}-stores"
    settings = ctx.settings(f"bench-scale{stores}")
    ctx.preload(data, settings, f"scale-{stores}-counts", part=slice(0, opening))
    rest = data.messages[opening:]
    timed_events = data.events - opening

    def last_offsets() -> dict[int, int]:
        return {p: hw - 1 for p, hw in high_watermarks(settings.kafka_bootstrap, settings.events_topic, settings.partitions).items()}

    ports = free_ports(1)
    workers = Workers(settings, ports, ctx.log_dir).start()
    try:
        warm_s = workers.wait_applied(last_offsets(), stage=f"{stage} counts", total_events=opening, timeout=plan.stage_timeout_s)["done_s"]
    finally:
        workers.stop()
    # what the keys cost on disk with the same history at every point (one opening count each): the memory
    # target's measure; the window's traffic gives a key more history the fewer the stores
    counts_compacted = compacted_bytes(settings.data_dir)
    workers = Workers(settings, ports, ctx.log_dir).start()  # the same port: the same data dir
    spy = None
    folded = ctx.root / "profiles" / f"{stage}.folded"
    producer = _producer(settings.kafka_bootstrap, settings.events_topic)
    try:
        # a restarted worker reports nothing applied until new events come (its committed offsets say the
        # counts are in): settled = healthy, owning every partition, committed past the counts
        counts = last_offsets()
        base = {p: o + 1 for p, o in counts.items()}  # messages each partition held before the window
        deadline = time.monotonic() + plan.stage_timeout_s
        while not workers.settled(counts):
            if time.monotonic() > deadline:
                raise StageError(f"{stage}: the restarted worker did not settle within {plan.stage_timeout_s:.0f} s")
            workers.check_alive()
            time.sleep(0.1)
        restart_s = time.monotonic() - workers.started_at
        pid = workers.pids()[0]
        if ctx.profile:
            spy = profile.start(pid, folded)
        t0, applied0, cpu0 = _snapshot(workers, pid, base)
        written = paced_produce(producer, settings.events_topic, rest, plan.scale_window_s, stage)
        t1, applied1, cpu1 = _snapshot(workers, pid, base)
        if spy is not None:
            profile.stop(spy)
            spy = None
        if written["acked"] != len(rest):
            raise StageError(f"{stage}: {written['acked']} of {len(rest)} messages acked ({written['failed']} failed)")
        targets = last_offsets()
        on_topic = sum(o + 1 for o in targets.values())
        if on_topic != len(data.messages):
            raise StageError(f"{stage}: {on_topic} messages on the topic, expected {len(data.messages)}")
        # (the partitions the window wrote to: the others show nothing applied in this worker's life)
        targets = {p: o for p, o in targets.items() if o + 1 > base.get(p, 0)}
        drained = workers.wait_applied(targets, stage=f"{stage} drain", total_events=data.events, timeout=plan.stage_timeout_s, poll_s=0.1)
        drained_at = workers.started_at + drained["done_s"]
        memory = proc_status(pid)
        batches = batch_stats([workers.url()], workers.headers)
        checked = time.monotonic()
        check = compare(data.expected, worker_stock(workers.url(), data.stores, timeout=plan.stage_timeout_s, headers=workers.headers))
        verify_s = time.monotonic() - checked
    finally:
        if spy is not None:
            profile.stop(spy)
        workers.stop()
    on_disk = du_bytes(settings.data_dir)
    compacted = compacted_bytes(settings.data_dir)
    window_s = t1 - t0
    per_message = timed_events / max(1, len(rest))
    window_messages = applied1 - applied0
    window_events_applied = window_messages * per_message
    left = len(data.messages) - applied1  # written but not applied when the window ended
    cpu_per_event = round((cpu1 - cpu0) / window_events_applied * 1e6, 1) if window_events_applied > 0 else None
    profiles = [profile.summarize(folded, cpu_per_event)] if folded.exists() else []
    keys = len(data.expected)
    return {
        "stores": stores,
        "events_per_store": per_store,
        "opening_count_keys": stores * plan.skus,
        "events": data.events,
        "timed_events": timed_events,
        "messages": len(data.messages),
        "warm_s": round(warm_s, 3),
        "restart_s": round(restart_s, 3),
        "window_s": round(window_s, 3),
        "offered_events_per_s": round(timed_events / written["written_s"], 1) if written["written_s"] > 0 else None,
        "write_behind_max_s": written["behind_max_s"],
        "window_events": round(window_events_applied),
        "events_per_s": round(window_events_applied / window_s, 1) if window_s > 0 else 0.0,
        "cpu_us_per_event": cpu_per_event,
        "cpu_share": round((cpu1 - cpu0) / window_s, 2) if window_s > 0 else None,
        "backlog_at_window_end": left,
        "saturated": left > max(SATURATED_SHARE * len(rest), 2 * settings.stream_batch_max),
        "drain_s": round(max(0.0, drained_at - t1), 3),
        "drain_events_per_s": round(left * per_message / (drained_at - t1), 1) if left > 0 and drained_at > t1 else None,
        "workers": 1,
        "keys": keys,
        "rss_mb": round(memory["rss_kb"] / 1024, 1),
        "peak_rss_mb": round(memory["hwm_kb"] / 1024, 1),
        "rocksdb_bytes": on_disk,
        "rocksdb_bytes_per_key": round(on_disk / max(1, keys), 1),
        "counts_compacted_sst_bytes": counts_compacted,
        "counts_compacted_bytes_per_key": round(counts_compacted / max(1, keys), 1),
        "compacted_sst_bytes": compacted,
        "compacted_bytes_per_key": round(compacted / max(1, keys), 1),
        "window_events_per_store": round(timed_events / stores, 1),
        "window_events_per_key": round(timed_events / max(1, keys), 2),
        "verify_s": round(verify_s, 2),
        **batches,
        **exactness(check),
        **({"profile": profiles} if profiles else {}),
    }


def _snapshot(workers: Workers, pid: int, base: dict[int, int], timeout: float = 30.0) -> tuple[float, int, float]:
    """(now, messages applied over every partition, the worker's CPU seconds), read together; ``base``:
    the messages each partition held when this worker started (applied before, or by its committed
    offsets). A worker too busy to answer one /status in time is asked again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            resp = workers.http.get(f"{workers.url()}/status", timeout=2)
            applied = {int(p): o for p, o in resp.json().get("applied", {}).items()} if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            applied = None
        now, cpu = time.monotonic(), cpu_s(pid)
        if applied is not None:
            done = {p: max(n, applied.get(p, -1) + 1) for p, n in base.items()}
            return now, sum(done.values()) + sum(o + 1 for p, o in applied.items() if p not in base), cpu
        if now > deadline:
            raise StageError(f"the worker's /status did not answer within {timeout:.0f} s")
        workers.check_alive()
        time.sleep(0.05)


def _producer(bootstrap: str, topic: str) -> Producer:
    """The raw producer's (and the API's) settings, connected before any window starts."""
    producer = Producer(producer_config(bootstrap))
    producer.list_topics(topic, timeout=10)
    return producer


def paced_produce(producer: Producer, topic: str, items: list[Item], seconds: float, stage: str) -> dict:
    """Write ``items`` in order, evenly over ``seconds`` (message i is due at i / n of them), then wait for
    every ack. ``written_s``: from the first to the last message handed to the producer; ``behind_max_s``:
    how late the most delayed message was handed over (the pace held if it stays small)."""
    on_delivery = Deliveries()
    ticker = Ticker(f"{stage} window", len(items), unit="msgs")
    n = len(items)
    started = time.monotonic()
    sent, behind = 0, 0.0
    while sent < n:
        now = time.monotonic()
        due = min(n, int((now - started) / seconds * n) + 1)
        if due > sent:
            behind = max(behind, now - started - (sent * seconds / n))
        while sent < due:
            key, value, headers = items[sent]
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
            except BufferError:
                producer.poll(0.005)
                continue
            sent += 1
        producer.poll(0)
        ticker.update(sent)
        if sent < n:
            time.sleep(max(0.0, min(0.005, started + sent * seconds / n - time.monotonic())))
    written_s = time.monotonic() - started
    producer.flush(60)
    ticker.update(n, force=True, note="written")
    return {
        "messages": n,
        "acked": on_delivery.acked,
        "failed": on_delivery.failed,
        "written_s": round(written_s, 3),
        "behind_max_s": round(behind, 3),
    }


def marginal_bytes(points: list[dict]) -> dict:
    """RocksDB bytes per added key between successive points, as the worker left the files (a fixed part
    -- WAL, manifest, logs, empty partitions -- weighs on bytes/key at few keys); reported beside the
    compacted bytes per key, which the memory target is judged on."""
    steps = []
    for a, b in zip(points, points[1:]):
        keys = b["keys"] - a["keys"]
        if keys > 0:
            steps.append(round((b["rocksdb_bytes"] - a["rocksdb_bytes"]) / keys, 1))
    return {"marginal_bytes_per_key": steps} if steps else {}


def compacted_flatness(points: list[dict]) -> dict:
    """Compacted RocksDB bytes per key once every key has its opening count (the same history at every
    point: the memory target), and after the window's traffic (more history per key with fewer stores)."""
    per_key = [p["counts_compacted_bytes_per_key"] for p in points if p.get("counts_compacted_bytes_per_key")]
    if len(per_key) != len(points) or not per_key:
        return {}
    return {
        "compacted_bytes_per_key": per_key,
        "compacted_flatness": round(min(per_key) / max(per_key), 3),
        "compacted_bytes_per_key_after_traffic": [p.get("compacted_bytes_per_key") for p in points],
    }
