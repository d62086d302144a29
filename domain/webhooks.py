"""Webhook signatures and the retry schedule (pure).

Every POST carries ``X-Bazaar-Timestamp: <unix seconds>`` and
``X-Bazaar-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``. A receiver recomputes
the HMAC over the raw body it got, compares in constant time, and refuses a timestamp more than
``TOLERANCE_S`` (5 minutes) away from its clock, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"
TOLERANCE_S = 300

ALERT_ID_HEADER = "X-Bazaar-Alert-Id"
TIMESTAMP_HEADER = "X-Bazaar-Timestamp"
SIGNATURE_HEADER = "X-Bazaar-Signature"


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The header value: ``v1=`` and the hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def headers(secret: str, alert_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        ALERT_ID_HEADER: alert_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(secret: str, timestamp: str, sig: str, body: bytes, now: float, tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does: the signature matches and the timestamp is fresh (replays are refused)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - ts) > tolerance_s:
        return False
    expected = signature(secret, ts, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in sig.split(","))


def backoff(attempt: int, base_s: float, max_s: float) -> float:
    """Wait after failed attempt number ``attempt`` (1-based): base, 2 base, 4 base, ... capped at max."""
    factor: float = 2 ** (attempt - 1)  # (int ** int is Any to mypy: a negative power is a float)
    return min(max_s, base_s * factor)


def schedule(attempts: int, base_s: float, max_s: float) -> list[float]:
    """Waits between ``attempts`` tries (one fewer than the tries): after the last one, dead letter."""
    return [backoff(n, base_s, max_s) for n in range(1, attempts)]


def retryable(status: int | None) -> bool:
    """Any answer but 2xx is tried again (a receiver mid-deploy answers 404 or 502 for a while);
    ``None`` is no answer at all (refused, reset, timed out)."""
    return status is None or not 200 <= status < 300


class CircuitBreaker:
    """One webhook's circuit breaker (pure: the caller passes the clock).

    ``closed``: every POST goes. After ``threshold`` consecutive failures it opens: for ``cool_off_s``
    no POST goes to that receiver. Then ``half_open``: one probe goes, the rest wait; the probe's
    success closes it, its failure opens it for another cool-off. In half-open only the probe's
    result counts: answers to POSTs sent before the circuit opened are stale news.
    """

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, threshold: int, cool_off_s: float) -> None:
        self.threshold = max(1, threshold)
        self.cool_off_s = cool_off_s
        self.state = self.CLOSED
        self.failures = 0  # consecutive
        self.opened_at: float | None = None
        self.probing = False
        self.last_error: str | None = None

    def allow(self, now: float) -> str | None:
        """May a POST go now? ``"closed"`` (a normal one), ``"probe"`` (the half-open one), None (wait)."""
        if self.state == self.CLOSED:
            return self.CLOSED
        if self.state == self.OPEN:
            if now < self.probe_at():
                return None
            self.state = self.HALF_OPEN
        if self.probing:
            return None
        self.probing = True
        return "probe"

    def probe_at(self) -> float:
        """When an open circuit lets its probe go."""
        return (self.opened_at or 0.0) + self.cool_off_s

    def success(self, probe: bool = False) -> bool:
        """A POST was answered 2xx; True when that closed a circuit that was not closed."""
        if self.state == self.HALF_OPEN and not probe:
            return False
        was = self.state
        self.state, self.failures, self.opened_at, self.probing = self.CLOSED, 0, None, False
        return was != self.CLOSED

    def failure(self, now: float, error: str, probe: bool = False) -> bool:
        """A POST failed; True when that opened the circuit."""
        if self.state == self.HALF_OPEN and not probe:
            return False
        self.failures += 1
        self.last_error = error
        if self.state == self.HALF_OPEN or (self.state == self.CLOSED and self.failures >= self.threshold):
            self.state, self.opened_at, self.probing = self.OPEN, now, False
            return True
        return False
