"""What ``POST /v1/events`` costs a running ``bazaar api``, and two versions of it side by side.

One embedded broker; one ``bazaar api`` per source tree given (``--tree NAME=PATH``, default: this
checkout as ``now``; another tree is e.g. ``git archive <commit> | tar -x -C DIR``), each on topics
of its own with access required, as deployed. First each API is left idle for ``--idle`` seconds
(its CPU then is what it spends without requests: the views' consumers, the producer's threads),
and sent the stores' opening counts, unmeasured. Then, round after round, each cell
(events a POST x concurrent clients x events, ``bench.children.api_client``) posts the same slice
of bodies to every API in turn, the order alternating from round to round. CPU is each API
process's (``/proc/PID/stat``), per event, summed over the rounds; ratios are within this run.

``--spy NAME:BATCH``: py-spy (``--py-spy PATH``; ``--spy-args``, default ``--gil``: only what holds
the GIL, so waiting threads are left out) samples that API during that batch size's cells of the last
round; the raw folded stacks are written to the work dir. ``python -m bench.ingest_serve --tree now=. --tree base=DIR``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bazaar_core.client_auth import API_KEY_ENV
from bazaar_core.kafka.local import LocalKafka
from bazaar_core.loadgen.generator import GenConfig
from bazaar_core.settings import Settings
from bench import auth
from bench.context import Context
from bench.data import generate, save_bodies
from bench.plan import FULL
from bench.procs import cpu_s, high_watermarks, local_settings, run_child, settings_env

CELLS = "1x1x1000,1x4x3000,10x4x6000,100x4x20000,500x4x30000"


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far of each of a process's threads, summed by thread name (librdkafka names its
    own: rdk:main, rdk:broker*; Python's threads are all the process's name)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        name = "rdk:broker" if name.startswith("rdk:broker") else name
        name = "main thread" if task.name == str(pid) else name
        fields = stat.rpartition(")")[2].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS
    return out


TICKS = os.sysconf("SC_CLK_TCK")


def parse_cells(text: str) -> list[dict]:
    out = []
    for item in text.split(","):
        batch, conc, count = (int(x) for x in item.split("x"))
        out.append({"kind": "ingest", "batch": batch, "concurrency": conc, "count": count})
    return out


class Api:
    def __init__(self, name: str, tree: Path, settings: Settings, log_dir: Path) -> None:
        self.name, self.tree, self.settings = name, tree.resolve(), settings
        self.log = log_dir / f"api-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = settings_env(self.settings)
        env["PYTHONPATH"] = str(self.tree)  # this tree's packages, not the checkout's
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bazaar.cli", "api"],
                cwd=self.tree,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.settings.api_port}/health"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"api {self.name} exited; see {self.log}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"api {self.name} not healthy after {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH (repeatable; default now=.)")
    parser.add_argument("--cells", default=CELLS, help="BATCHxCONCURRENCYxEVENTS,...")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds each API is left idle first")
    parser.add_argument("--spy", default=None, help="NAME:BATCH: py-spy that API during that batch size's cells, last round")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--spy-args", default="--gil", help="more py-spy record options (default --gil: CPU on the GIL only)")
    parser.add_argument("--out", default=None, help="the result (JSON); default: print only")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"now": "."}
    cells = parse_cells(args.cells)
    spy_side, spy_batch = (args.spy.split(":")[0], int(args.spy.split(":")[1])) if args.spy else (None, None)

    root = Path(tempfile.mkdtemp(prefix="bazaar-ingest-serve-"))
    base = local_settings(root)
    load_start = os.getloadavg()
    started = time.monotonic()
    result: dict = {"bench": "ingest_serve", "trees": trees, "cells": []}
    with LocalKafka(base) as broker:
        ctx = Context(FULL, root, base, broker)
        per_round = sum(c["count"] for c in cells)
        data = generate(
            "serve",
            GenConfig(stores=250, events_per_store_day=math.ceil(args.rounds * per_round / 250), skus=200, seed=43),
            messages=False,
        )
        opening = next(i for i, b in enumerate(data.bodies) if b["type"] != "count")
        bodies = save_bodies(data.bodies[: opening + args.rounds * per_round], root / "bodies.json")
        apis: dict[str, Api] = {}
        keys: dict[str, str] = {}
        for name, tree in trees.items():
            settings = ctx.settings(f"serve-{name}", rate_limits=auth.UNLIMITED, auth_rate_per_address=auth.PER_ADDRESS)
            ctx.ensure_topics(settings)
            keys[name] = auth.admin_key(settings)
            apis[name] = Api(name, Path(tree), settings, ctx.log_dir)

        def post(name: str, cell: dict, start: int) -> tuple[float, int, dict]:
            api = apis[name]
            before, threads = cpu_s(api.pid), thread_cpu(api.pid)
            out = run_child(
                "bench.children.api_client",
                ["--url", f"http://127.0.0.1:{api.settings.api_port}", "--bodies", str(bodies), "--start", str(start)]
                + ["--phases", json.dumps([cell])],
                stage=f"serve-{name}-{cell['batch']}x{cell['concurrency']}",
                total=cell["count"],
                log_dir=ctx.log_dir,
                timeout=1800,
                env={API_KEY_ENV: keys[name]},
            )
            after = thread_cpu(api.pid)
            by_thread = {k: round(v - threads.get(k, 0.0), 3) for k, v in after.items()}
            return cpu_s(api.pid) - before, out["next"], {**out["phases"][0], "cpu_s_by_thread": by_thread}

        try:
            for api in apis.values():
                api.start()
            for api in apis.values():
                api.wait_healthy(120)
            time.sleep(2.0)  # start-up settles (views read, first metadata)
            idle_before = {n: cpu_s(a.pid) for n, a in apis.items()}
            time.sleep(args.idle)
            result["idle_cpu_share"] = {n: round((cpu_s(a.pid) - idle_before[n]) / args.idle, 4) for n, a in apis.items()}
            for name in apis:
                post(name, {"kind": "ingest", "batch": 10, "concurrency": 4, "count": opening}, 0)
            totals = {(n, i): [0.0, 0, []] for n in apis for i in range(len(cells))}
            at = opening
            for round_no in range(args.rounds):
                for i, cell in enumerate(cells):
                    order = list(apis) if round_no % 2 == 0 else list(reversed(apis))
                    ends = set()
                    for name in order:
                        spy = None
                        if name == spy_side and cell["batch"] == spy_batch and round_no == args.rounds - 1:
                            folded = root / f"spy-{name}-{cell['batch']}x{cell['concurrency']}.txt"
                            spy = subprocess.Popen(
                                [args.py_spy, "record", "--pid", str(apis[name].pid), "--rate", "250", "--format", "raw"]
                                + ["--output", str(folded), *args.spy_args.split()],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                            )
                            time.sleep(1.0)
                        used, end, phase = post(name, cell, at)
                        if spy is not None:
                            spy.send_signal(signal.SIGINT)
                            spy.wait(60)
                            result.setdefault("profiles", []).append(str(folded))
                        total = totals[(name, i)]
                        total[0] += used
                        total[1] += cell["count"]
                        total[2].append(phase)
                        ends.add(end)
                    at = ends.pop()
            for i, cell in enumerate(cells):
                row: dict = {"batch": cell["batch"], "concurrency": cell["concurrency"], "events_each": totals[(next(iter(apis)), i)][1]}
                for name in apis:
                    cpu, events, phases = totals[(name, i)]
                    row[name] = {
                        "api_cpu_us_per_event": round(cpu / events * 1e6, 1),
                        "events_per_s": sorted(p["events_per_s"] for p in phases)[len(phases) // 2],
                        "p50_ms": sorted(p["p50_ms"] for p in phases)[len(phases) // 2],
                        "cpu_us_per_event_by_thread": {
                            k: round(sum(p["cpu_s_by_thread"].get(k, 0.0) for p in phases) / events * 1e6, 1)
                            for k in sorted({k for p in phases for k in p["cpu_s_by_thread"]})
                        },
                    }
                names = list(apis)
                if len(names) == 2:
                    a, b = names
                    row[f"{a}/{b}"] = round(row[a]["api_cpu_us_per_event"] / row[b]["api_cpu_us_per_event"], 3)
                result["cells"].append(row)
            result["on_topic"] = {
                n: sum(high_watermarks(a.settings.kafka_bootstrap, a.settings.events_topic, a.settings.partitions).values())
                for n, a in apis.items()
            }
        finally:
            for api in apis.values():
                api.stop()
    result["seconds"] = round(time.monotonic() - started, 1)
    result["load_average"] = {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
