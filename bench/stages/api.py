"""API ingest and end to end: ``bazaar api`` + ``bazaar worker``, load from a client in its own process.

1. ingest: every (batch size, client concurrency) cell posts its own slice of the generated events
   as fast as the API accepts them (202 = acked by Kafka); events/s, POST latency and the API
   process's CPU per event, per cell (one client run each). No worker runs meanwhile: like the
   bare producer it is compared with, the API has the machine to itself and the broker (a worker
   applying the same events at this rate would need several cores of its own);
2. the worker starts and catches up; from here on it runs all along, as in production;
3. end to end: steady offered loads (open loop); for every n-th POST, time from the POST's start to
   the change being visible in a lookup with the POST's read-your-writes token; then a second worker
   joins (the group rebalances before the clock starts) and the highest load is offered again;
4. the rest of the generated events is posted, the worker catches up, and every key's stock is
   checked against the generator: both results carry that check.

Access is on, as deployed: the stack is set up with ``bazaar auth init``, the load client exchanges
the admin key for access tokens, the API asks the workers with its service token. What that costs
the ingest route, against an API without auth, is the ``auth-cost`` stage's.
"""

from __future__ import annotations

import json
import math
import time

from bazaar_core.client_auth import API_KEY_ENV
from bazaar_core.loadgen.generator import GenConfig
from bazaar_core.supervisor import Child
from bench import auth, profile
from bench.context import Context
from bench.data import compare, generate, save_bodies, worker_stock
from bench.procs import CpuSampler, Workers, cpu_s, free_ports, high_watermarks, proc_status, run_child
from bench.stages import exactness, result


def run(ctx: Context) -> list[dict]:
    plan = ctx.plan
    ingest = [
        {"kind": "ingest", "batch": b, "concurrency": c, "count": plan.ingest_single_events if b == 1 else plan.ingest_batch_events}
        for b in plan.ingest_batches
        for c in plan.ingest_concurrency
    ]
    e2e = [
        {"kind": "e2e", "rate": rate, "seconds": seconds, "batch": plan.e2e_batch, "lookups_per_s": plan.e2e_lookups_per_s}
        for rate, seconds in plan.e2e_steps
    ]
    e2e_scaled = [{**e2e[-1]}]  # the highest load again, with two workers
    ingest_events = sum(p["count"] for p in ingest)
    e2e_events = sum(round(p["rate"] * p["seconds"]) for p in e2e)
    needed = ingest_events + e2e_events + sum(round(p["rate"] * p["seconds"]) for p in e2e_scaled)
    data = generate(
        "api",
        GenConfig(stores=plan.api_stores, events_per_store_day=math.ceil(needed / plan.api_stores), skus=plan.skus, seed=plan.seed + 1),
        messages=False,
    )
    rest = data.events - needed
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

    def client(stage: str, phases: list[dict], start: int, total: int) -> dict:
        return run_child(
            "bench.children.api_client",
            ["--url", url, "--bodies", str(bodies), "--start", str(start), "--phases", json.dumps(phases)],
            stage=stage,
            total=total,
            log_dir=ctx.log_dir,
            timeout=plan.stage_timeout_s,
            env={API_KEY_ENV: key} if key else None,
        )

    def measured_client(stage: str, phases: list[dict], start: int, total: int) -> tuple[dict, dict]:
        """``client``, and the CPU the API and the workers used per event meanwhile (with --profile, the
        first worker sampled with py-spy: folded stacks under the run's profiles/)."""
        pids = {"api": api.proc.pid, **{f"worker-{port}": pid for port, pid in zip(workers.ports, workers.pids())}}
        before = {name: cpu_s(pid) for name, pid in pids.items()}
        folded = ctx.root / "profiles" / f"{stage}.folded"
        spy = profile.start(workers.pids()[0], folded) if ctx.profile else None
        try:
            with CpuSampler({**pids, **({"broker": ctx.broker.pid} if ctx.broker.pid else {})}) as sampler:
                out = client(stage, phases, start, total)
        finally:
            if spy is not None:
                profile.stop(spy)
        posted = sum(p["events"] for p in out["phases"]) or 1
        cpu = {name: round((cpu_s(pid) - before[name]) / posted * 1e6, 1) for name, pid in pids.items()}
        if spy is not None and folded.exists():
            cpu["profile_worker"] = profile.summarize(folded, cpu[f"worker-{workers.ports[0]}"])
        # cores busy during each end-to-end step (the machine, each process, the rest: the client),
        # from its end back: the phases ran one after another and the client stopped after the last
        after = 0.0
        for phase in reversed(out["phases"]):
            if phase["kind"] == "e2e":
                phase["cores_busy"] = sampler.cores(phase["seconds"], after)
            after += phase["seconds"]
        return out, cpu

    def catch_up(stage: str) -> float:
        started = time.monotonic()
        targets = {p: hw - 1 for p, hw in high_watermarks(settings.kafka_bootstrap, settings.events_topic, settings.partitions).items()}
        workers.wait_applied(targets, stage=stage, total_events=sum(hw + 1 for hw in targets.values()), timeout=plan.stage_timeout_s)
        return round(time.monotonic() - started, 2)

    try:
        api.wait_healthy(120)
        api_cpu, at, cells, ingested = 0.0, 0, [], {"retries": 0, "transport_errors": 0}
        for phase in ingest:  # one client run per cell, so each cell gets the API's CPU of its own
            before = cpu_s(api.proc.pid)
            one = client("api-ingest", [phase], at, phase["count"])
            cpu = cpu_s(api.proc.pid) - before
            api_cpu += cpu
            at = one["next"]
            cells.append({**one["phases"][0], "api_cpu_us_per_event": round(cpu / phase["count"] * 1e6, 1)})
            ingested = {k: ingested[k] + one[k] for k in ("retries", "transport_errors")}
        workers.start([settings.worker_port])
        workers.wait_healthy(120)
        ingest_drain_s = catch_up("api-ingest-catch-up")
        tail = [{"kind": "ingest", "batch": 500, "concurrency": 4, "count": rest}] if rest > 0 else []
        ended, e2e_cpu = measured_client("end-to-end", e2e, ingest_events, e2e_events)
        e2e_drain_s = catch_up("end-to-end-catch-up")
        workers.add(second)
        scaled, scaled_cpu = measured_client(
            "end-to-end-2-workers", e2e_scaled + tail, ingest_events + e2e_events, data.events - ingest_events - e2e_events
        )
        scaled_drain_s = catch_up("end-to-end-2-workers-catch-up")
        memory = {"api": proc_status(api.proc.pid), "worker": proc_status(workers.pids()[0])}  # the one worker of every step
        started = time.monotonic()
        check = compare(data.expected, worker_stock(workers.url(), data.stores, headers=workers.headers))
        verify_s = round(time.monotonic() - started, 2)
    finally:
        api.stop()
        workers.stop()

    batched = [c for c in cells if c["batch"] > 1]
    singles = [c for c in cells if c["batch"] == 1]
    best = max(batched or cells, key=lambda c: c["events_per_s"])
    steps = [{**p, "workers": 1} for p in ended["phases"] if p["kind"] == "e2e"]
    scaled_steps = [{**p, "workers": 2} for p in scaled["phases"] if p["kind"] == "e2e"]
    headline, scaled_headline = steps[-1], scaled_steps[-1]
    shared = {
        "rss_mb": {"api": round(memory["api"]["rss_kb"] / 1024, 1), "worker": round(memory["worker"]["rss_kb"] / 1024, 1)},
        "peak_rss_mb": {"api": round(memory["api"]["hwm_kb"] / 1024, 1), "worker": round(memory["worker"]["hwm_kb"] / 1024, 1)},
        "verify_s": verify_s,
        **exactness(check),
    }
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
            events=sum(s["events"] for s in steps),
            events_per_s=headline["achieved_events_per_s"],
            offered_events_per_s=headline["offered_events_per_s"],
            p50_ms=headline["p50_ms"],
            p99_ms=headline["p99_ms"],
            max_ms=headline["max_ms"],
            samples=headline["samples"],
            timeouts=headline["timeouts"],
            steps=steps + scaled_steps,
            workers=1,
            worker_drain_after_s=e2e_drain_s,
            cpu_us_per_event_by_process=e2e_cpu,
            **shared,
            note=f"1 worker; open-loop POSTs of {plan.e2e_batch} events; latency = POST start -> lookup (after=token) answers "
            f"with the change; {ended['retries']} POSTs answered 503 and {ended['transport_errors']} requests lost "
            f"their connection (both retried); headline: the last (highest) offered load",
            retries=ended["retries"],
            transport_errors=ended["transport_errors"],
        ),
        result(
            "end-to-end-2-workers",
            kind="latency",
            events=sum(s["events"] for s in scaled_steps),
            events_per_s=scaled_headline["achieved_events_per_s"],
            offered_events_per_s=scaled_headline["offered_events_per_s"],
            p50_ms=scaled_headline["p50_ms"],
            p99_ms=scaled_headline["p99_ms"],
            max_ms=scaled_headline["max_ms"],
            samples=scaled_headline["samples"],
            timeouts=scaled_headline["timeouts"],
            workers=2,
            worker_drain_after_s=scaled_drain_s,
            cpu_us_per_event_by_process=scaled_cpu,
            **shared,
            note=f"as end-to-end at the highest load, after a second worker joined (the group rebalanced before the "
            f"clock started); {scaled['retries']} POSTs answered 503 and {scaled['transport_errors']} requests lost "
            f"their connection (both retried)",
            retries=scaled["retries"],
            transport_errors=scaled["transport_errors"],
        ),
    ]
