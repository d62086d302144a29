"""API ingest and end to end: ``bazaar api`` + ``bazaar worker``, load from a client in its own process.

1. ingest: every (batch size, client concurrency) cell posts its own slice of the generated events
   as fast as the API accepts them (202 = acked by Kafka); events/s, POST latency and the API
   process's CPU per event, per cell (one client run each; the stores' opening counts are posted
   before the first, unmeasured, as in every later load). No worker runs meanwhile: like the
   bare producer it is compared with, the API has the machine to itself and the broker (a worker
   applying the same events at this rate would need several cores of its own);
2. the worker starts and catches up; from here on it runs all along, as in production;
3. end to end, everything on the machine (API, worker, broker, client): open-loop steady loads, each
   on a data set of its own (its own stores, whose opening stock counts are posted and applied
   before the load: a steady day, not 250 stock counts at once). The capacity C is the highest
   offered rate whose backlog (messages on the events topic not yet applied by the worker, from the
   topic's high watermarks and the workers' /status, sampled twice a second) stays flat while the
   API accepts what it is offered: a search (probes stepping up, then bisections), then C held for
   ``e2e_hold_s``. Then latency steps at shares of C (25, 50 and 75 %): for every n-th POST, the time
   from the POST's start to a lookup with the POST's read-your-writes token showing the change;
   then a second worker joins (the group settles before the clock starts) and the last share is
   offered again;
4. the worker catches up, and every key's stock (the ingest data set and every load's) is checked
   against the generator: both results carry that check.

Access is on, as deployed: the stack is set up with ``bazaar auth init``, the load client exchanges
the admin key for access tokens, the API asks the workers with its service token. What that costs
the ingest route, against an API without auth, is the ``auth-cost`` stage's.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable

import httpx
from confluent_kafka import Consumer, TopicPartition

from bazaar_core.client_auth import API_KEY_ENV
from bazaar_core.loadgen.generator import GenConfig
from bazaar_core.supervisor import Child
from bench import auth, profile
from bench.analytics import flatness, thin
from bench.context import Context
from bench.data import Dataset, compare, generate, save_bodies, worker_stock
from bench.procs import CpuSampler, StageError, Workers, cpu_s, free_ports, high_watermarks, proc_status, run_child
from bench.stages import exactness, result

SAMPLE_S = 0.5  # how often the backlog is sampled during a load
UNCONFIRMED_STEP = 0.85  # the held rate was not flat: hold this share of it instead (once)


def run(ctx: Context) -> list[dict]:
    plan = ctx.plan
    ingest = [
        {"kind": "ingest", "batch": b, "concurrency": c, "count": plan.ingest_single_events if b == 1 else plan.ingest_batch_events}
        for b in plan.ingest_batches
        for c in plan.ingest_concurrency
    ]
    ingest_events = sum(p["count"] for p in ingest)
    data = generate(
        "api",
        GenConfig(
            stores=plan.api_stores, events_per_store_day=math.ceil(ingest_events / plan.api_stores), skus=plan.skus, seed=plan.seed + 1
        ),
        messages=False,
    )
    # the stores' opening counts (a line per sku, far heavier than the day after them) are posted
    # first, unmeasured: else the first cell (one event a POST) would carry them all
    opening = next(i for i, b in enumerate(data.bodies) if b["type"] != "count")
    rest = data.events - opening - ingest_events  # (the generator makes a few more: re-sends) posted unmeasured
    bodies = save_bodies(data.bodies, ctx.root / "api-bodies.json")

    # the benchmark's pace is not what a credential's (or an address's) limit is for
    settings = ctx.settings("bench-api", rate_limits=auth.UNLIMITED, auth_rate_per_address=auth.PER_ADDRESS)
    ctx.ensure_topics(settings)
    key = auth.admin_key(settings)  # bazaar auth init, as `bazaar up` runs it
    second = free_ports(1)[0]
    workers = Workers(settings, [settings.worker_port, second], ctx.log_dir)  # started after the ingest cells
    api = Child.bazaar("api", ["api"], workers.env, ctx.log_dir, f"http://127.0.0.1:{settings.api_port}/health")
    api.start()
    url = f"http://127.0.0.1:{settings.api_port}"

    def client(stage: str, phases: list[dict], start: int, total: int, path=bodies) -> dict:
        return run_child(
            "bench.children.api_client",
            ["--url", url, "--bodies", str(path), "--start", str(start), "--phases", json.dumps(phases)],
            stage=stage,
            total=total,
            log_dir=ctx.log_dir,
            timeout=plan.stage_timeout_s,
            env={API_KEY_ENV: key} if key else None,
        )

    def catch_up(stage: str) -> float:
        started = time.monotonic()
        targets = {p: hw - 1 for p, hw in high_watermarks(settings.kafka_bootstrap, settings.events_topic, settings.partitions).items()}
        workers.wait_applied(targets, stage=stage, total_events=sum(hw + 1 for hw in targets.values()), timeout=plan.stage_timeout_s)
        return round(time.monotonic() - started, 2)

    def post(bodies: list[dict], batch: int = 10) -> None:
        """Post events from here, unmeasured (a client process takes a second to start)."""
        with httpx.Client(base_url=url, timeout=60) as http:
            headers = {}
            if key:
                answer = http.post("/v1/auth/token", json={"api_key": key})
                answer.raise_for_status()
                headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            for i in range(0, len(bodies), batch):
                for _attempt in range(50):
                    resp = http.post("/v1/events", json={"events": bodies[i : i + batch]}, headers=headers)
                    if resp.status_code == 202:
                        break
                    if resp.status_code != 503:
                        raise StageError(f"POST /v1/events answered {resp.status_code}: {resp.text[:300]}")
                    time.sleep(0.2)
                else:
                    raise StageError("POST /v1/events answered 503 50 times")

    loads = Loads(ctx, settings, workers, api, client, post, catch_up)
    try:
        api.wait_healthy(120)
        api_cpu, at, cells, ingested = 0.0, opening, [], {"retries": 0, "transport_errors": 0}
        if opening:
            client("api-ingest-opening", [{"kind": "ingest", "batch": 10, "concurrency": 4, "count": opening}], 0, opening)
        for phase in ingest:  # one client run per cell, so each cell gets the API's CPU of its own
            before = cpu_s(api.proc.pid)
            one = client("api-ingest", [phase], at, phase["count"])
            cpu = cpu_s(api.proc.pid) - before
            api_cpu += cpu
            at = one["next"]
            cells.append({**one["phases"][0], "api_cpu_us_per_event": round(cpu / phase["count"] * 1e6, 1)})
            ingested = {k: ingested[k] + one[k] for k in ("retries", "transport_errors")}
        if rest > 0:
            client("api-ingest-rest", [{"kind": "ingest", "batch": 500, "concurrency": 4, "count": rest}], at, rest)
        workers.start([settings.worker_port])
        workers.wait_healthy(120)
        ingest_drain_s = catch_up("api-ingest-catch-up")
        capacity, confirmed, search = loads.capacity()
        steps = [loads.offer(capacity * share, plan.e2e_hold_s, f"e2e-{share:.0%}-of-C", share=share) for share in plan.e2e_shares]
        workers.add(second)
        scaled = loads.offer(capacity * plan.e2e_shares[-1], plan.e2e_hold_s, "e2e-2-workers", share=plan.e2e_shares[-1])
        memory = {"api": proc_status(api.proc.pid), "worker": proc_status(workers.pids()[0])}  # the one worker of every step
        started = time.monotonic()
        expected = {**data.expected, **loads.expected}
        check = compare(expected, worker_stock(workers.url(), data.stores + loads.stores, headers=workers.headers))
        verify_s = round(time.monotonic() - started, 2)
    finally:
        loads.close()
        api.stop()
        workers.stop()

    batched = [c for c in cells if c["batch"] > 1]
    singles = [c for c in cells if c["batch"] == 1]
    best = max(batched or cells, key=lambda c: c["events_per_s"])
    half = min(steps, key=lambda s: abs(s["share"] - 0.5))  # the headline: p99 at 50 % of C
    shared = {
        "rss_mb": {"api": round(memory["api"]["rss_kb"] / 1024, 1), "worker": round(memory["worker"]["rss_kb"] / 1024, 1)},
        "peak_rss_mb": {"api": round(memory["api"]["hwm_kb"] / 1024, 1), "worker": round(memory["worker"]["hwm_kb"] / 1024, 1)},
        "verify_s": verify_s,
        **exactness(check),
    }
    latency = ("p50_ms", "p99_ms", "p999_ms", "max_ms", "samples", "timeouts")
    return [
        result(
            "api-ingest",
            kind="throughput",
            events=ingest_events,
            events_per_s=best["events_per_s"],
            best_cell={"batch": best["batch"], "concurrency": best["concurrency"]},
            p50_ms=best["p50_ms"],
            p99_ms=best["p99_ms"],
            max_ms=best["max_ms"],
            singles_events_per_s=max((c["events_per_s"] for c in singles), default=None),
            api_cpu_us_per_event=round(api_cpu / ingest_events * 1e6, 1),
            batched_api_cpu_us_per_event=round(
                sum(c["api_cpu_us_per_event"] * c["events"] for c in batched) / max(1, sum(c["events"] for c in batched)), 1
            ),
            single_api_cpu_us_per_event=round(
                sum(c["api_cpu_us_per_event"] * c["events"] for c in singles) / max(1, sum(c["events"] for c in singles)), 1
            )
            if singles
            else None,
            cells=cells,
            retries=ingested["retries"],
            transport_errors=ingested["transport_errors"],
            worker_drain_after_s=ingest_drain_s,
            **shared,
            note="events/s accepted (202 after Kafka acks) by one `bazaar api` process; client (aiohttp) in its own "
            "process; no worker runs during these cells (as for the bare producer); it starts after them and "
            "applies every event before the stock check. Headline: best batched cell",
        ),
        result(
            "end-to-end",
            kind="latency",
            capacity_events_per_s=capacity,
            capacity_confirmed=confirmed,
            capacity_search=search,
            events_per_s=capacity,
            offered_events_per_s=half["offered_events_per_s"],
            share_of_capacity=half["share"],
            **{k: half[k] for k in latency},
            events=sum(s["events"] for s in steps),
            steps=steps + [scaled],
            workers=1,
            floor=floor(steps[0]),
            **shared,
            note=f"1 worker; API, worker, broker and client on the machine; open-loop POSTs of {plan.e2e_batch} events; "
            "capacity C: the highest offered rate whose backlog stayed flat (grew by at most "
            f"{plan.e2e_flat_slope:.0%} of the offered rate) while the API accepted it, held {plan.e2e_hold_s:.0f} s; "
            "latency = POST start -> lookup (after=token) answers with the change; headline: the step at 50 % of C",
        ),
        result(
            "end-to-end-2-workers",
            kind="latency",
            events=scaled["events"],
            events_per_s=scaled["achieved_events_per_s"],
            offered_events_per_s=scaled["offered_events_per_s"],
            share_of_capacity=scaled["share"],
            **{k: scaled[k] for k in latency},
            workers=2,
            cpu_us_per_event_by_process=scaled["cpu_us_per_event"],
            **shared,
            note=f"the last share of C (one worker's C) again after a second worker joined (the group settled before the "
            f"clock started); {scaled['retries']} POSTs answered 503 and {scaled['transport_errors']} requests lost "
            f"their connection (both retried)",
        ),
    ]


class Loads:
    """The end-to-end loads: each on a data set of its own, its stores' opening counts applied first,
    then offered open loop while the backlog, the CPU of each process and the workers' batches are
    measured; the worker catches up after each."""

    def __init__(self, ctx: Context, settings, workers: Workers, api: Child, client, post, catch_up) -> None:
        self.ctx, self.plan, self.settings, self.workers, self.api = ctx, ctx.plan, settings, workers, api
        self.client, self.post, self.catch_up = client, post, catch_up
        self.expected: dict[str, int] = {}
        self.stores: list[str] = []
        self.count = 0
        self.backlog = Backlog(settings, workers)

    def close(self) -> None:
        self.backlog.close()

    def capacity(self) -> tuple[float, bool, list[dict]]:
        """(C, whether it was held flat for ``e2e_hold_s``, every load of the search)."""
        if self.plan.e2e_capacity > 0:
            return self.plan.e2e_capacity, False, []
        search: list[dict] = []

        def probe(rate: float, seconds: float, label: str) -> bool:
            step = self.offer(rate, seconds, label)
            search.append(_brief(step))
            return step["flat"]

        capacity, confirmed = search_capacity(self.plan, probe)
        return capacity, confirmed, search

    def offer(self, rate: float, seconds: float, label: str, share: float | None = None) -> dict:
        plan, workers = self.plan, self.workers
        rate = _rate(rate)
        k = self.count
        self.count += 1
        stores = plan.api_stores
        data: Dataset = generate(
            f"{label}-{k}",
            GenConfig(
                stores=stores,
                events_per_store_day=max(1, math.ceil(rate * seconds / stores)),
                skus=plan.skus,
                seed=plan.seed + 100 + k,
                store_ids=[f"e2e{k:02d}-{i:05d}" for i in range(stores)],
            ),
            messages=False,
        )
        opening = data.bodies[:stores] if data.gen.config.opening_count else []
        if any(b["type"] != "count" for b in opening):
            raise RuntimeError("the generator no longer starts with the stores' opening counts")
        self.expected.update(data.expected)
        self.stores.extend(data.stores)
        if opening:  # applied before the load: a steady day, not every store counting its shelves at once
            self.post(opening)
            self.catch_up(f"{label} opening counts applied")
        load = data.bodies[len(opening) :]
        path = save_bodies(load, self.ctx.root / "e2e-bodies" / f"{k:02d}-load.json")
        del data
        phase = {"kind": "e2e", "rate": rate, "count": len(load), "batch": plan.e2e_batch, "lookups_per_s": plan.e2e_lookups_per_s}
        pids = {"api": self.api.proc.pid, **{f"worker-{port}": pid for port, pid in zip(workers.ports, workers.pids())}}
        if self.ctx.broker.pid:
            pids["broker"] = self.ctx.broker.pid
        before = {name: cpu_s(pid) for name, pid in pids.items()}
        batches_before = batch_totals(workers)
        folded = self.ctx.root / "profiles" / f"{label}-{k:02d}.folded"
        spy = profile.start(workers.pids()[0], folded) if self.ctx.profile and share is not None else None
        self.backlog.start()
        try:
            with CpuSampler(pids) as sampler:
                out = self.client(label, [phase], 0, len(load), path)
        finally:
            samples = self.backlog.stop()
            if spy is not None:
                profile.stop(spy)
        step = out["phases"][0]
        step.pop("kind", None)
        cpu = {name: round((cpu_s(pid) - before[name]) / max(1, step["events"]) * 1e6, 1) for name, pid in pids.items()}
        batches = batch_totals(workers)
        step.update(
            label=label,
            share=share,
            workers=len(workers.pids()),
            retries=out["retries"],
            transport_errors=out["transport_errors"],
            cores_busy=sampler.cores(step["offered_seconds"], max(0.0, step["seconds"] - step["offered_seconds"])),
            cpu_us_per_event=cpu,
            worker_batches=_batch_delta(batches_before, batches),
            timeline=thin([tuple(x) for x in step["timeline"]], 120),
        )
        window = [(t - step["offer_started_at"], b) for t, b, _ in samples if step["offer_started_at"] <= t <= step["offer_ended_at"]]
        on_topic = [m for t, _, m in samples if step["offer_started_at"] <= t <= step["offer_ended_at"]]
        offered_msgs = (on_topic[-1] - on_topic[0]) / max(1e-9, window[-1][0] - window[0][0]) if len(window) > 1 else 0.0
        backlog = flatness(window, offered_msgs) if offered_msgs > 0 else flatness(window, 1.0)
        backlog.pop("flat", None)
        accepted = step["achieved_events_per_s"] / rate
        step["backlog"] = {**backlog, "offered_messages_per_s": round(offered_msgs, 1), "samples_every_s": SAMPLE_S}
        step["accepted_share"] = round(accepted, 3)
        slope = backlog.get("slope_vs_offered")
        # (over a short window, growth below a quarter second of the load is noise: a batch more or less)
        allowed = max(plan.e2e_flat_slope, 0.25 / max(1e-9, window[-1][0] - window[0][0])) if len(window) > 1 else plan.e2e_flat_slope
        step["backlog"]["flat_below"] = round(allowed, 4)
        step["flat"] = slope is not None and slope <= allowed and accepted >= ACCEPTED_SHARE
        step["drain_s"] = self.catch_up(f"{label} applied")
        if spy is not None and folded.exists():
            step["profile_worker"] = profile.summarize(folded, cpu.get(f"worker-{workers.ports[0]}"))
        print(
            f"[bench] {label}: offered {rate:,.0f} events/s, accepted {accepted:.1%}, backlog slope {slope} x offered "
            f"(max {backlog['max']}), {'flat' if step['flat'] else 'NOT flat'}; p50/p99 {step['p50_ms']}/{step['p99_ms']} ms "
            f"over {step['samples']} lookups; drained in {step['drain_s']} s",
            flush=True,
        )
        return step


ACCEPTED_SHARE = 0.97  # the API accepted at least this share of the offered rate (else the load is not offered)


def search_capacity(plan, probe: Callable[[float, float, str], bool]) -> tuple[float, bool]:
    """The highest rate ``probe(rate, seconds, label)`` finds flat: up from ``e2e_start_rate`` by
    ``e2e_growth`` (``e2e_probe_s`` each) to the first rate not flat (or ``e2e_max_rate``), then
    ``e2e_bisections`` between the last flat rate and it; the result is held for ``e2e_hold_s``, and
    if it is not flat then, 15 % less is held once more. Returns (C, held flat)."""
    rate, good, bad = _rate(plan.e2e_start_rate), 0.0, 0.0
    while True:
        if not probe(rate, plan.e2e_probe_s, "e2e-probe"):
            bad = rate
            break
        good = rate
        if rate >= plan.e2e_max_rate:
            break
        rate = _rate(min(plan.e2e_max_rate, rate * plan.e2e_growth))
    if bad:
        for _ in range(plan.e2e_bisections):
            mid = _rate((good + bad) / 2)
            if mid in (good, bad):
                break
            if probe(mid, plan.e2e_probe_s, "e2e-bisect"):
                good = mid
            else:
                bad = mid
    held = good or _rate(bad / 2)
    for attempt in range(2):
        if probe(held, plan.e2e_hold_s, "e2e-hold"):
            return held, True
        if attempt == 0:
            held = _rate(held * UNCONFIRMED_STEP)
    return held, False


def _rate(rate: float) -> float:
    return float(max(10, round(rate / 10) * 10))


def _brief(step: dict) -> dict:
    """A load of the capacity search as the result keeps it."""
    keep = ("label", "offered_events_per_s", "achieved_events_per_s", "accepted_share", "offered_seconds", "flat", "drain_s")
    return {
        **{k: step[k] for k in keep},
        "backlog": {
            k: step["backlog"].get(k) for k in ("slope_per_s", "slope_vs_offered", "flat_below", "max", "end", "offered_messages_per_s")
        },
        **{k: step[k] for k in ("p50_ms", "p99_ms", "samples")},
        "post_p99_ms": step["post"]["p99_ms"],
        "cores_busy": step["cores_busy"],
    }


def floor(step: dict) -> dict:
    """Where the time of a lookup goes at the lowest load: the POST (parse, the producer's linger,
    the broker's ack), then the rest (the worker's fetch wait, its batch and its outputs' acks, the
    lookup through the API), with the workers' own batch time beside it."""
    batches = step.get("worker_batches") or {}
    return {
        "offered_events_per_s": step["offered_events_per_s"],
        "p50_ms": step["p50_ms"],
        "post_p50_ms": step["sampled_post"]["p50_ms"],
        "after_post_p50_ms": step["after_post"]["p50_ms"],
        "worker_batch_mean_ms": batches.get("mean_ms"),
        "events_per_batch": batches.get("events_per_batch"),
    }


class Backlog:
    """Messages on the events topic the workers have not applied yet (the topic's high watermarks
    against the highest offset each partition's owner reports applied on /status), sampled on a
    thread of its own while a load runs: (wall-clock time, backlog, messages on the topic)."""

    def __init__(self, settings, workers: Workers) -> None:
        self.topic, self.partitions, self.workers = settings.events_topic, settings.partitions, workers
        self.consumer = Consumer(
            {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-e2e-backlog", "enable.auto.commit": False}
        )
        self.seen: dict[int, int] = {}  # highest applied offset seen per partition (a busy worker may not answer one poll)
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        for p, o in self.workers.applied().items():
            self.seen[p] = max(o, self.seen.get(p, -1))
        ends = [self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=5)[1] for p in range(self.partitions)]
        now = time.time()
        behind = sum(max(0, end - 1 - self.seen.get(p, -1)) for p, end in enumerate(ends))
        self.samples.append((now, behind, sum(ends)))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # a slow answer: the next sample will do
                print(f"[bench] end-to-end: backlog sample failed: {exc}", flush=True)
            self._stop.wait(SAMPLE_S)

    def start(self) -> None:
        self.samples = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="e2e-backlog", daemon=True)
        self._thread.start()

    def stop(self) -> list[tuple[float, int, int]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.samples

    def close(self) -> None:
        self.consumer.close()


_BATCH_METRICS = ("bazaar_stream_batch_seconds_sum", "bazaar_stream_batch_seconds_count", "bazaar_stream_batch_events_sum")


def batch_totals(workers: Workers) -> dict[str, float]:
    """The stock agent's batch counters summed over the workers' /metrics (a worker not answering counts 0)."""
    sums = dict.fromkeys(_BATCH_METRICS, 0.0)
    for port in workers.ports:
        if port not in workers.children:
            continue
        try:
            text = httpx.get(f"{workers.url(port)}/metrics", timeout=5, headers=workers.headers).text
        except httpx.HTTPError:
            continue
        for line in text.splitlines():
            name = line.split(" ", 1)[0].split("{", 1)[0]
            if name in sums:
                sums[name] += float(line.split()[-1])
    return sums


def _batch_delta(before: dict[str, float], after: dict[str, float]) -> dict:
    """Batches during a load: how many, events per batch, and the mean time from applying a batch
    to every output acked (``bazaar_stream_batch_seconds``)."""
    count = after["bazaar_stream_batch_seconds_count"] - before["bazaar_stream_batch_seconds_count"]
    if count <= 0:
        return {}
    return {
        "batches": int(count),
        "events_per_batch": round((after["bazaar_stream_batch_events_sum"] - before["bazaar_stream_batch_events_sum"]) / count, 1),
        "mean_ms": round((after["bazaar_stream_batch_seconds_sum"] - before["bazaar_stream_batch_seconds_sum"]) / count * 1000, 2),
    }
