"""The ledger entry of one applied event leg: per sku, what it asked and what it did to on-hand."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from decimal import Decimal
from functools import lru_cache
from typing import Any

from domain.events import LEG_IN, Applied, from_us
from domain.quantities import MILLI
from domain.stock import Outcome
from domain.voids import AT, Verdict
from schemas.events import Adjustment, Event, Purchase, Return, Sale, Transfer
from schemas.types import decimal_text

# the ledger's outcome of each key outcome: a re-delivered event reports what it did the first time
_OUTCOME = {o: (Outcome.APPLIED if o is Outcome.DUPLICATE else o).value for o in Outcome}


def ledger_entry(
    event: Event,
    leg: str,
    applied: list[Applied],
    inactive: AbstractSet[str] = frozenset(),
    event_id: str | None = None,
    verdict: Verdict | None = None,
) -> dict[str, Any] | None:
    """JSON-ready LedgerEntry, or None when nothing is left to record (only conflicting re-sends).
    ``inactive``: skus the catalog marks inactive at the store (a sale of one is kept and flagged).
    ``event_id``: ``str(event.event_id)``, if the caller has it already. ``verdict``: a void's
    (``domain.voids``): an applied void's entry is placed at its sale's occurred_at, where the stock
    rules applied it (its own goes in ``void_occurred_at``); a flagged one's rows move nothing."""
    money = _amounts(event)
    reasons = _reasons(event)
    # a return's reason on every row (a void's skus are its sale's, not its lines')
    returned = (event.reason or "customer_return") if isinstance(event, Return) else None
    rows = []
    for a in applied:
        op, result = a.op, a.result
        outcome = result.outcome
        if outcome is Outcome.CONFLICT:
            continue  # a re-send with another payload: the first one is the record
        sku = op.sku
        rows.append(
            {
                "sku": sku,
                "quantity": _dec(op.quantity),
                "amount": money.get(sku),
                "reason": reasons.get(sku, returned),
                "on_hand_before": _dec(result.before),
                "on_hand_after": _dec(result.after),
                "changed": result.changed,
                "outcome": _OUTCOME[outcome],
                "flags": ["inactive_product"] if sku in inactive else [],
            }
        )
    if not rows:
        return None
    transfer = isinstance(event, Transfer)
    to_store_id = event.to_store_id if isinstance(event, Transfer) else None
    entry = {
        "v": 1,
        "event_id": event_id or str(event.event_id),
        "type": event.type,
        "leg": leg,
        "store_id": to_store_id if transfer and leg == LEG_IN else event.store_id,
        "other_store_id": (event.store_id if leg == LEG_IN else to_store_id) if transfer else None,
        "terminal_id": event.terminal_id,
        "actor": event.actor,
        "supplier": event.supplier if isinstance(event, Purchase) else None,
        "occurred_at": event.occurred_at.isoformat(),
        "received_at": event.received_at.isoformat() if event.received_at else None,
        "rows": rows,
    }
    if isinstance(event, Return):  # (only a return's entry has these: every other's JSON stays as it was)
        entry["original_event_id"] = str(event.original_event_id) if event.original_event_id else None
        if verdict is not None:
            entry["void"] = verdict.status
            entry["void_occurred_at"] = entry["occurred_at"]
            if verdict.applied and verdict.sale is not None:
                entry["occurred_at"] = from_us(verdict.sale[AT]).isoformat()
    return entry


@lru_cache(maxsize=65_536)  # quantities and on-hand figures repeat: each is formatted once
def _dec(milli: int) -> str:
    """Milli-units as the plain decimal string ``format(Decimal(milli) / 1000, "f")`` gives
    (no exponent, no trailing zeros: 1250 -> "1.25", 1000 -> "1", -500 -> "-0.5"), in integers."""
    whole, part = divmod(-milli if milli < 0 else milli, MILLI)
    text = str(whole) if part == 0 else f"{whole}.{part:03d}".rstrip("0")
    return "-" + text if milli < 0 else text


def _amounts(event: Event) -> dict[str, str]:
    if isinstance(event, (Sale, Return)):
        priced = [(line.sku, line.entered_quantity, line.quantity, line.unit_price) for line in event.lines]
    elif isinstance(event, Purchase):
        priced = [(line.sku, line.entered_quantity, line.quantity, line.unit_cost) for line in event.lines]
    else:
        return {}
    out: dict[str, str] = {}
    repeated: set[str] = set()
    for sku, entered, quantity, price in priced:
        if price is None:
            continue
        # money is per unit as entered (a carton's price, not a piece's)
        if sku in out:
            repeated.add(sku)
        else:
            out[sku] = _line_amount(quantity if entered is None else entered, price)
    for sku in repeated:  # the same sku on several lines (rare): the exact sum of its lines
        total = sum(((q if e is None else e) * p for s, e, q, p in priced if s == sku and p is not None), Decimal(0))
        out[sku] = decimal_text(total)
    return out


@lru_cache(maxsize=65_536)  # a line's quantity and price repeat (a pack of tea at its price): each product is worked out once
def _line_amount(entered: Decimal, price: Decimal) -> str:
    return decimal_text(entered * price)


def _reasons(event: Event) -> dict[str, str]:
    if not isinstance(event, Adjustment):
        return {}
    return {line.sku: event.reason_of(line) for line in event.lines}
