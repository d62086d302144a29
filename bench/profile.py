"""``--profile``: sample the stream workers with py-spy while they apply events, and say where the time goes.

py-spy (``pip install py-spy``; not a dependency) records every active thread of a worker at 100 Hz in
"raw" (folded stacks) format. ``summarize`` turns that into the top functions (inclusive and self)
and a breakdown by category, multiplied out to CPU microseconds per event with the worker's measured
CPU per event.
"""

from __future__ import annotations

import linecache
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

WAITING = "waiting in epoll / Kafka poll (not CPU; left out of the shares)"
# A sample is waiting when its leaf frame is one of these: the event loop's epoll, the catalog
# follower's and the outbox's poll calls (C code that blocks). A deeper stack under them is work on
# that thread: the outbox's delivery reports (Python callbacks run inside ``poll``) count as outputs.
WAIT_LEAVES = ("EpollSelector.select", "TopicFollower._run", "PolledProducer._poll")
# Specific categories: a sample goes to the first one with a pattern in any frame of its stack (frames
# are "function (path:line)"; for the agent's own lines the source text is matched too).
SPECIFIC: list[tuple[str, tuple[str, ...]]] = [
    ("parse event (pydantic from_wire)", ("from_wire ", "validate_json")),
    ("state write: encode + RocksDB write batch + changelog records", ("BatchStates.flush",)),
    ("state read: RocksDB get + decode", ("BatchStates.get ",)),
    ("catalog follower thread (applying catalog records)", ("TopicFollower._run",)),
    ("alerts: rules, catalog lookups, alert messages", ("alert_step", "after_apply", "alert_message", "CatalogCache")),
    ("ledger entries", ("ledger_entry",)),
    ("outputs: records to librdkafka, waiting for acks", ("Outbox.",)),
    ("metrics + logs", ("_observe ", "prometheus_client", "/logging/")),
    ("stock rules (domain.apply_event, without state I/O and alerts)", ("apply_event ",)),
    ("rest of the batch (domain/batch.py)", ("Applier.apply",)),
]
# Otherwise the leaf-most frame of a known library decides (walking from the leaf towards the root).
GENERIC: list[tuple[str, tuple[str, ...]]] = [
    ("Kafka producer (aiokafka sender: changelog, ledger, alerts)", ("aiokafka/producer",)),
    ("Kafka consumer (aiokafka fetch, Faust fetcher)", ("aiokafka/consumer", "aiokafka/record", "Fetcher.", "faust/transport/consumer")),
    ("rest of the agent loop (agents/: the stock agent, the sinks; streams/checkpoint.py)", ("agents/", "streams/checkpoint.py")),
    ("Faust: streams, events, acks, commits, tables, web", ("faust/", "mode/")),
]
OTHER = "asyncio event loop and other"
CATEGORIES = [name for name, _ in SPECIFIC] + [name for name, _ in GENERIC] + [OTHER]


def _category(frames: list[str]) -> str:
    if any(leaf in frames[-1] for leaf in WAIT_LEAVES):
        return WAITING
    joined = "\n".join(frames) + "\n"
    for name, patterns in SPECIFIC:
        if any(pattern in joined for pattern in patterns):
            return name
    for frame in reversed(frames):
        if "mode/worker.py" in frame:  # the root of every stack: what runs the event loop
            break
        for name, patterns in GENERIC:
            if any(pattern in frame for pattern in patterns):
                return name
    return OTHER


_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^:()]+):(?P<line>\d+)\)$")


def _py_spy() -> str | None:
    """py-spy on PATH, or installed next to this Python (a venv's bin/)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def available() -> bool:
    return _py_spy() is not None


def start(pid: int, out: Path) -> subprocess.Popen:
    out.parent.mkdir(parents=True, exist_ok=True)
    log = open(out.with_suffix(".log"), "wb")
    return subprocess.Popen(
        [_py_spy() or "py-spy", "record", "--pid", str(pid), "--rate", "100", "--format", "raw", "--output", str(out)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _label(frame: str) -> str:
    """The frame with site-packages paths shortened, and the agent's source line appended."""
    m = _FRAME.match(frame)
    if not m:
        return frame
    path = m["path"]
    text = ""
    if "/agents/" in path or path.startswith("agents/"):
        text = (
            " | "
            + linecache.getline(path if path.startswith("/") else str(Path(__file__).resolve().parents[1] / path), int(m["line"])).strip()
        )
    short = path.split("site-packages/")[-1]
    return f"{m['func']} ({short}:{m['line']}){text}"


def summarize(folded: Path, cpu_us_per_event: float | None, top: int = 25) -> dict:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_label(f) for f in stack.split(";")[1:]]  # the first entry names the thread
        if not frames:
            continue
        name = _category(frames)
        categories[name] += n
        if name == WAITING:
            continue
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n

    waiting = categories.pop(WAITING, 0)
    busy = max(1, total - waiting)

    def share(counter: Counter, k: int) -> list[dict]:
        return [
            {
                "frame": f,
                "share": round(c / busy, 4),
                **({"cpu_us_per_event": round(c / busy * cpu_us_per_event, 1)} if cpu_us_per_event else {}),
            }
            for f, c in counter.most_common(k)
            if f not in ("",)
        ]

    return {
        "samples": total,
        "waiting_samples": waiting,
        "cpu_us_per_event": cpu_us_per_event,
        "categories": share(categories, len(CATEGORIES)),
        "top_inclusive": share(inclusive, top),
        "top_self": share(own, top),
    }
