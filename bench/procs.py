"""Processes of a benchmark run: the broker, worker/API children, helper children, and what they use.

* ``free_ports``, ``rss_kb`` (``/proc/PID/status``: psutil is not required), ``du_bytes``;
* ``Ticker``: the progress display, one line a second (stage, done/total, rate);
* ``run_child``: a ``python -m bench.children.X`` process that prints ``progress N`` lines and
  writes its result as JSON to a file; the parent shows its progress and reads the result;
* ``Workers``: ``bazaar worker`` processes (``bazaar_core.supervisor.Child``) and the wait until their
  ``/status`` shows every partition applied up to the topic's high watermark.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition

from bazaar_core.settings import Settings, get_settings
from bazaar_core.supervisor import Child, tail
from bench import auth


class StageError(RuntimeError):
    """A stage could not finish (a child died, a wait timed out); the stage is marked failed."""


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def local_settings(root: Path) -> Settings:
    """Settings for a broker of the run's own on free loopback ports, data under ``root``; the rest
    (Kafka version, heap, partitions, log level) from the environment's defaults."""
    defaults = get_settings()
    port, controller = free_ports(2)
    return Settings(
        data_dir=root,
        kafka_bootstrap=f"127.0.0.1:{port}",
        kafka_controller_port=controller,
        kafka_cache_dir=defaults.kafka_cache_dir,
        kafka_version=defaults.kafka_version,
        kafka_heap=defaults.kafka_heap,
        kafka_jvm_opts=defaults.kafka_jvm_opts,
        partitions=defaults.partitions,
        log_level=defaults.log_level,
    )


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process in kB, from /proc (0 when it is gone)."""
    out = {"rss_kb": 0, "hwm_kb": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_kb"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["hwm_kb"] = int(line.split()[1])
    except OSError:
        pass
    return out


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used so far, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu_s() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, summed over its cores, from /proc/stat:
    busy is every state but idle and iowait. Over a window, busy / all x cores = cores busy."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields) - idle) / _TICKS, sum(fields) / _TICKS


class CpuSampler:
    """Samples, once a second on a thread of its own, the machine's busy CPU and each named
    process's CPU; ``cores(seconds)`` gives cores busy over the last ``seconds`` sampled (the
    machine, each process, and the rest: processes not named, such as a load client)."""

    def __init__(self, pids: dict[str, int], every_s: float = 1.0) -> None:
        self.pids, self.every_s = pids, every_s
        self.samples: list[tuple[float, float, float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _sample(self) -> None:
        busy, whole = machine_cpu_s()
        self.samples.append((time.monotonic(), busy, whole, {name: cpu_s(pid) for name, pid in self.pids.items()}))

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def cores(self, seconds: float, before_end_s: float = 0.0) -> dict[str, float]:
        """Cores busy over the ``seconds`` that ended ``before_end_s`` before the last sample."""
        if len(self.samples) < 2:
            return {}
        last = self.samples[-1][0] - before_end_s
        end = next((s for s in reversed(self.samples) if s[0] <= last + self.every_s / 2), self.samples[0])
        start = next((s for s in self.samples if s[0] >= end[0] - seconds - self.every_s / 2), self.samples[0])
        if start is end:
            return {}
        wall = end[0] - start[0]
        whole = end[2] - start[2]
        machine = (end[1] - start[1]) / whole * (os.cpu_count() or 1) if whole > 0 else 0.0
        out = {"machine": round(machine, 2)}
        for name in self.pids:
            out[name] = round((end[3][name] - start[3][name]) / wall, 2) if wall > 0 else 0.0
        out["rest"] = round(max(0.0, machine - sum(out[name] for name in self.pids)), 2)
        out["seconds"] = round(wall, 1)
        return out


def rss_mb(pid: int | str = "self") -> float:
    return round(proc_status(pid)["rss_kb"] / 1024, 1)


def du_bytes(path: Path) -> int:
    """Bytes on disk under ``path`` (allocated blocks, like ``du``)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


class Ticker:
    """Prints ``[bench] STAGE  done/total  rate/s`` at most once a second (and once at the end)."""

    def __init__(self, stage: str, total: int, unit: str = "events") -> None:
        self.stage, self.total, self.unit = stage, total, unit
        self.started = self.last = time.monotonic()
        self.last_done = 0

    def update(self, done: int, force: bool = False, note: str = "") -> None:
        now = time.monotonic()
        if not force and now - self.last < 1.0:
            return
        rate = (done - self.last_done) / max(1e-9, now - self.last)
        self.last, self.last_done = now, done
        print(
            f"[bench] {self.stage:<22} {done:>10,}/{self.total:<10,} {self.unit}  {rate:>9,.0f}/s  {now - self.started:6.1f}s {note}",
            flush=True,
        )


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment for a ``bazaar`` child with these settings. ``Settings.to_env()`` writes an unset
    optional (None) as the string "null", which the child reads back as the text "null" (e.g. a worker
    advertising http://null:PORT to the others); unset values are left out instead, so defaults apply."""
    return python_env({k: v for k, v in settings.to_env().items() if v != "null"})


def run_child(
    module: str,
    args: list[str],
    *,
    stage: str,
    total: int,
    log_dir: Path,
    timeout: float,
    unit: str = "events",
    env: dict[str, str] | None = None,
) -> dict:
    """Run ``python -m module args --result FILE``; show its ``progress N`` lines; return its result."""
    log_dir.mkdir(parents=True, exist_ok=True)
    name = module.rsplit(".", 1)[-1]
    result_path = log_dir / f"{stage}-{name}.result.json"
    log_path = log_dir / f"{stage}-{name}.log"
    result_path.unlink(missing_ok=True)
    ticker = Ticker(stage, total, unit)
    with open(log_path, "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--result", str(result_path)],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=python_env(env),
            text=True,
            bufsize=1,
        )
    deadline = time.monotonic() + timeout
    done = 0
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("progress "):
                done = int(line.split()[1])
                ticker.update(done)
            if time.monotonic() > deadline:
                raise StageError(f"{module} did not finish within {timeout:.0f} s; see {log_path}")
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except (subprocess.TimeoutExpired, StageError):
        proc.kill()
        proc.wait()
        raise StageError(f"{module} did not finish within {timeout:.0f} s; see {log_path}\n{tail(log_path)}") from None
    except BaseException:  # interrupted: take the child down too
        proc.kill()
        proc.wait()
        raise
    ticker.update(done, force=True, note="done")
    if code != 0 or not result_path.exists():
        raise StageError(f"{module} exited with code {code}; see {log_path}\n{tail(log_path)}")
    return json.loads(result_path.read_text())


def child_main(run: Callable[..., dict], parser) -> None:
    """Entry point of a ``bench.children`` module: parse args, run, write the JSON result."""
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    result = run(args)
    result["process"] = proc_status()
    Path(args.result).write_text(json.dumps(result))


def progress(done: int) -> None:
    print(f"progress {done}", flush=True)


# ---- topics -------------------------------------------------------------------------------------


def high_watermarks(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks", "enable.auto.commit": False})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
    finally:
        consumer.close()


# ---- stream workers -----------------------------------------------------------------------------


@dataclass
class Workers:
    """``bazaar worker`` processes sharing one app id; stopped by ``stop()``."""

    settings: Settings
    ports: list[int]
    log_dir: Path
    children: dict[int, Child] = field(default_factory=dict)
    started_at: float = 0.0

    def __post_init__(self) -> None:
        self.settings = self.settings.model_copy(update={"worker_urls": [f"http://127.0.0.1:{p}" for p in self.ports]})
        self.headers = auth.headers(self.settings)  # /status and the stock pages want a token (bazaar auth init, token)
        self.http = httpx.Client(timeout=30, headers=self.headers)

    @property
    def env(self) -> dict[str, str]:
        return settings_env(self.settings)

    def child(self, port: int) -> Child:
        return Child.bazaar(f"worker-{port}", ["worker", "--port", str(port)], self.env, self.log_dir, f"http://127.0.0.1:{port}/health")

    def start(self, ports: list[int] | None = None) -> Workers:
        """Start the workers (those on ``ports`` only, if given: ``add`` the others later)."""
        self.started_at = time.monotonic()
        for port in self.ports if ports is None else ports:
            self.children[port] = self.child(port)
            self.children[port].start()
        return self

    def add(self, port: int, timeout: float = 120) -> None:
        """Start one more worker (one of ``ports``) and wait until the group has settled with it."""
        self.children[port] = self.child(port)
        self.children[port].start()
        self.children[port].wait_healthy(timeout)
        deadline = time.monotonic() + timeout
        while not self.group_settled():
            if time.monotonic() > deadline:
                raise StageError(f"the group did not settle within {timeout:.0f} s of adding worker {port}")
            self.check_alive()
            time.sleep(0.2)

    def restart(self, port: int) -> float:
        self.children[port] = self.child(port)
        started = time.monotonic()
        self.children[port].start()
        return started

    def url(self, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.ports[0]}"

    def pids(self) -> list[int]:
        return [c.proc.pid for c in self.children.values() if c.proc is not None]

    def rss_mb(self) -> list[float]:
        return [rss_mb(pid) for pid in self.pids()]

    def check_alive(self) -> None:
        for child in self.children.values():
            if not child.alive:
                raise StageError(
                    f"{child.name} exited with code {child.proc.returncode if child.proc else '?'}; "
                    f"see {child.log_path}\n{tail(child.log_path)}"
                )

    def _get(self, port: int, path: str) -> tuple[int, dict]:
        try:
            resp = self.http.get(f"{self.url(port)}{path}", timeout=2)
            return resp.status_code, resp.json()
        except (httpx.HTTPError, ValueError):
            return 0, {}

    def applied(self) -> dict[int, int]:
        """Highest applied offset per partition over every worker (-1 when unknown)."""
        out: dict[int, int] = {}
        for port in self.children:
            for p, o in self._get(port, "/status")[1].get("applied", {}).items():
                out[int(p)] = max(o, out.get(int(p), -1))
        return out

    def settled(self, targets: dict[int, int]) -> bool:
        """Strictly done: every worker healthy (not recovering), each partition owned by exactly one
        worker, and that owner applied the target offset, or the group committed past it (the owner
        then took the partition over with nothing left to apply after recovering its table)."""
        owners: dict[int, int] = {}
        applied: dict[int, dict[int, int]] = {}
        for port in self.children:
            code, health = self._get(port, "/health")
            if code != 200:
                return False
            for p in health.get("assigned", []):
                if p in owners:
                    return False
                owners[p] = port
            code, status = self._get(port, "/status")
            if code != 200 or status.get("rebalancing"):
                return False
            applied[port] = {int(p): o for p, o in status.get("applied", {}).items()}
        behind = [p for p, target in targets.items() if p not in owners or applied[owners[p]].get(p, -1) < target]
        if any(p not in owners for p in behind):
            return False
        if behind:
            committed = self.committed(behind)
            return all(committed.get(p, -1) > targets[p] for p in behind)
        return True

    def committed(self, partitions: list[int]) -> dict[int, int]:
        consumer = Consumer(
            {"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": self.settings.group_id, "enable.auto.commit": False}
        )
        try:
            tps = consumer.committed([TopicPartition(self.settings.events_topic, p) for p in partitions], timeout=10)
            return {tp.partition: tp.offset for tp in tps}
        finally:
            consumer.close()

    def group_settled(self) -> bool:
        """Every worker healthy and the events topic's partitions split among them without overlap."""
        owned: list[int] = []
        for port in self.children:
            code, health = self._get(port, "/health")
            if code != 200 or not health.get("assigned"):
                return False
            owned += health["assigned"]
        return len(owned) == len(set(owned)) == self.settings.partitions

    def wait_applied(
        self,
        targets: dict[int, int],
        *,
        stage: str,
        total_events: int,
        timeout: float,
        poll_s: float = 0.2,
        on_window: Callable[[], None] | None = None,
    ) -> dict:
        """Wait until every partition's applied offset reaches ``targets[p]`` (high watermark - 1).

        The applying window starts at the first poll that sees progress with the group settled (every
        worker healthy, partitions split among them), so start-up and the first rebalance stay out of
        the rate. Returns ``first_s``/``done_s`` (after start), ``first_done`` (messages applied when the
        window opened) and ``apply_s``.
        """
        targets = {p: o for p, o in targets.items() if o >= 0}
        messages = sum(o + 1 for o in targets.values())
        ticker = Ticker(stage, total_events)
        deadline = time.monotonic() + timeout
        first_t, first_done, cpu_first = None, 0, 0.0
        seen: dict[int, int] = {}  # highest applied offset seen per partition: a worker too busy to answer
        while True:  # one /status poll in time does not make the progress drop to 0
            for p, o in self.applied().items():
                if o > seen.get(p, -1):
                    seen[p] = o
            done = sum(min(seen.get(p, -1), o) + 1 for p, o in targets.items())
            now = time.monotonic()
            if first_t is None and done and self.group_settled():
                first_t, first_done = now, done
                cpu_first = sum(cpu_s(pid) for pid in self.pids())
                if on_window:
                    on_window()
            ticker.update(round(done * total_events / max(1, messages)))
            if done >= messages and self.settled(targets):
                break
            if now > deadline:
                raise StageError(f"{stage}: workers applied {done}/{messages} messages within {timeout:.0f} s")
            self.check_alive()
            time.sleep(poll_s)
        ticker.update(total_events, force=True, note="all applied")
        cpu_now = sum(cpu_s(pid) for pid in self.pids())
        return {
            "messages": messages,
            "first_s": (first_t or now) - self.started_at,
            "done_s": now - self.started_at,
            "first_done": first_done,
            "apply_s": now - (first_t or now),
            "cpu_window_s": cpu_now - cpu_first if first_t else None,
            "cpu_total_s": cpu_now,
        }

    def wait_healthy(self, timeout: float = 120) -> None:
        for child in self.children.values():
            child.wait_healthy(timeout)

    def kill(self, port: int) -> None:
        self.children[port].kill()

    def stop(self) -> None:
        """SIGTERM every worker at once (clean shutdown), then wait for each (SIGKILL after 20 s)."""
        for child in self.children.values():
            if child.alive:
                child.signal(signal.SIGTERM)
        for child in self.children.values():
            child.stop()
        self.http.close()


def rate(messages: int, events: int, timing: dict) -> dict:
    """events/s and messages/s over the applying window (start-up and first rebalance left out)."""
    window = timing["apply_s"]
    msgs = messages - timing["first_done"]
    measured, cpu = "after start-up", timing.get("cpu_window_s")
    if window <= 0 or msgs <= messages * 0.2:  # (quick runs) most was applied before the window opened
        window, msgs, measured, cpu = timing["done_s"], messages, "whole run, start-up included", timing.get("cpu_total_s")
    mps = msgs / window
    per_event = events / messages
    return {
        "events_per_s": round(mps * per_event, 1),
        "messages_per_s": round(mps, 1),
        "apply_s": round(window, 3),
        "wall_s": round(timing["done_s"], 3),
        "window": measured,
        "cpu_us_per_event": round(cpu / (msgs * per_event) * 1e6, 1) if cpu else None,
        "cpu_share": round(cpu / window, 2) if cpu else None,
    }
