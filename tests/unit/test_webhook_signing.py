"""Webhook signatures (what a receiver checks), the retry schedule, and commit offsets."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bazaar_core.kafka.offsets import OffsetTracker
from domain.webhooks import backoff, headers, retryable, schedule, signature, verify

pytestmark = pytest.mark.unit


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"alert_id": "x"}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret-s3cret-s3cret", 1700000000, body) == f"v1={expected}"
    h = headers("s3cret-s3cret-s3cret", "x", 1700000000, body)
    assert h["X-Bazaar-Signature"] == f"v1={expected}"
    assert (h["X-Bazaar-Alert-Id"], h["X-Bazaar-Timestamp"]) == ("x", "1700000000")


def test_receiver_verification():
    body, secret, ts = b"{}", "k" * 16, 1_700_000_000
    sig = signature(secret, ts, body)
    assert verify(secret, str(ts), sig, body, now=ts + 10)
    assert not verify(secret, str(ts), sig, b"{ }", now=ts)  # body changed
    assert not verify("other" * 4, str(ts), sig, body, now=ts)  # wrong secret
    assert not verify(secret, str(ts + 1), sig, body, now=ts)  # timestamp changed
    assert not verify(secret, str(ts), sig, body, now=ts + 301)  # replayed after 5 minutes
    assert not verify(secret, "soon", sig, body, now=ts)


def test_backoff_doubles_up_to_the_cap():
    assert schedule(12, 0.5, 60) == [0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert backoff(1, 0.5, 60) == 0.5 and backoff(30, 0.5, 60) == 60
    assert schedule(1, 0.5, 60) == []


def test_only_2xx_is_delivered():
    assert not retryable(200) and not retryable(204)
    assert retryable(None) and retryable(500) and retryable(404) and retryable(429) and retryable(302)


def test_offsets_commit_only_past_finished_messages():
    t = OffsetTracker()
    t.add(0, 10, 2)  # two webhooks
    t.add(0, 11, 0)  # nobody wanted it
    t.add(0, 12, 1)
    assert t.to_commit() == {0: 10}
    t.done(0, 12)
    assert t.to_commit() == {0: 10}
    t.done(0, 10)
    assert t.to_commit() == {0: 10}  # one delivery of offset 10 still under way
    t.done(0, 10)
    assert t.to_commit() == {0: 13}
    t.committed({0: 13})
    assert t.to_commit() == {}
    t.forget([0])
    t.done(0, 99)  # late completion of a revoked partition: ignored
    assert t.pending() == 0


def test_a_later_reader_holds_the_commit_only_on_offsets_already_seen():
    t = OffsetTracker()
    t.add(0, 5, 0)
    assert t.next(0) == 6 and t.next(1) is None
    assert t.join(0, 5, 1)  # a parked webhook's cursor at offset 5
    assert t.to_commit() == {0: 5}
    assert not t.join(0, 6, 1), "not seen yet: the main consumer hands it over itself"
    assert not t.join(1, 0, 1), "a partition not held"
    t.add(0, 6, 0)
    assert t.join(0, 6, 1)  # the cursor moved on: the hold goes with it
    t.done(0, 5)
    assert t.to_commit() == {0: 6} and t.held() == {0: 1}
    t.done(0, 6)
    assert t.to_commit() == {0: 7} and t.held() == {}
    t.forget([0])
    assert not t.join(0, 3, 1)
