"""Voids: a sale recorded by mistake, undone whole and once (pure rules, no I/O).

A ``return`` with reason ``void`` names the sale it undoes (``original_event_id``). The stock
worker keeps each store's recent sales in a *sale book*, beside its stock and written with it (one
RocksDB write and changelog record per touched key, so a crash never splits them): day buckets
``book[book_key(store, day)] = {event id: record}``, by the UTC day the server received the event.

* a sale's record ``["s", at, received, [[sku, milli], ...], voided_by]``: when it occurred and was
  received (microseconds), what it took from each sku, and the void that undid it ("" while none);
* a void's record ``["v", at, received, original id, verdict]``: a redelivered void gets the
  verdict it got the first time, whatever arrived in between.

A void of store S naming X:

* X is a sale of S received at most ``window_days`` before the void, not voided yet: **applied**.
  The void gives back what X took from each sku as X recorded it (not the void's lines) at X's
  ``occurred_at``, so a count taken after X covers both, and X is marked voided by this void.
* X was voided by this same void (a redelivery): applied again; the stock rules count it once.
* ``already_voided``: X was voided by another void; ``too_old``: X was received more than
  ``window_days`` before the void; ``not_a_sale``: X is an event of S of another kind;
  ``unknown_sale``: no sale X of S is known here (never seen, another store's, or dropped from the
  book). Each is recorded and flagged, and changes no stock.

The book stays bounded: when a store's first event of a day is recorded, its buckets older than
``window_days + GRACE_DAYS`` are dropped (a void of a sale that old is ``unknown_sale``).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, NamedTuple, Protocol

from domain.alerts import alert_uuid
from domain.events import LEG_OUT, US_PER_DAY, Applied, KeyOp, apply_event, stock_key, to_us
from domain.quantities import milli_str
from domain.stock import Outcome, Result, StockState, fold_key
from schemas.events import Event, Return, Sale

SALE, VOID = "s", "v"
KIND, AT, RECEIVED, OPS, VOIDED_BY = 0, 1, 2, 3, 4  # a sale's record
ORIGINAL, VERDICT = 3, 4  # a void's record (KIND, AT, RECEIVED as a sale's)
APPLIED = "applied"
FLAGS = ("already_voided", "too_old", "not_a_sale", "unknown_sale")
UNMATCHED = frozenset({"too_old", "not_a_sale", "unknown_sale"})  # flags that raise a void_unmatched alert
GRACE_DAYS = 7  # buckets kept past the window, so a void of a sale just too old says so
BOOK_PREFIX = "\x01"  # book keys sort before every stock key (store ids start with a letter or digit)

Bucket = MutableMapping[str, list[Any]]


class SaleBook(Protocol):
    """Day buckets of a store's recent sales and voids (``domain.voids.MemoryBook``, or the worker's
    ``streams.sales.BatchSales`` over RocksDB)."""

    def get(self, key: str) -> Bucket | None: ...
    def __setitem__(self, key: str, bucket: Bucket) -> None: ...
    def days(self, store_id: str) -> list[int]: ...
    def drop(self, store_id: str, day: int) -> None: ...


def book_key(store_id: str, day: int) -> str:
    """``\\x01<store>|<day>``, the day zero-padded so a store's buckets sort by day."""
    return f"{BOOK_PREFIX}{store_id}|{day:06d}"


class MemoryBook(dict):  # type: ignore[type-arg]
    """A sale book in a dict (tests, benchmarks, the analytics tests' replay of the ledger)."""

    def days(self, store_id: str) -> list[int]:
        prefix = book_key(store_id, 0)[:-6]
        return [int(k[len(prefix) :]) for k in self if k.startswith(prefix)]

    def drop(self, store_id: str, day: int) -> None:
        self.pop(book_key(store_id, day), None)


class Verdict(NamedTuple):
    """What a void did: ``status`` "applied" or one of FLAGS; ``sale`` the voided sale's record
    when applied; ``reason`` in words, for the flag's alert."""

    status: str
    sale: list[Any] | None = None
    reason: str = ""

    @property
    def applied(self) -> bool:
        return self.status == APPLIED


def day_of(received_us: int) -> int:
    return received_us // US_PER_DAY


def find(book: SaleBook, store_id: str, event_id: str) -> tuple[str, Bucket, list[Any]] | None:
    """(bucket key, bucket, record) of ``event_id`` in the store's book, newest bucket first."""
    for day in sorted(book.days(store_id), reverse=True):
        key = book_key(store_id, day)
        bucket = book.get(key)
        if bucket is not None:
            record = bucket.get(event_id)
            if record is not None:
                return key, bucket, record
    return None


def _put(book: SaleBook, store_id: str, received: int, event_id: str, record: list[Any], window_days: int) -> None:
    """Record under the day it was received (unless there already); a new day's first record drops
    the store's buckets past the window and grace."""
    day = day_of(received)
    key = book_key(store_id, day)
    bucket = book.get(key)
    if bucket is None:
        for old in book.days(store_id):
            if old < day - window_days - GRACE_DAYS:
                book.drop(store_id, old)
        bucket = {}
    if event_id not in bucket:
        bucket[event_id] = record
    book[key] = bucket


def taken(ops: list[KeyOp]) -> list[list[Any]]:
    """What a sale's key operations took from each sku: [[sku, milli], ...] (milli positive)."""
    return [[op.sku, -op.quantity] for op in ops]


def record_sale(book: SaleBook, store_id: str, event_id: str, at: int, received: int, took: list[list[Any]], window_days: int) -> None:
    """Keep a sale so that a void can find it; a redelivered sale (the same ``received``: the server
    stamped it once) finds itself in its day's bucket and changes nothing."""
    _put(book, store_id, received, event_id, [SALE, at, received, took, ""], window_days)


def judge_void(
    book: SaleBook,
    store_id: str,
    void_id: str,
    original_id: str,
    at: int,
    received: int,
    window_days: int,
    other_kind: bool = False,
) -> Verdict:
    """The verdict on a void of ``original_id`` received at ``received`` (see the module), recorded
    in the book. ``other_kind``: the store's stock knows ``original_id`` as an event that is not a
    sale of the book (a purchase, a return, ...)."""
    seen = find(book, store_id, void_id)
    if seen is not None and seen[2][KIND] == VOID:  # a redelivery: the verdict it got
        verdict = seen[2][VERDICT]
        if verdict != APPLIED:
            return Verdict(verdict, None, _words(verdict, original_id, store_id, window_days))
        again = find(book, store_id, original_id)
        return Verdict(APPLIED, again[2] if again is not None else None)
    hit = find(book, store_id, original_id)
    sale: list[Any] | None = None
    if hit is None or hit[2][KIND] != SALE:
        status = "not_a_sale" if hit is not None or other_kind else "unknown_sale"
    else:
        key, bucket, sale = hit
        if sale[VOIDED_BY] and sale[VOIDED_BY] != void_id:
            status = "already_voided"
        elif received - sale[RECEIVED] > window_days * US_PER_DAY:
            status = "too_old"
        else:
            status = APPLIED
            if not sale[VOIDED_BY]:
                sale = [*sale[:VOIDED_BY], void_id]
                bucket[original_id] = sale
                book[key] = bucket
    _put(book, store_id, received, void_id, [VOID, at, received, original_id, status], window_days)
    if status == APPLIED:
        return Verdict(APPLIED, sale)
    return Verdict(status, None, _words(status, original_id, store_id, window_days))


def _words(status: str, original_id: str, store_id: str, window_days: int) -> str:
    return {
        "already_voided": f"sale {original_id} was voided already: counted once",
        "too_old": f"sale {original_id} is older than the void window ({window_days} days): void it no more, adjust the stock",
        "not_a_sale": f"event {original_id} is not a sale: only a sale can be voided",
        "unknown_sale": f"no sale {original_id} of store {store_id} is known (another store's, not received yet, or too old)",
    }.get(status, status)


def restoring_ops(store_id: str, sale: list[Any]) -> list[KeyOp]:
    """The key operations that give back what the recorded sale took."""
    return [KeyOp(store_id, sku, False, milli) for sku, milli in sale[OPS]]


def apply_recorded(
    states: MutableMapping[str, StockState],
    book: SaleBook,
    event: Event,
    *,
    leg: str = LEG_OUT,
    fingerprint: str | None = None,
    window_days: int = 30,
    void_window_days: int = 35,
    received_at_us: int | None = None,
    on_applied: Callable[[KeyOp, Result, StockState], None] | None = None,
    event_id: str | None = None,
) -> tuple[list[Applied], Verdict | None]:
    """``domain.events.apply_event`` with the sale book: a sale is recorded in it, a void judged by
    it (the verdict is returned; None for any other event). A void that does not apply leaves every
    state as it was: its keys are reported with outcome NOT_APPLIED and are not written."""
    eid = event_id or str(event.event_id)
    received = received_at_us if received_at_us is not None else to_us(event.received_at or event.occurred_at)
    kw: dict[str, Any] = {"fingerprint": fingerprint, "window_days": window_days, "received_at_us": received, "event_id": eid}
    if isinstance(event, Return) and event.is_void:
        store, original = event.store_id, str(event.original_event_id)
        skus = list(dict.fromkeys(line.sku for line in event.lines))
        found = [states.get(stock_key(store, sku)) for sku in skus]
        # known to the stock as an event the book does not hold as a sale, though it would (received
        # within the book's span): another kind of event
        span = (void_window_days + GRACE_DAYS) * US_PER_DAY
        moves = [s.moves.get(original) for s in found if s is not None]
        other = any(m is not None and received - fold_key(m) <= span for m in moves)
        verdict = judge_void(book, store, eid, original, to_us(event.occurred_at), received, void_window_days, other)
        if verdict.applied and verdict.sale is not None:
            ops = restoring_ops(store, verdict.sale)
            return apply_event(states, event, ops=ops, at_us=verdict.sale[AT], on_applied=on_applied, **kw), verdict
        untouched = []
        for sku, state in zip(skus, found):
            on_hand = 0 if state is None else state.on_hand
            untouched.append(Applied(KeyOp(store, sku, False, 0), Result(Outcome.NOT_APPLIED, on_hand, on_hand), state or StockState()))
        return untouched, verdict
    applied = apply_event(states, event, leg=leg, on_applied=on_applied, **kw)
    if isinstance(event, Sale):
        record_sale(book, event.store_id, eid, to_us(event.occurred_at), received, taken([a.op for a in applied]), void_window_days)
    return applied, None


def unmatched_alert(event: Return, verdict: Verdict, first: Applied, event_id: str) -> dict[str, Any]:
    """The alerts-topic JSON (schemas/alerts.py Alert, kind void_unmatched) of a void that matched no
    sale it may undo, on its first line's sku; its id derives from the void's, so a redelivered
    void raises the same alert (consumers dedupe on it)."""
    store, sku = event.store_id, first.op.sku
    return {
        "v": 1,
        "type": "alert",
        "alert_id": alert_uuid(f"{store}|{sku}|void_unmatched|{event_id}"),
        "kind": "void_unmatched",
        "store_id": store,
        "sku": sku,
        "on_hand": milli_str(first.result.after),
        "threshold": "0",
        "velocity": None,
        "days_of_cover": None,
        "suggested_reorder": None,
        "reorder_unit": None,
        "event_id": event_id,
        "occurred_at": event.occurred_at.isoformat(),
        "raised_at": (event.received_at or event.occurred_at).isoformat(),
        "original_event_id": str(event.original_event_id),
        "reason": verdict.status,
        "detail": verdict.reason,
    }
