"""Prometheus metrics of the HTTP API (served at ``GET /metrics``)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

EVENTS_ACCEPTED = Counter("bazaar_api_events_accepted_total", "Events acked by Kafka", ["type"])
REQUESTS_REJECTED = Counter("bazaar_api_requests_rejected_total", "Requests answered with an error", ["error"])
PRODUCE_FAILURES = Counter("bazaar_api_produce_failures_total", "Events Kafka did not ack in time")
INGEST_SECONDS = Histogram(
    "bazaar_api_ingest_seconds",
    "Latency of POST /v1/events, until every event is acked",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BROKER_UP = Gauge("bazaar_api_broker_up", "1 while the API's producer reaches a Kafka broker")


_accepted: dict[str, Counter] = {}  # the counter's child of each event type, made when first counted (as labels() would)


def count_accepted(types: Iterable[str]) -> None:
    for t, n in Tally(types).items():
        child = _accepted.get(t)
        if child is None:
            child = _accepted[t] = EVENTS_ACCEPTED.labels(type=t)
        child.inc(n)


def count_rejected(error: str) -> None:
    REQUESTS_REJECTED.labels(error=error).inc()


def watch_broker(is_up: Callable[[], bool]) -> None:
    BROKER_UP.set_function(lambda: 1.0 if is_up() else 0.0)


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
