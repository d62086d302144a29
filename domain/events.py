"""From one contract event to the per-(store, sku) operations it implies, and applying them.

A transfer has two legs on the events topic, both written by the producer (the API) before it
acknowledges the POST: the ``out`` leg keyed by the sending store and the ``in`` leg, the same
event with header ``bazaar-leg: in``, keyed by the receiving store. Both legs carry the event's
id, so each key counts it once however often either leg is delivered, and a read-your-writes
token covers both stores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from domain.quantities import to_milli
from domain.stock import Result, StockState, apply_count, apply_movement
from schemas.events import Adjustment, Count, Event, Line, Purchase, Return, Sale, Transfer

SEP = "|"
LEG_OUT = "out"
LEG_IN = "in"
LEG_HEADER = "bazaar-leg"  # Kafka header naming the transfer leg a message carries (absent: out)
DIGEST_HEADER = "bazaar-digest"  # Kafka header with the producer's payload fingerprint (``digest``)
US_PER_DAY = 86_400 * 1_000_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(ts: datetime) -> int:
    """Aware datetime to integer microseconds since the epoch (exact, no float)."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    """Integer microseconds since the epoch to an aware UTC datetime (exact)."""
    return _EPOCH + timedelta(microseconds=us)


def stock_key(store_id: str, sku: str) -> str:
    return f"{store_id}{SEP}{sku}"


def split_key(key: str) -> tuple[str, str]:
    store_id, sku = key.split(SEP, 1)
    return store_id, sku


_NOT_DIGESTED = {"received_at"}  # (a set: what pydantic-core's exclude is typed as)


def digested_json(event: Event) -> bytes:
    """The event's JSON without the server's ``received_at``: what its digest covers. (The
    serializer's own bytes: ``model_dump_json`` would decode them to text, to be encoded again.)"""
    return event.__pydantic_serializer__.to_json(event, exclude=_NOT_DIGESTED, exclude_none=True)


def fingerprint_of(body: bytes) -> str:
    """The digest of ``digested_json(event)``."""
    return hashlib.blake2b(body, digest_size=8).hexdigest()


def digest(event: Event) -> str:
    """Fingerprint of the payload as the terminal sent it (without the server's received_at)."""
    return fingerprint_of(digested_json(event))


class KeyOp(NamedTuple):
    store_id: str
    sku: str
    is_count: bool
    quantity: int  # milli-units: signed movement, or the counted on-hand

    @property
    def key(self) -> str:
        return stock_key(self.store_id, self.sku)


def key_ops(event: Event, leg: str = LEG_OUT) -> list[KeyOp]:
    """The operations an event implies for the keys owned by the store it is keyed by."""
    store = event.to_store_id if leg == LEG_IN else event.store_id  # type: ignore[union-attr]  # only a transfer has LEG_IN
    per_sku: dict[str, int] = {}
    for line in event.lines:
        per_sku[line.sku] = per_sku.get(line.sku, 0) + _signed(event, line, leg)
    is_count = isinstance(event, Count)
    return [KeyOp(store, sku, is_count, qty) for sku, qty in per_sku.items()]


def _signed(event: Event, line: Line, leg: str) -> int:
    q = to_milli(line.quantity)
    if isinstance(event, (Purchase, Return, Adjustment, Count)):
        return q
    if isinstance(event, Sale):
        return -q
    if isinstance(event, Transfer):
        return q if leg == LEG_IN else -q
    raise TypeError(f"unknown event type {type(event).__name__}")


def needs_in_leg(event: Event, leg: str) -> bool:
    return isinstance(event, Transfer) and leg == LEG_OUT


def wire_legs(event: Event) -> list[tuple[str, str]]:
    """(Kafka key, leg) of every message that carries this event onto the events topic."""
    legs = [(event.store_id, LEG_OUT)]
    if isinstance(event, Transfer):
        legs.append((event.to_store_id, LEG_IN))
    return legs


class Applied(NamedTuple):
    op: KeyOp
    result: Result
    state: StockState


def apply_event(
    states: MutableMapping[str, StockState],
    event: Event,
    *,
    leg: str = LEG_OUT,
    fingerprint: str | None = None,
    window_days: int = 30,
    received_at_us: int | None = None,
    on_applied: Callable[[KeyOp, Result, StockState], None] | None = None,
    event_id: str | None = None,
    ops: list[KeyOp] | None = None,
    at_us: int | None = None,
) -> list[Applied]:
    """Apply one event to a mapping of key -> StockState. Every key is written back, even when
    nothing changed, so a replay re-publishes state that may not have reached a changelog.
    ``on_applied`` may update the key's state further (alerts) before it is written.
    ``event_id``: ``str(event.event_id)``, if the caller has it already. ``ops``, ``at_us``: other
    operations than the event's lines imply, at another instant (a void: its sale's, ``domain.voids``)."""
    fp = fingerprint or digest(event)
    at = to_us(event.occurred_at) if at_us is None else at_us
    received = received_at_us if received_at_us is not None else to_us(event.received_at or event.occurred_at)
    window = window_days * US_PER_DAY
    eid = event_id or str(event.event_id)
    out: list[Applied] = []
    get = states.get
    for op in key_ops(event, leg) if ops is None else ops:
        key = stock_key(op.store_id, op.sku)  # once per op
        state = get(key) or StockState()
        if op.is_count:
            result = apply_count(state, eid, at, op.quantity, fp, received, window)
        else:
            result = apply_movement(state, eid, at, op.quantity, fp, received, window)
        if on_applied is not None:
            on_applied(op, result, state)
        states[key] = state
        out.append(Applied(op, result, state))
    return out


def apply_all(states: MutableMapping[str, StockState], events: Iterable[Event], **kw: Any) -> None:
    """Apply events in the given order, following transfers to their receiving store."""
    for event in events:
        apply_event(states, event, **kw)
        if needs_in_leg(event, LEG_OUT):
            apply_event(states, event, leg=LEG_IN, **kw)
