"""Garbage-collector pauses as a Prometheus histogram (and a log line when one is long).

A worker keeps tens of thousands of decoded key states in memory; a full collection walks every
object, and while it runs nothing else does. This makes such pauses visible to ops."""

from __future__ import annotations

import gc
import logging
import time

from prometheus_client import Histogram

log = logging.getLogger("bazaar.gc")
PAUSE = Histogram(
    "bazaar_gc_pause_seconds",
    "Time the process stood still in one garbage collection",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LONG_S = 0.1  # a pause at least this long is also logged
_started: list[float] = [0.0]


def _callback(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    took = time.perf_counter() - _started[0]
    generation = info.get("generation", 0)
    PAUSE.labels(str(generation)).observe(took)
    if took >= LONG_S:
        log.warning(
            "long garbage-collector pause", extra={"generation": generation, "seconds": round(took, 3), "collected": info.get("collected")}
        )


def install() -> None:
    if _callback not in gc.callbacks:
        gc.callbacks.append(_callback)


def tune(young: int = 20_000, oldest: int | None = None) -> None:
    """Collect less often. A POST of 500 events, or a batch of events in a worker, makes tens of
    thousands of short-lived objects; with the default threshold (700) the cyclic collector runs
    dozens of times per request or batch, and its full collections walk everything the process
    holds (a worker's decoded key states: long pauses, seen as latency jumps). What
    exists after start-up is frozen (never scanned again), the youngest generation is collected
    less often, and ``oldest`` spaces out full collections. Those objects are freed by reference
    counting anyway: the cyclic collector only matters for cycles."""
    gc.collect()
    gc.freeze()
    _, older, default_oldest = gc.get_threshold()
    gc.set_threshold(young, older, oldest or default_oldest)
