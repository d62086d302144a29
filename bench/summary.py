"""`python -m bench.summary [--last N] [--stage KEY ...]`: the median and spread of the headline figures
over the last full runs, as a markdown table (printed, and written to ``--out``).

Every run writes ``bench/results/<stamp>-<mode>.json`` (``bench.cli``; a run of some stages is
``full-<stages>``); ``latest-*`` are copies and are skipped. A run counts for a figure when

* its plan is the one summarised (``full`` by default: ``--set`` makes a run ``custom``);
* the plan fields that figure depends on (``GROUPS``: the stream stage on ``main_*``, recovery on
  ``recovery_*``, ...) equal the current plan's (``bench/plan.py``): a run of another plan measured
  something else, however it is named;
* the stage that gives the figure passed with its stock exact, and the figure is in it.

Each figure takes the newest ``--last`` runs that count for it (a run of a few stages counts for
those alone), so its row says how many runs it is over. The hosts of the runs used (CPU model,
cores, load average at start and end, commit, stream core setting) are listed under the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.plan import FULL, QUICK, Plan

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# the plan fields (exact names, or prefixes ending in "_") each group of figures depends on
GROUPS: dict[str, tuple[str, ...]] = {
    "stream": ("seed", "skus", "main_"),
    "ingest": ("seed", "skus", "main_", "api_stores", "ingest_"),  # main_: the bare producer's figure it is compared with
    "e2e": ("seed", "skus", "api_stores", "e2e_"),
    "recovery": ("seed", "skus", "recovery_"),
    "scale": ("seed", "skus", "scale_"),
}

Stages = dict[str, dict]


@dataclass(frozen=True)
class Figure:
    label: str
    group: str  # which plan fields it depends on (GROUPS)
    stage: str  # the `bazaar bench --stages` key that measures it (for --stage)
    source: str  # the stage result it is read from: that result must be ok and exact
    digits: int
    get: Callable[[Stages], float | None]


def _field(name: str, key: str) -> Callable[[Stages], float | None]:
    return lambda by: _num(by[name].get(key))


def _num(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _step(share: float, key: str) -> Callable[[Stages], float | None]:
    def get(by: Stages) -> float | None:
        for step in by["end-to-end"].get("steps") or []:
            if step.get("workers", 1) == 1 and step.get("share") is not None and abs(step["share"] - share) < 1e-9:
                return _num(step.get(key))
        return None

    return get


def _ingest_500(by: Stages) -> float | None:
    """The best 500-event-per-POST cell's events/s over the bare producer's (the issue's ingest ratio)."""
    producer = by.get("raw-producer", {})
    if producer.get("status") != "ok" or not producer.get("events_per_s"):
        return None
    cells = [c["events_per_s"] for c in by["api-ingest"].get("cells") or [] if c.get("batch") == 500 and c.get("events_per_s")]
    return max(cells) / producer["events_per_s"] if cells else None


def _scale_point(stores: int, key: str) -> Callable[[Stages], float | None]:
    def get(by: Stages) -> float | None:
        return next((_num(p.get(key)) for p in by["scale"].get("points") or [] if p.get("stores") == stores), None)

    return get


def _rss_at(keys: int) -> Callable[[Stages], float | None]:
    def get(by: Stages) -> float | None:
        return next((_num(p.get("rss_mb")) for p in by["scale"].get("points") or [] if p.get("keys") == keys), None)

    return get


def _counts_flatness(by: Stages) -> float | None:
    """Compacted bytes per key flatness, from runs that measured it once every key had its opening count
    (before 05aba26 it was taken after the traffic, which gives a key more history the fewer the stores)."""
    points = by["scale"].get("points") or []
    if not points or any("counts_compacted_bytes_per_key" not in p for p in points):
        return None
    return _num(by["scale"].get("compacted_flatness"))


def figures(plan: Plan) -> list[Figure]:
    """The headline figures, for the shares of C and the store counts of ``plan``."""
    out = [
        Figure("bare producer, events/s", "stream", "raw", "raw-producer", 0, _field("raw-producer", "events_per_s")),
        Figure("raw consume loop, events/s", "stream", "raw", "raw-consumer", 0, _field("raw-consumer", "events_per_s")),
        Figure("raw consume loop, CPU µs/event", "stream", "raw", "raw-consumer", 1, _field("raw-consumer", "cpu_us_per_event")),
    ]
    for name, what in (
        ("peer-quix", "Quix peer, defaults"),
        ("peer-quix-like", "Quix peer, like for like"),
        ("peer-quix-work", "Quix peer, same work"),
        ("stream-1-worker", "stream stage, 1 worker"),
        ("stream-2-workers", "stream stage, 2 workers"),
    ):
        stage = "peer" if name.startswith("peer") else "stream"
        out += [
            Figure(f"{what} (`{name}`), events/s", "stream", stage, name, 0, _field(name, "events_per_s")),
            Figure(f"{what} (`{name}`), CPU µs/event", "stream", stage, name, 1, _field(name, "cpu_us_per_event")),
        ]
    for key, what in (
        ("peer_work", "the same-work peer"),
        ("peer_like", "the like-for-like peer"),
        ("peer", "the default peer"),
        ("raw_loop", "the raw loop"),
    ):
        out += [
            Figure(
                f"stream stage, 1 worker / {what}: events/s",
                "stream",
                "stream",
                "stream-1-worker",
                2,
                _field("stream-1-worker", f"vs_{key}"),
            ),
            Figure(
                f"stream stage, 1 worker / {what}: CPU per event (theirs / ours)",
                "stream",
                "stream",
                "stream-1-worker",
                2,
                _field("stream-1-worker", f"cpu_vs_{key}"),
            ),
        ]
    out += [
        Figure("API ingest, best cell, events/s", "ingest", "api", "api-ingest", 0, _field("api-ingest", "events_per_s")),
        Figure("API ingest, best cell / bare producer", "ingest", "api", "api-ingest", 2, _field("api-ingest", "vs_raw_producer")),
        Figure("API ingest, 500 events per POST / bare producer", "ingest", "api", "api-ingest", 2, _ingest_500),
        Figure("API ingest, single-event POSTs, events/s", "ingest", "api", "api-ingest", 0, _field("api-ingest", "singles_events_per_s")),
        Figure(
            "API ingest, single-event POSTs, API CPU µs/event",
            "ingest",
            "api",
            "api-ingest",
            0,
            _field("api-ingest", "single_api_cpu_us_per_event"),
        ),
        Figure("end to end, capacity C, events/s", "e2e", "api", "end-to-end", 0, _field("end-to-end", "capacity_events_per_s")),
    ]
    for share in plan.e2e_shares:
        for key, what in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
            out.append(Figure(f"end to end at {share:.0%} of C, {what} ms", "e2e", "api", "end-to-end", 1, _step(share, key)))
    out += [
        Figure("end to end, 2 workers, p99 ms", "e2e", "api", "end-to-end-2-workers", 1, _field("end-to-end-2-workers", "p99_ms")),
        Figure(
            "recovery, intact disk: restart -> /health, s", "recovery", "recovery", "recovery", 2, _field("recovery", "restart_to_health_s")
        ),
        Figure(
            "recovery, intact disk: restart -> correct lookups, s",
            "recovery",
            "recovery",
            "recovery",
            2,
            _field("recovery", "restart_to_correct_s"),
        ),
        Figure(
            "recovery, empty disk: restart -> /health, s",
            "recovery",
            "recovery",
            "recovery",
            2,
            _field("recovery", "empty_restart_to_health_s"),
        ),
        Figure(
            "recovery, empty disk: restart -> correct lookups, s",
            "recovery",
            "recovery",
            "recovery",
            2,
            _field("recovery", "empty_restart_to_correct_s"),
        ),
        Figure("scale flatness", "scale", "scale", "scale", 2, _field("scale", "flatness")),
        Figure("scale flatness, events/s", "scale", "scale", "scale", 2, _field("scale", "rate_flatness")),
        Figure("scale flatness, CPU per event", "scale", "scale", "scale", 2, _field("scale", "cpu_flatness")),
    ]
    for stores in plan.scale_stores:
        out += [
            Figure(f"scale, {stores:,} stores: events/s", "scale", "scale", "scale", 0, _scale_point(stores, "events_per_s")),
            Figure(f"scale, {stores:,} stores: CPU µs/event", "scale", "scale", "scale", 1, _scale_point(stores, "cpu_us_per_event")),
        ]
    two_million = [s for s in plan.scale_stores if s * plan.skus == 2_000_000]
    if two_million:
        out.append(Figure("worker RSS at 2 M keys, MB", "scale", "scale", "scale", 0, _rss_at(2_000_000)))
    out.append(Figure("RocksDB bytes per key flatness (compacted, after the counts)", "scale", "scale", "scale", 2, _counts_flatness))
    return out


def load_runs(results: Path, mode: str) -> list[dict]:
    """Every run of ``mode``'s plan in ``results`` (``full``, or some stages of it: ``full-recovery``),
    oldest first (by start time); copies (``latest-*``) and unreadable files skipped."""
    runs = []
    for path in sorted(results.glob("*.json")):
        if path.name.startswith("latest-"):
            continue
        try:
            run = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(run, dict) or not isinstance(run.get("stages"), list) or not isinstance(run.get("mode"), str):
            continue
        if (run["mode"] == mode or run["mode"].startswith(mode + "-")) and (run.get("plan") or {}).get("mode", mode) == mode:
            run["_file"] = path.name
            runs.append(run)
    return sorted(runs, key=lambda r: (str(r.get("started_at", "")), r["_file"]))


def plan_matches(run: dict, reference: dict, group: str) -> bool:
    """The run's plan has the reference's values for every field the group depends on."""
    plan = run.get("plan") or {}
    for name, value in reference.items():
        if any(name == g or (g.endswith("_") and name.startswith(g)) for g in GROUPS[group]):
            if name not in plan or _json(plan[name]) != _json(value):
                return False
    return True


def _json(value):
    return json.loads(json.dumps(value))  # tuples as lists, as the runs' JSON holds them


def summarize(runs: list[dict], plan: Plan, last: int, stages: set[str] | None = None, since: str = "") -> list[dict]:
    """One row per figure: median, min, max over the newest ``last`` runs that count for it, and which;
    ``since``: only runs started at or after this ISO time (the runs of the final code)."""
    reference = _json(asdict(plan))
    rows = []
    for fig in figures(plan):
        if stages and fig.stage not in stages:
            continue
        values: list[tuple[dict, float]] = []
        for run in reversed(runs):
            if len(values) >= last:
                break
            if since and str(run.get("started_at", "")) < since:
                continue
            by = {s.get("name"): s for s in run["stages"]}
            source = by.get(fig.source)
            if not source or source.get("status") != "ok" or source.get("exact") is False:
                continue
            if not plan_matches(run, reference, fig.group):
                continue
            value = fig.get(by)
            if value is not None:
                values.append((run, value))
        nums = [v for _, v in values]
        rows.append(
            {
                "figure": fig.label,
                "stage": fig.stage,
                "digits": fig.digits,
                "median": statistics.median(nums) if nums else None,
                "min": min(nums) if nums else None,
                "max": max(nums) if nums else None,
                "runs": len(nums),
                "files": [r["_file"] for r, _ in values],
            }
        )
    return rows


def _fmt(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def markdown(rows: list[dict], runs: list[dict], mode: str, last: int) -> str:
    used = {f for r in rows for f in r["files"]}
    out = [
        f"# Benchmark summary: the last {last} {mode} runs\n\n",
        f"Median and spread (min - max) of each headline figure over the newest {last} `{mode}` runs that measured it "
        "with the current plan's sizes for it (`bench/plan.py`), their stage passed and their stock exact "
        "(`python -m bench.summary`). Ratios are taken within each run, then their median.\n",
        "\n| figure | median | min - max | runs |\n|---|---|---|---|\n",
    ]
    for r in rows:
        spread = "-" if r["min"] is None else f"{_fmt(r['min'], r['digits'])} - {_fmt(r['max'], r['digits'])}"
        out.append(f"| {r['figure']} | {_fmt(r['median'], r['digits'])} | {spread} | {r['runs']} |\n")
    hosts = [run for run in runs if run["_file"] in used]
    if hosts:
        out.append("\nRuns used (host: CPU model, cores; load average, 1 minute, at start -> at end):\n\n")
        out.append("| run | commit | CPU | cores | load average | stream core |\n|---|---|---|---|---|---|\n")
        for run in reversed(hosts):
            m, git = run.get("machine") or {}, run.get("git") or {}
            load = f"{_load(m.get('loadavg_start'))} -> {_load(m.get('loadavg_end'))}"
            dirty = f" (+{git['uncommitted_changes']} uncommitted)" if git.get("uncommitted_changes") else ""
            out.append(
                f"| {run['_file']} | {git.get('commit', '?')}{dirty} | {m.get('cpu_model', '?')} | {m.get('cores', '?')} | "
                f"{load} | {m.get('stream_core') or '-'} |\n"
            )
    else:
        out.append("\nNo run counts for these figures yet.\n")
    return "".join(out)


def _load(v) -> str:
    return f"{v[0]:.2f}" if isinstance(v, list) and v else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("--last", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--stage", action="append", default=[], help="only the figures of these `bazaar bench --stages` keys (repeatable)")
    parser.add_argument("--mode", default="full", choices=("full", "quick"), help="which runs (default full)")
    parser.add_argument("--since", default="", help="only runs started at or after this time (ISO, UTC: 2026-12-06T03:00)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the runs' JSON is (default bench/results/)")
    parser.add_argument("--out", type=Path, help="also write the markdown here (default bench/results/summary-<mode>.md; '-': do not)")
    args = parser.parse_args(argv)
    if args.last < 1:
        parser.error("--last must be at least 1")
    stages = {s.strip() for item in args.stage for s in item.split(",") if s.strip()} or None
    plan = FULL if args.mode == "full" else QUICK
    runs = load_runs(args.results, args.mode)
    rows = summarize(runs, plan, args.last, stages, args.since)
    text = markdown(rows, runs, args.mode, args.last)
    print(text, end="")
    out = args.out or args.results / f"summary-{args.mode}.md"
    if str(out) != "-":
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
