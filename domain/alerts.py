"""Alert rules for one (store, sku): edge-triggered crossings of stock thresholds.

Kinds: ``negative_stock`` (on-hand < 0), ``out_of_stock`` (on-hand <= 0), ``low_stock`` (on-hand <=
reorder point) and ``running_out`` (0 < days of cover < lead time; cover = on-hand / average daily
sales over the velocity window). An alert is raised once when its condition becomes true and is
re-armed ("cleared") only when the condition becomes false again. Ids derive from (store, sku, kind,
event id), and the transitions of a key's most recent events are remembered, so a replayed event
re-emits exactly the transitions it caused the first time, and nothing else.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any, NamedTuple

from domain.quantities import MILLI

KINDS = ("negative_stock", "out_of_stock", "low_stock", "running_out")
RECENT_EVENTS = 16  # transitions kept per key for replays (replays are of uncommitted events: seconds)
_NS = uuid.UUID("6b3f7a52-0a1e-4c55-9d7e-3c2a1f0b9e11")
_NS_BYTES = _NS.bytes


def alert_uuid(name: str) -> str:
    """``str(uuid.uuid5(_NS, name))``, without making a UUID object (a transition's id is
    deterministic, so a replayed event re-emits the same id: this must never change)."""
    h = bytearray(hashlib.sha1(_NS_BYTES + name.encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What the catalog says about this product at this store (None: not set)."""

    reorder_point: int | None = None  # milli-units
    lead_time_days: int | None = None
    reorder_min: int | None = None  # milli-units
    reorder_max: int | None = None  # milli-units
    pack_size: int | None = None  # milli-units of the pack suggestions are rounded to
    pack_unit: str | None = None


@dataclass(slots=True)
class AlertState:
    fired: dict[str, str] = field(default_factory=dict)  # kind -> alert_id of the raised, not yet cleared alert
    sales: dict[int, int] = field(default_factory=dict)  # store-local day ordinal -> milli-units sold
    first_day: int | None = None  # first day with a sale, so a young key's velocity is not diluted
    recent: list[list[Any]] = field(default_factory=list)  # [event_key, [transition, ...]] of recent events


class Transition(NamedTuple):  # a NamedTuple: an event can raise several per key, and frozen dataclasses are slow to make
    type: str  # "alert" or "cleared"
    kind: str
    alert_id: str
    on_hand: int
    threshold: Decimal
    velocity: Decimal | None
    days_of_cover: Decimal | None
    suggested_reorder: Decimal | None
    reorder_unit: str | None
    clears: str | None = None  # for a "cleared" transition: the alert id it ends

    def as_list(self) -> list[Any]:
        return [
            self.type,
            self.kind,
            self.alert_id,
            self.on_hand,
            str(self.threshold),
            _s(self.velocity),
            _s(self.days_of_cover),
            _s(self.suggested_reorder),
            self.reorder_unit,
            self.clears,
        ]

    @classmethod
    def from_list(cls, v: list[Any]) -> Transition:
        return cls(v[0], v[1], v[2], v[3], Decimal(v[4]), _d(v[5]), _d(v[6]), _d(v[7]), v[8], v[9])


def after_apply(
    state: AlertState,
    *,
    sale: bool,
    outcome: str,
    store_id: str,
    sku: str,
    quantity: int,
    on_hand: int,
    limits: Thresholds,
    day: int,
    event_key: str,
    window_days: int,
) -> list[Transition]:
    """The alert step that follows applying one event leg to one key (outcome as a string value)."""
    if outcome == "duplicate":
        return replayed(state, event_key)
    if outcome == "conflict":
        return []
    if sale:
        record_sale(state, day, -quantity, window_days)
    return evaluate(state, store_id, sku, on_hand, limits, event_key, window_days)


def record_sale(state: AlertState, day: int, sold: int, window_days: int) -> None:
    """Count a newly applied sale (milli-units) into the velocity window."""
    sales = state.sales
    known = day in sales
    sales[day] = sales.get(day, 0) + sold
    if state.first_day is None or day < state.first_day:
        state.first_day = day
    if known:  # no new day: the window did not move
        return
    newest = max(sales)
    for old in [d for d in state.sales if d <= newest - window_days]:
        del state.sales[old]


def _sold(state: AlertState, window_days: int) -> tuple[int, int]:
    """(milli-units sold, days) over the window, or over the days since the first sale."""
    newest = max(state.sales)
    first = newest if state.first_day is None else state.first_day
    return sum(state.sales.values()), max(1, min(window_days, newest - first + 1))


def velocity(state: AlertState, window_days: int) -> Decimal | None:
    """Average daily sales (base units/day) over the window, or over the days since the first sale."""
    if not state.sales:
        return None
    sold, days = _sold(state, window_days)
    return Decimal(sold) / MILLI / days


def conditions(state: AlertState, on_hand: int, limits: Thresholds, window_days: int) -> tuple[bool, bool, bool, bool]:
    """Which of KINDS hold, in exact integer arithmetic. Running out: 0 < days of cover < lead time,
    where cover = on_hand / (sold / days), i.e. on_hand * days < lead time * sold."""
    running = False
    if limits.lead_time_days is not None and on_hand > 0 and state.sales:
        sold, days = _sold(state, window_days)
        running = sold > 0 and on_hand * days < limits.lead_time_days * sold
    low = limits.reorder_point is not None and on_hand <= limits.reorder_point
    return on_hand < 0, on_hand <= 0, low, running


def evaluate(
    state: AlertState, store_id: str, sku: str, on_hand: int, limits: Thresholds, event_key: str, window_days: int
) -> list[Transition]:
    """Raise or clear alerts after an event changed on-hand; remembers them under ``event_key``."""
    holds = conditions(state, on_hand, limits, window_days)
    fired = state.fired
    if not fired and not any(holds):  # the common case: nothing raised, nothing to raise
        return []
    changes = [(kind, active) for kind, active in zip(KINDS, holds) if active != (kind in fired)]
    if not changes:  # no Decimal arithmetic unless something changes
        return []
    vel = velocity(state, window_days)
    cover = (Decimal(on_hand) / MILLI / vel) if vel else None
    vel_q, cover_q = _q(vel), _q(cover)
    # the same for every kind this event raises: worked out once, and only if it raises one
    suggestion = suggest(on_hand, limits, vel) if any(active for _, active in changes) else None
    out: list[Transition] = []
    for kind, active in changes:
        alert_id = alert_uuid(f"{store_id}|{sku}|{kind}|{event_key}|{'alert' if active else 'cleared'}")
        suggested = suggestion if active else None
        clears = None if active else fired.pop(kind)
        out.append(
            Transition(
                "alert" if active else "cleared",
                kind,
                alert_id,
                on_hand,
                _threshold(kind, limits),
                vel_q,
                cover_q,
                suggested,
                limits.pack_unit if suggested else None,
                clears,
            )
        )
        if active:
            fired[kind] = alert_id
    state.recent.append([event_key, [t.as_list() for t in out]])
    del state.recent[:-RECENT_EVENTS]
    return out


_ZERO = Decimal(0)


def _threshold(kind: str, limits: Thresholds) -> Decimal:
    """The threshold an alert of this kind reports: 0 for negative and out of stock."""
    if kind == "low_stock" and limits.reorder_point is not None:
        return Decimal(limits.reorder_point) / MILLI
    if kind == "running_out" and limits.lead_time_days is not None:
        return Decimal(limits.lead_time_days)
    return _ZERO


def replayed(state: AlertState, event_key: str) -> list[Transition]:
    """The transitions a replayed event caused the first time (empty if none, or too old)."""
    for key, transitions in state.recent:
        if key == event_key:
            return [Transition.from_list(t) for t in transitions]
    return []


def suggest(on_hand: int, limits: Thresholds, vel: Decimal | None) -> Decimal | None:
    """Order up to the max level (or reorder point + lead-time demand), at least the minimum,
    rounded up to whole packs; in base units."""
    if limits.reorder_max is not None:
        target = Decimal(limits.reorder_max)
    elif limits.reorder_point is not None:
        demand = vel * limits.lead_time_days * MILLI if vel and limits.lead_time_days else Decimal(0)
        target = Decimal(limits.reorder_point) + demand
    else:
        return None
    need = max(target - on_hand, Decimal(limits.reorder_min or 0), Decimal(0))
    if need == 0:
        return None
    pack = Decimal(limits.pack_size or MILLI)
    packs = (need / pack).to_integral_value(rounding=ROUND_CEILING)
    return (packs * pack / MILLI).normalize()


def _q(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.001"))


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def message(t: Transition, store_id: str, sku: str, event_id: str, occurred_at: str, raised_at: str) -> dict[str, Any]:
    """The alerts-topic JSON (schemas/alerts.py Alert or AlertCleared) of a transition."""
    body = {
        "v": 1,
        "type": t.type,
        "alert_id": t.alert_id,
        "kind": t.kind,
        "store_id": store_id,
        "sku": sku,
        "on_hand": format(Decimal(t.on_hand) / MILLI, "f"),
        "threshold": str(t.threshold),
        "event_id": event_id,
        "occurred_at": occurred_at,
        "raised_at": raised_at,
    }
    if t.type == "cleared":
        body["cleared_alert_id"] = t.clears
    else:
        body.update(
            velocity=_s(t.velocity),
            days_of_cover=_s(t.days_of_cover),
            suggested_reorder=_s(t.suggested_reorder),
            reorder_unit=t.reorder_unit,
        )
    return body
