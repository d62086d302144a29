"""One batch of events through the stock rules: everything the stock agent does between fetching
events and writing the results, with no Kafka, Faust or I/O (the agent is the shell around it).

For each event message, in offset order: parse it against the contract (``InvalidEvent`` if it
breaks it: the caller dead-letters it), apply it to the states
(``MutableMapping`` of key -> StockState, e.g. ``streams.state.BatchStates``), run the alert rules
on every key it touched (in the same state, so alerts and stock change atomically), and collect the
ledger entry and alert messages it produced as Kafka records for the message's partition.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from domain.alerts import Thresholds, after_apply
from domain.alerts import message as alert_message
from domain.events import DIGEST_HEADER, LEG_HEADER, LEG_OUT, Applied, KeyOp
from domain.ledger import ledger_entry
from domain.stock import Outcome, Result, StockState
from domain.voids import UNMATCHED, MemoryBook, SaleBook, apply_recorded, unmatched_alert
from schemas.events import Event, Return, Sale, from_wire

log = logging.getLogger("bazaar.domain.batch")


class Catalog(Protocol):
    def thresholds(self, store_id: str, sku: str) -> Thresholds: ...
    def local_day(self, store_id: str, at: datetime) -> int: ...
    def active(self, store_id: str, sku: str) -> bool | None: ...


Record = tuple[str, int, "bytes | None", bytes]  # topic, partition, key, value
_VALUE = {o: o.value for o in Outcome}  # an Enum's .value is a descriptor call: this is a dict read


class InvalidEvent(ValueError):
    """A message that breaks the event contract: refused before it touched any state."""


@dataclass
class BatchOutput:
    """What a batch produced: ledger and alert records, and counts for metrics."""

    records: list[Record] = field(default_factory=list)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, leg) -> events
    outcomes: Counter[str] = field(default_factory=Counter)  # outcome -> (store, sku) keys
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, kind) -> alert transitions sent
    negative: int = 0  # keys that went below zero


@dataclass
class Applier:
    states: MutableMapping[str, StockState]
    catalog: Catalog
    window_days: int
    velocity_days: int
    ledger_topic: str
    alerts_topic: str
    sales: SaleBook = field(default_factory=MemoryBook)  # the stores' recent sales, for voids (domain/voids.py)
    void_window_days: int = 35

    def apply(self, out: BatchOutput, partition: int, offset: int, key: bytes | None, value: bytes, headers: dict[str, str]) -> None:
        leg = headers.get(LEG_HEADER, LEG_OUT)
        try:
            ev = from_wire(value)
        except (ValidationError, ValueError, TypeError) as exc:  # (TypeError: a message with no value)
            raise InvalidEvent(str(exc)) from exc
        catalog = self.catalog
        raised: list[dict[str, Any]] = []
        eid = str(ev.event_id)
        event_key, sale = f"{eid}|{leg}", isinstance(ev, Sale)
        day: list[int] = []  # the store-local day of the event, worked out once if an alert rule needs it
        stamps: list[str] = []  # occurred_at, raised_at of its alert messages, formatted once if it raises any
        velocity_days = self.velocity_days

        def alert_step(op: KeyOp, result: Result, state: StockState) -> None:
            if not day:
                day.append(catalog.local_day(op.store_id, ev.occurred_at))
            transitions = after_apply(
                state.alerts,
                sale=sale,
                outcome=_VALUE[result.outcome],
                store_id=op.store_id,
                sku=op.sku,
                quantity=op.quantity,
                on_hand=result.after,
                limits=catalog.thresholds(op.store_id, op.sku),
                day=day[0],
                event_key=event_key,
                window_days=velocity_days,
            )
            if transitions and not stamps:
                stamps.extend((ev.occurred_at.isoformat(), (ev.received_at or ev.occurred_at).isoformat()))
            for t in transitions:
                out.alerts[(t.type, t.kind)] += 1
                raised.append(alert_message(t, op.store_id, op.sku, eid, *stamps))

        applied, verdict = apply_recorded(
            self.states,
            self.sales,
            ev,
            leg=leg,
            fingerprint=headers.get(DIGEST_HEADER),
            window_days=self.window_days,
            void_window_days=self.void_window_days,
            on_applied=alert_step,
            event_id=eid,
        )
        if verdict is not None and verdict.status in UNMATCHED and applied and isinstance(ev, Return):
            out.alerts[("alert", "void_unmatched")] += 1
            raised.append(unmatched_alert(ev, verdict, applied[0], eid))
        entry = ledger_entry(ev, leg, applied, inactive=_inactive(catalog, ev, sale), event_id=eid, verdict=verdict)
        if entry is not None:  # sent again on a replay, with the same figures
            out.records.append((self.ledger_topic, partition, key, orjson.dumps(entry)))
        for alert in raised:  # a replay re-sends the same alert ids; consumers dedupe on them
            out.records.append((self.alerts_topic, partition, key, orjson.dumps(alert)))
        _count(out, ev, leg, applied)


def _inactive(catalog: Catalog, ev: Event, sale: bool) -> set[str]:
    """Skus of a sale that the catalog says are inactive at the store: recorded and flagged."""
    if not sale:
        return set()
    return {line.sku for line in ev.lines if catalog.active(ev.store_id, line.sku) is False}


_FLAGGED = frozenset({Outcome.CONFLICT, Outcome.BEYOND_WINDOW, Outcome.STALE_COUNT, Outcome.NOT_APPLIED})


def _count(out: BatchOutput, ev: Event, leg: str, applied: list[Applied]) -> None:
    out.events[(ev.type, leg)] += 1
    outcomes = out.outcomes
    for a in applied:
        result = a.result
        outcome = result.outcome
        outcomes[_VALUE[outcome]] += 1
        if result.went_negative:
            out.negative += 1
            if log.isEnabledFor(logging.DEBUG):  # three keys an event at 10,000 new stores: skip building it
                log.debug(
                    "stock went negative",
                    extra={"event_id": str(ev.event_id), "store_id": a.op.store_id, "sku": a.op.sku, "on_hand_milli": result.after},
                )
        if outcome in _FLAGGED:
            log.warning(
                "event flagged",
                extra={"event_id": str(ev.event_id), "outcome": _VALUE[outcome], "store_id": a.op.store_id, "sku": a.op.sku},
            )
