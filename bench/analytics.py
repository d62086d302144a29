"""What the ``clickhouse-sink`` stage needs around ``bazaar analytics``: the ledger topic read back and
counted, the analytics process (its /metrics, /status and reports over HTTP: only it opens chDB), the
stock ClickHouse computes, and how flat a backlog stayed.

Rows are counted with ``clickhouse.rows.ledger_rows`` (the sink's own converter), never by assuming
one ledger message per event or per sku, so any message format the converter accepts is counted right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import Consumer, KafkaError, TopicPartition

from bazaar_core.loadgen.generator import _milli
from bazaar_core.settings import Settings
from bazaar_core.supervisor import Child
from bench import auth
from bench.procs import StageError, settings_env
from clickhouse.rows import ledger_rows

LEDGER = "ledger"
FAR_FUTURE = "2299-12-30T00:00:00Z"  # stock as of the end of time: every event counts


@dataclass
class Ledger:
    """A ledger topic as read back: the messages (for replays), their rows and distinct row keys."""

    items: list[tuple[int, bytes | None, bytes, list]] = field(default_factory=list)  # partition, key, value, headers
    rows: int = 0
    keys: set[tuple[str, str, str]] = field(default_factory=set)  # (store_id, sku, event_id): ClickHouse's dedup key
    events: set[str] = field(default_factory=set)

    @property
    def messages(self) -> int:
        return len(self.items)

    def interleaved(self) -> list[tuple[int, bytes | None, bytes, list]]:
        """The messages with the partitions interleaved by progress (each partition's i-th of n at
        i/n), the order a steady load spread over every store would arrive in."""
        per: dict[int, list] = {}
        for item in self.items:
            per.setdefault(item[0], []).append(item)
        ranked = [((i + 0.5) / len(items), p, item) for p, items in per.items() for i, item in enumerate(items)]
        return [item for _rank, _p, item in sorted(ranked, key=lambda r: (r[0], r[1]))]


def read_ledger(bootstrap: str, topic: str, partitions: int, timeout: float = 300.0) -> Ledger:
    """Every message of the ledger topic, from the beginning to the end of each partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-ledger-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    out = Ledger()
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(at_end) < partitions:
            if time.monotonic() > deadline:
                raise StageError(f"reading {topic}: {len(at_end)}/{partitions} partitions read to the end in {timeout:.0f} s")
            for msg in consumer.consume(2000, timeout=1.0):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition())
                        continue
                    raise StageError(f"reading {topic}: {err}")
                at_end.discard(msg.partition())
                value = msg.value()
                if value is None:
                    continue
                rows = ledger_rows(value, msg.partition(), msg.offset())
                out.items.append((msg.partition(), msg.key(), value, list(msg.headers() or [])))
                out.rows += len(rows)
                for r in rows:
                    out.keys.add((r[3], r[5], r[0]))
                    out.events.add(r[0])
    finally:
        consumer.close()
    return out


class Analytics:
    """``bazaar analytics`` in its own process, with embedded chDB under the settings' data dir."""

    def __init__(self, settings: Settings, log_dir: Path, name: str) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.analytics_port}"
        self.child = Child.bazaar(
            name, ["analytics", "--port", str(settings.analytics_port)], settings_env(settings), log_dir, f"{self.url}/health"
        )
        self.http = httpx.Client(base_url=self.url, timeout=120, headers=auth.headers(settings))  # its pages want a token

    @property
    def pid(self) -> int:
        return self.child.proc.pid

    def start(self, timeout: float = 180.0) -> Analytics:
        self.started_at = time.monotonic()
        self.child.start()
        self.child.wait_healthy(timeout)
        return self

    def check_alive(self) -> None:
        if not self.child.alive:
            from bazaar_core.supervisor import tail

            raise StageError(
                f"bazaar analytics exited with code {self.child.proc.returncode}; see {self.child.log_path}\n{tail(self.child.log_path)}"
            )

    def metrics(self) -> dict[str, float]:
        """The ledger table's series of /metrics: name -> value (e.g. bazaar_analytics_inserted_rows_total)."""
        try:
            text = self.http.get("/metrics", timeout=5).text
        except httpx.HTTPError:
            return {}
        return parse_metrics(text, LEDGER)

    def status(self) -> dict:
        resp = self.http.get("/status")
        if resp.status_code != 200:
            raise StageError(f"analytics /status answered {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def report(self, name: str, **params) -> dict:
        resp = self.http.get(f"/reports/{name}", params=params)
        if resp.status_code != 200:
            raise StageError(f"analytics report {name} answered {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def stock(self) -> dict[str, int]:
        """Every (store, sku) on-hand ClickHouse computes from the ledger (the ``stock_valuation`` report
        over every store as of the end of time: latest count + movements after it, deduplicated)."""
        body = self.report("stock_valuation", store_id="", at=FAR_FUTURE)
        return {f"{r['store_id']}|{r['sku']}": _milli(r["on_hand"]) for r in body["rows"]}

    def stop(self) -> None:
        self.child.stop()
        self.http.close()


def run_queue_wait_s(pid: int) -> float:
    """Seconds the process's threads spent runnable but waiting for a CPU (``/proc/PID/task/*/schedstat``,
    threads still alive): how much of a window the machine's other work took from it."""
    total = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(path.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def parse_metrics(text: str, table: str) -> dict[str, float]:
    """Series labelled ``{table="<table>"}`` (and unlabelled ones) of a Prometheus text page."""
    out: dict[str, float] = {}
    label = f'{{table="{table}"}}'
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        if name.endswith(label):
            name = name[: -len(label)]
        elif "{" in name:
            continue
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def flatness(samples: list[tuple[float, float]], offered_per_s: float, skip: float = 0.2) -> dict:
    """How a backlog (messages not yet in ClickHouse) moved while a steady load was offered.

    ``samples``: (seconds since the load started, backlog). The first ``skip`` of the window is left
    out (the first batches); the slope is a least-squares fit over the rest. Flat: the backlog grew by
    less than 5% of the offered messages (slope <= 0.05 x offered/s)."""
    if not samples:
        return {"flat": None, "slope_per_s": None, "max": None, "end": None, "mean": None, "samples": 0}
    end_t = samples[-1][0]
    used = [(t, b) for t, b in samples if t >= end_t * skip] or samples
    n = len(used)
    mean_t = sum(t for t, _ in used) / n
    mean_b = sum(b for _, b in used) / n
    var = sum((t - mean_t) ** 2 for t, _ in used)
    slope = sum((t - mean_t) * (b - mean_b) for t, b in used) / var if var > 0 else 0.0
    return {
        "flat": slope <= 0.05 * offered_per_s,
        "slope_per_s": round(slope, 1),
        "slope_vs_offered": round(slope / offered_per_s, 4) if offered_per_s else None,
        "max": max(b for _, b in samples),
        "end": samples[-1][1],
        "mean": round(mean_b, 1),
        "samples": len(samples),
    }


def thin(samples: list[tuple[float, float]], keep: int = 60) -> list[list[float]]:
    """At most ``keep`` evenly spaced samples (for the JSON result)."""
    step = max(1, len(samples) // keep)
    return [[round(t, 2), b] for t, b in samples[::step]]
