"""`bazaar bench [--quick]`: every benchmark stage on one local broker it starts itself, with the same
generated events; results as JSON and markdown under bench/results/. Exit 1 if any stage failed or any
final stock differs from the generator's expected totals."""

from __future__ import annotations

import argparse
import importlib
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.stages import STAGES, result

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a few seconds of work per stage (a smoke test)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of: {', '.join(STAGES)} (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where results go (default bench/results/)")
    parser.add_argument("--seed", type=int, help="generator seed (default 42)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (broker, worker data, logs)")
    parser.add_argument(
        "--profile", action="store_true", help="sample the stream/scale workers with py-spy (pip install py-spy) and report where time goes"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        dest="overrides",
        help="override one field of the plan (bench/plan.py) for this run, e.g. "
        "--set 'e2e_capacity=2000' --set 'ingest_batches=[500]'; repeatable",
    )


def run(args: argparse.Namespace) -> int:
    from bazaar_core.kafka.local import KafkaSetupError, LocalKafka
    from bench import report
    from bench.context import Context
    from bench.plan import plan_for
    from bench.procs import local_settings

    chosen = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        print(f"bazaar bench: unknown stage(s) {unknown}; choose from {list(STAGES)}", file=sys.stderr)
        return 2
    from bench import profile

    if args.profile and not profile.available():
        print("bazaar bench: --profile needs py-spy on PATH (pip install py-spy)", file=sys.stderr)
        return 2
    try:
        plan = plan_for(args.quick, args.seed, args.overrides)
    except ValueError as exc:
        print(f"bazaar bench: {exc}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix=f"bazaar-bench-{plan.mode}-"))
    base = local_settings(root)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    # a run of some stages is no full (or quick) run: named after its stages, it never lands on latest-full.*
    mode = plan.mode if chosen == list(STAGES) else f"{plan.mode}-{'+'.join(chosen)}"
    run_info = {
        "mode": mode,
        "started_at": started_at.isoformat(timespec="seconds"),
        "plan": plan.__dict__,
        "machine": report.machine(),
        "versions": report.versions(base.kafka_version),
        "git": report.git_state(),
    }
    print(f"[bench] {plan.mode} run: stages {', '.join(chosen)}; broker on {base.kafka_bootstrap}; work dir {root}", flush=True)
    stages: list[dict] = []
    broker = LocalKafka(base)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM (and SIGINT, even in a background job) stop cleanly
    signal.signal(signal.SIGINT, _interrupt)
    try:
        with broker:
            ctx = Context(plan, root, base, broker, profile=args.profile)
            for key in chosen:
                stages.extend(_run_stage(ctx, key))
    except KafkaSetupError as exc:
        print(exc, file=sys.stderr)
        stages.append(result("broker", status="failed", error=str(exc)))
    except KeyboardInterrupt:
        stages.append(result("interrupted", status="failed", error="interrupted"))
    run_info["seconds"] = round(time.monotonic() - started, 1)
    run_info["machine"]["loadavg_end"] = report.loadavg()
    report.add_ratios(stages)
    run_info["stages"] = stages
    run_info["targets"] = report.targets(stages)
    run_info["ok"] = (
        all(s["status"] in ("ok", "not_available") for s in stages)
        and all(s.get("exact") is not False for s in stages)
        and all(s.get("exact") is True for s in stages if s["status"] == "ok")
    )
    paths = report.write(run_info, args.out)
    print(report.markdown(run_info).split("## Targets")[0], flush=True)
    print(f"[bench] results: {', '.join(str(p) for p in paths)}", flush=True)
    if run_info["ok"] and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"[bench] work dir kept: {root}", flush=True)
    print(f"[bench] {'PASS' if run_info['ok'] else 'FAIL'} in {run_info['seconds']:.0f} s", flush=True)
    return 0 if run_info["ok"] else 1


def _interrupt(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _run_stage(ctx, key: str) -> list[dict]:
    from bench.report import loadavg

    module = importlib.import_module(STAGES[key])
    load_before = loadavg()
    started = time.monotonic()
    print(f"[bench] === stage {key}", flush=True)
    try:
        out = module.run(ctx)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a failed stage is reported; the other stages still run
        traceback.print_exc()
        out = [result(key, status="failed", exact=False, error=f"{type(exc).__name__}: {exc}"[:2000])]
    for r in out:
        r.setdefault("stage_seconds", round(time.monotonic() - started, 1))
        r.setdefault("loadavg", {"before": load_before, "after": loadavg()})
        ctx.results[r["name"]] = r
        exact = r.get("exact")
        print(
            f"[bench] {r['name']}: {r['status']}, events/s {r.get('events_per_s')}, exact {exact}"
            + (f", error: {r['error'][:300]}" if r.get("error") else ""),
            flush=True,
        )
    return out
