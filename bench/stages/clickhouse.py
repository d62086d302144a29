"""The ClickHouse sink: ``bazaar analytics`` (its own process, embedded chDB in the run's temp dir).

1. the ledger: the main data set's ledger topic as the stream stage's worker wrote it (when that
   stage ran and was exact), else one ``bazaar worker`` run over the main data set pre-loaded on a
   fresh topic; read back here to count its messages, rows and distinct (store, sku, event) keys;
2. throughput: ``bazaar analytics`` starts on that pre-filled ledger and is timed until every row is
   in ClickHouse (its /metrics counters): rows/s, CPU µs per row (the analytics process, every
   thread, chDB included), RSS;
3. offered load: copies of the ledger messages are produced at the ledger rate of the issue's end-to-end
   load (``sink_events_per_s``, 2,000 events/s in the full run, times this ledger's messages per
   event) for ``sink_load_s``; the backlog (messages on the topic not yet in ClickHouse, measured
   from the topic's high watermarks and the sink's inserted counter) is sampled 4 times a second;
   flat when its fitted slope is under 5% of the offered messages/s; then the drain is timed;
4. exactness, after 2 and again after 3 (copies must collapse): every (store, sku) on-hand ClickHouse
   computes in the ``stock_valuation`` report equals the generator's expected stock, and the ledger
   holds exactly the distinct (store, sku, event) keys the topic carried.
"""

from __future__ import annotations

import pickle
import threading
import time

from confluent_kafka import Consumer, TopicPartition

from bazaar_core.settings import Settings
from bench import profile
from bench.analytics import Analytics, Ledger, flatness, read_ledger, run_queue_wait_s, thin
from bench.context import Context
from bench.data import Dataset, compare
from bench.procs import StageError, Ticker, cpu_s, du_bytes, free_ports, high_watermarks, proc_status, rate, run_child
from bench.stages import exactness, result

NAME = "clickhouse-sink"
STREAM_PREFIX = "bench-stream1"  # the topic prefix of the stream-1-worker stage (bench/stages/stream.py)
SAMPLE_S = 0.25


def run(ctx: Context) -> list[dict]:
    plan = ctx.plan
    data, settings, source = _ledger_source(ctx)
    started = time.monotonic()
    ledger = read_ledger(settings.kafka_bootstrap, settings.ledger_topic, settings.partitions)
    read_s = time.monotonic() - started
    if not ledger.rows:
        raise StageError(f"the ledger topic {settings.ledger_topic} holds no rows")
    print(
        f"[bench] {NAME}: ledger of {data.events:,} events: {ledger.messages:,} messages, {ledger.rows:,} rows, "
        f"{len(ledger.keys):,} distinct (store, sku, event) keys ({read_s:.1f} s to read)",
        flush=True,
    )

    offered_events = plan.sink_events_per_s
    offered_msgs = offered_events * ledger.messages / data.events
    replay = ctx.root / "messages" / "ledger-replay.pkl"
    replay.parent.mkdir(parents=True, exist_ok=True)
    replay.write_bytes(pickle.dumps(ledger.interleaved(), protocol=pickle.HIGHEST_PROTOCOL))

    analytics = Analytics(settings, ctx.log_dir, f"{NAME}-analytics")
    analytics.start(timeout=180)
    spy = ctx.root / "profiles" / f"{NAME}-fill.folded"
    try:
        timing = _wait_inserted(analytics, ledger, plan.stage_timeout_s, spy if ctx.profile else None)
        fill_memory = proc_status(analytics.pid)
        fill_check = _check(analytics, data, ledger)
        load = _offered_load(ctx, analytics, settings, replay, offered_msgs)
        end_memory = proc_status(analytics.pid)
        final_check = _check(analytics, data, ledger)
    finally:
        analytics.stop()
        replay.unlink(missing_ok=True)
    on_disk = du_bytes(settings.data_dir / "clickhouse")
    measured = rate(timing["messages"], timing["messages"], timing)  # "events" here are rows: rows/s, CPU µs per row
    profiles = [profile.summarize(spy, measured["cpu_us_per_event"])] if spy.exists() else []  # CPU µs per row
    flat = load["backlog"]["flat"]
    return [
        result(
            NAME,
            kind="sink",
            events_per_s=measured["events_per_s"],
            rows_per_s=measured["events_per_s"],
            messages_per_s=round(measured["events_per_s"] * ledger.messages / ledger.rows, 1),
            events_equiv_per_s=round(measured["events_per_s"] * data.events / ledger.rows, 1),
            cpu_us_per_event=measured["cpu_us_per_event"],
            cpu_us_per_row=measured["cpu_us_per_event"],
            cpu_share=measured["cpu_share"],
            apply_s=measured["apply_s"],
            window=measured["window"],
            run_queue_wait_share=round(timing["run_queue_wait_s"] / max(1e-9, timing["apply_s"]), 2),
            startup_s=round(timing["first_s"], 2),
            events=data.events,
            ledger_messages=ledger.messages,
            ledger_rows=ledger.rows,
            ledger_keys=len(ledger.keys),
            rows_per_event=round(ledger.rows / data.events, 2),
            ledger_source=source,
            load=load,
            rss_mb=round(end_memory["rss_kb"] / 1024, 1),
            rss_mb_after_fill=round(fill_memory["rss_kb"] / 1024, 1),
            peak_rss_mb=round(end_memory["hwm_kb"] / 1024, 1),
            clickhouse_bytes=on_disk,
            clickhouse_bytes_per_row=round(on_disk / max(1, len(ledger.keys)), 1),  # per distinct row kept
            checks={"after_fill": fill_check, "after_load": final_check},
            **({"profile": profiles} if profiles else {}),
            **exactness(final_check if fill_check["exact"] else fill_check),  # the first check that failed, if any
            note=f"events/s column = ledger rows/s into ClickHouse ({ledger.rows:,} rows of {data.events:,} events, "
            f"{measured['window']}); CPU µs per row of the analytics process (chDB inside); backlog at "
            f"{offered_events:,.0f} events/s ({offered_msgs:,.0f} ledger msgs/s) for {load['seconds']:.0f} s: "
            f"{'flat' if flat else 'NOT flat' if flat is False else '?'} (max {load['backlog']['max']:,.0f} msgs, "
            f"slope {load['backlog']['slope_per_s']} msgs/s), drained in {load['drain_s']} s; exact: stock_valuation "
            f"= generator for every key, distinct ledger keys = topic's",
        ),
    ]


def _ledger_source(ctx: Context) -> tuple[Dataset, Settings, str]:
    """The data set and settings whose ledger topic holds that data set's ledger, and where it came from."""
    port = free_ports(1)[0]
    stream = ctx.results.get("stream-1-worker")
    if ctx.main is not None and stream and stream.get("status") == "ok" and stream.get("exact") is True:
        settings = ctx.settings(STREAM_PREFIX, analytics_port=port)  # same topics, a fresh data dir and group
        if sum(high_watermarks(settings.kafka_bootstrap, settings.ledger_topic, settings.partitions).values()):
            return ctx.main, settings, "the stream-1-worker stage's ledger topic (main data set)"
    from bench.stages.workers import run_workers

    data, _ = ctx.main_data()
    settings = ctx.settings("bench-sink", analytics_port=port)
    ctx.preload(data, settings, f"{NAME}-events")
    fields = run_workers(ctx, data, settings, 1, f"{NAME}-ledger")
    if not fields["exact"]:
        raise StageError(f"the worker writing the ledger ended with wrong stock: {fields.get('difference_examples')}")
    return data, settings, "a worker run over the main data set (this stage's own)"


def _wait_inserted(analytics: Analytics, ledger: Ledger, timeout: float, spy_path=None) -> dict:
    """Until every message of the pre-filled ledger is in ClickHouse (inserted, then acked); the same
    timing fields as ``Workers.wait_applied`` (in rows), for ``bench.procs.rate``. The window opens at
    the first insert; with ``spy_path`` py-spy samples the analytics process over the window."""
    ticker = Ticker(f"{NAME}-fill", ledger.rows, unit="rows")
    started = analytics.started_at
    deadline = time.monotonic() + timeout
    first_t, first_done, cpu_first, wait_first, spy = None, 0, 0.0, 0.0, None
    try:
        while True:
            m = analytics.metrics()
            rows = int(m.get("bazaar_analytics_inserted_rows_total", 0))
            messages = int(m.get("bazaar_analytics_inserted_messages_total", 0))
            now = time.monotonic()
            if first_t is None and rows:
                first_t, first_done, cpu_first, wait_first = now, rows, cpu_s(analytics.pid), run_queue_wait_s(analytics.pid)
                spy = profile.start(analytics.pid, spy_path) if spy_path else None
            ticker.update(rows)
            if messages >= ledger.messages and not m.get("bazaar_analytics_pending_messages"):
                break  # every message acked after its insert; a row missing or extra is for the exactness check
            if now > deadline:
                raise StageError(f"{NAME}: {messages}/{ledger.messages} messages in ClickHouse within {timeout:.0f} s")
            analytics.check_alive()
            time.sleep(0.2)
    finally:
        if spy is not None:
            profile.stop(spy)
    ticker.update(rows, force=True, note="all in ClickHouse")
    cpu_now = cpu_s(analytics.pid)
    return {
        "messages": rows,
        "first_s": (first_t or now) - started,
        "done_s": now - started,
        "first_done": first_done,
        "apply_s": now - (first_t or now),
        "cpu_window_s": cpu_now - cpu_first if first_t else None,
        "cpu_total_s": cpu_now,
        "run_queue_wait_s": run_queue_wait_s(analytics.pid) - wait_first,
    }


def _offered_load(ctx: Context, analytics: Analytics, settings: Settings, replay, offered_msgs: float) -> dict:
    """Copies of the ledger at ``offered_msgs``/s for ``sink_load_s``; the backlog sampled meanwhile."""
    seconds = ctx.plan.sink_load_s
    total = max(1, round(offered_msgs * seconds))
    sampler = _Backlog(analytics, settings, total)
    thread = threading.Thread(target=sampler.loop, name="backlog-sampler", daemon=True)
    thread.start()
    cpu_start, wait_start = cpu_s(analytics.pid), run_queue_wait_s(analytics.pid)
    try:
        produced = run_child(
            "bench.children.ledger_replay",
            [
                "--bootstrap",
                settings.kafka_bootstrap,
                "--topic",
                settings.ledger_topic,
                "--messages",
                str(replay),
                "--rate",
                f"{offered_msgs:.3f}",
                "--seconds",
                str(seconds),
            ],
            stage=f"{NAME}-load",
            total=total,
            log_dir=ctx.log_dir,
            unit="msgs",
            timeout=ctx.plan.stage_timeout_s,
        )
        if produced["acked"] != total:
            raise StageError(f"{NAME}: {produced['acked']} of {total} copies acked")
        deadline = time.monotonic() + ctx.plan.stage_timeout_s
        while not sampler.drained():  # the sampler thread keeps sampling until every copy is in ClickHouse
            if time.monotonic() > deadline:
                raise StageError(f"{NAME}: backlog of {sampler.last_behind} messages not drained within the timeout")
            analytics.check_alive()
            time.sleep(SAMPLE_S)
    finally:
        sampler.stop.set()
        thread.join(10)
        sampler.close()
    cpu_used = cpu_s(analytics.pid) - cpu_start
    waited = run_queue_wait_s(analytics.pid) - wait_start
    during = [(t, b) for t, b in sampler.samples if t <= sampler.load_s]
    window = max(1e-9, sampler.load_s)
    return {
        "offered_events_per_s": ctx.plan.sink_events_per_s,
        "offered_messages_per_s": round(offered_msgs, 1),
        "seconds": round(sampler.load_s, 2),
        "messages": total,
        "rows": sampler.rows,
        "produced_messages_per_s": round(produced["messages_per_s"], 1),
        "producer_late_max_s": produced["late_max_s"],
        "inserted_messages_per_s_during": round(sampler.inserted_during / window, 1),
        "backlog": flatness(during, offered_msgs),
        "backlog_gauge_max": sampler.gauge_max,
        "drain_s": round(sampler.drain_s, 2) if sampler.drain_s is not None else None,
        "cpu_share": round(cpu_used / max(1e-9, sampler.load_s + (sampler.drain_s or 0)), 2),
        "run_queue_wait_share": round(waited / max(1e-9, sampler.load_s + (sampler.drain_s or 0)), 2),
        "cpu_us_per_row": round(cpu_used / sampler.rows * 1e6, 1) if sampler.rows else None,
        "samples": thin(during),
    }


class _Backlog:
    """Samples, from outside the analytics process, how many offered copies are not in ClickHouse yet:
    (messages added to the topic since the load began) - (messages the sink inserted since then);
    the ledger was fully inserted when the load began. Time 0 is the first copy on the topic."""

    def __init__(self, analytics: Analytics, settings: Settings, total: int) -> None:
        self.analytics, self.topic, self.total = analytics, settings.ledger_topic, total
        self.partitions = settings.partitions
        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-backlog", "enable.auto.commit": False})
        self.hw0 = self._hw()
        m = analytics.metrics()
        self.inserted0 = int(m.get("bazaar_analytics_inserted_messages_total", 0))
        self.rows0 = int(m.get("bazaar_analytics_inserted_rows_total", 0))
        self.samples: list[tuple[float, float]] = []
        self.t0: float | None = None
        self.loaded = False  # every copy is on the topic
        self.load_s = 0.0  # first copy on the topic -> last copy on the topic
        self.drain_s: float | None = None  # last copy on the topic -> backlog 0
        self.inserted_during = 0
        self.rows = 0
        self.gauge_max = 0.0
        self.last_behind = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.ticker = Ticker(f"{NAME}-backlog", total, unit="msgs")

    def _hw(self) -> int:
        return sum(self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1] for p in range(self.partitions))

    def sample(self) -> None:
        added = self._hw() - self.hw0
        now = time.monotonic()  # when the topic was read (a busy machine can make one sample take a while)
        m = self.analytics.metrics()
        if not m:
            return
        inserted = int(m.get("bazaar_analytics_inserted_messages_total", 0)) - self.inserted0
        with self._lock:
            if self.t0 is None:
                if added <= 0:
                    return
                self.t0 = now
            t = now - self.t0
            behind = max(0, added - inserted)
            self.last_behind = behind
            self.rows = int(m.get("bazaar_analytics_inserted_rows_total", 0)) - self.rows0
            self.gauge_max = max(self.gauge_max, m.get("bazaar_analytics_backlog", 0.0))
            if not self.loaded:
                self.samples.append((t, behind))
                if added >= self.total:
                    self.loaded, self.load_s, self.inserted_during = True, t, inserted
            elif self.drain_s is None and behind == 0 and inserted >= self.total:
                self.drain_s = t - self.load_s
            self.ticker.update(max(0, inserted), note=f"backlog {behind:,} msgs")

    def drained(self) -> bool:
        with self._lock:
            return self.drain_s is not None

    def loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # a slow broker answer: the next sample will do
                print(f"[bench] {NAME}: backlog sample failed: {exc}", flush=True)
            if self.drained():
                return
            time.sleep(SAMPLE_S)

    def close(self) -> None:
        self.consumer.close()


def _check(analytics: Analytics, data: Dataset, ledger: Ledger) -> dict:
    """ClickHouse's stock of every key against the generator's, and its distinct ledger keys against the topic's."""
    started = time.monotonic()
    check = compare(data.expected, analytics.stock())
    distinct = analytics.status()["ledger"]
    keys_ok = distinct["distinct"] == len(ledger.keys)
    if not keys_ok:
        check = {
            **check,
            "differences": check["differences"] + abs(distinct["distinct"] - len(ledger.keys)),
            "examples": [
                {"key": "distinct (store, sku, event) ledger keys", "expected": len(ledger.keys), "got": distinct["distinct"]},
                *check["examples"],
            ][:5],
        }
    return {
        **check,
        "exact": check["exact"] and keys_ok,
        "stock_exact": check["exact"],
        "ledger_distinct": distinct["distinct"],
        "ledger_distinct_expected": len(ledger.keys),
        "ledger_rows_stored": distinct["rows"],
        "verify_s": round(time.monotonic() - started, 2),
    }
