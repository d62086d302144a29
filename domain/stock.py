"""Stock of one (store, sku): the rules for applying movements and counts.

The invariant, independent of arrival order:
    on_hand = latest count by occurred_at (0 if none)
              + the sum of movements whose occurred_at is after that count's.
A movement at exactly the count's time is inside the count. Ties between counts at the same
instant go to the larger event id, so every arrival order picks the same count.

State keeps the latest count and the movements after it with their event ids (the dedupe set).
A movement is kept for the late-arrival window after the server *received* it, then folded into
``base`` and its id forgotten, so per-key state stays bounded. Keeping ids by receive time (not
by ``occurred_at``) is what makes a replayed message count once even when the event itself is
old: a crash replay, or a terminal's re-send, comes soon after the first receipt, however long
after the sale it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from domain.alerts import AlertState


class Outcome(str, Enum):
    APPLIED = "applied"  # changed on-hand (or set it, for a count)
    DUPLICATE = "duplicate"  # same event id seen already: counted once
    CONFLICT = "conflict"  # same event id, different payload: first one kept, flagged
    BEFORE_COUNT = "before_count"  # recorded, but a later count already covers it
    STALE_COUNT = "stale_count"  # a count older than the latest count: recorded, no change
    BEYOND_WINDOW = "beyond_window"  # occurred before movements already folded: applied on top, flagged
    NOT_APPLIED = "not_applied"  # recorded, nothing applied: a void that may not undo the sale it names (domain/voids.py)


# A movement kept in a key's state is a list [at, delta, digest, before, received] (what the codec
# stores, so decoding a key creates no per-movement objects): occurred_at in microseconds since the
# epoch (UTC), the signed change in milli-units, the payload fingerprint (to flag a re-send with a
# different payload), on-hand just before it was applied (so a replay reports the same change),
# and the server's receive time (when it is folded). Movements stored before the receive time was
# kept have four items and fold by occurred_at, as they did then.
AT, DELTA, DIGEST, BEFORE, RECEIVED = 0, 1, 2, 3, 4
Move = list[Any]


def fold_key(move: Move) -> int:
    """When a movement folds: once the fold horizon passes its receive time (``at`` if it has none)."""
    at: int = move[RECEIVED] if len(move) > RECEIVED else move[AT]
    return at


@dataclass(slots=True, weakref_slot=True)  # (a store's view of its movements may point back at it weakly)
class StockState:
    count_at: int | None = None
    count_id: str = ""
    count_qty: int = 0
    count_digest: str = ""
    count_before: int = 0  # on-hand just before and just after the count was applied,
    count_after: int = 0  # so a replayed count reports the same change
    base: int = 0  # folded movements (after the count, at or before folded_until)
    folded_until: int | None = None  # the latest occurred_at among the folded movements
    moves: dict[str, Move] = field(default_factory=dict)
    updated_at: int | None = None  # received_at of the last change to on-hand
    alerts: AlertState = field(default_factory=AlertState)  # kept with the stock: one atomic write per key
    moved: int = 0  # sum of the deltas in ``moves`` (cached)
    oldest: int | None = None  # smallest ``fold_key`` in ``moves`` (cached), to fold only when something can
    # Every movement received before this was folded (receive time minus the window, never moving
    # back). None: never folded by these rules (a state from before them: see ``horizon_of``).
    horizon: int | None = None

    @property
    def on_hand(self) -> int:
        return self.count_qty + self.base + self.moved

    @property
    def negative(self) -> bool:
        return self.on_hand < 0


class Result(NamedTuple):
    """What applying one event did to one key. For a DUPLICATE, ``before`` and ``after`` are those
    of the first application, so a replayed event reports exactly what it reported the first time.
    (A NamedTuple: made for every key an event touches, and a frozen dataclass costs several times
    as much to create.)"""

    outcome: Outcome
    before: int
    after: int

    @property
    def changed(self) -> bool:
        return self.outcome is not Outcome.CONFLICT and self.before != self.after

    @property
    def went_negative(self) -> bool:
        return self.outcome in (Outcome.APPLIED, Outcome.BEYOND_WINDOW) and self.after < 0 <= self.before


def apply_movement(state: StockState, event_id: str, at: int, delta: int, digest: str, received_at: int, window: int) -> Result:
    """Apply a signed movement (sale -, purchase +, return +, adjustment ±, transfer ±)."""
    before = state.on_hand
    seen = state.moves.get(event_id)
    if seen is not None:
        if seen[DIGEST] == digest:
            return Result(Outcome.DUPLICATE, seen[BEFORE], seen[BEFORE] + seen[DELTA])
        return Result(Outcome.CONFLICT, before, before)
    if state.count_at is not None and at <= state.count_at:
        return Result(Outcome.BEFORE_COUNT, before, before)
    late = state.folded_until is not None and at <= state.folded_until
    horizon = _pin_horizon(state)
    if horizon is not None and received_at < horizon:
        # received before movements that are already folded: its id could not be kept (a message
        # replayed from beyond the window, or stamped by another producer), so it folds at once
        state.base += delta
        if state.folded_until is None or at > state.folded_until:
            state.folded_until = at
        late = True
    else:
        state.moves[event_id] = [at, delta, digest, before, received_at]
        state.moved += delta
        if state.oldest is None or received_at < state.oldest:
            state.oldest = received_at
    _fold(state, received_at - window)
    outcome = Outcome.BEYOND_WINDOW if late else Outcome.APPLIED
    state.updated_at = received_at
    return Result(outcome, before, state.on_hand)


def apply_count(state: StockState, event_id: str, at: int, quantity: int, digest: str, received_at: int, window: int) -> Result:
    """A physical count is the truth as of its time; later movements still apply on top."""
    before = state.on_hand
    if state.count_at is not None and (at, event_id) <= (state.count_at, state.count_id):
        if event_id == state.count_id:
            if digest == state.count_digest:
                return Result(Outcome.DUPLICATE, state.count_before, state.count_after)
            return Result(Outcome.CONFLICT, before, before)
        return Result(Outcome.STALE_COUNT, before, before)
    if state.folded_until is not None and at < state.folded_until:
        # Movements on both sides of this count were folded together: it cannot be placed exactly.
        return Result(Outcome.STALE_COUNT, before, before)
    _pin_horizon(state)
    state.count_at, state.count_id, state.count_qty, state.count_digest = at, event_id, quantity, digest
    state.count_before = before
    moves = state.moves
    for eid in [eid for eid, m in moves.items() if m[AT] <= at]:
        del moves[eid]  # in place: a store keeping each movement apart deletes just these
    _recount(state)
    state.base = 0
    state.folded_until = None
    _fold(state, received_at - window)
    state.updated_at = received_at
    state.count_after = state.on_hand
    return Result(Outcome.APPLIED, before, state.count_after)


def horizon_of(state: StockState) -> int | None:
    """The fold horizon: every movement with a ``fold_key`` before it is folded. A state from before
    receive times were kept has only ``folded_until`` (it folded by occurred_at, so each movement
    it still keeps occurred after that)."""
    if state.horizon is not None:
        return state.horizon
    return None if state.folded_until is None else state.folded_until + 1


def _pin_horizon(state: StockState) -> int | None:
    """Store the state's horizon before an event changes it (returned): a state from before receive
    times has it only as ``folded_until`` + 1, and ``folded_until`` moves (a movement folded at once
    raises it, a count clears it) while its kept movements, and which of them are dead, stay put."""
    horizon = state.horizon = horizon_of(state)
    return horizon


def _fold(state: StockState, horizon: int) -> None:
    """Move the fold horizon up to ``horizon`` and fold every movement received before it into
    ``base``; their ids are no longer kept. (The state's horizon is pinned: ``_pin_horizon``.)"""
    current = state.horizon
    if current is not None and current > horizon:
        horizon = current
    if state.oldest is not None and state.oldest < horizon:
        for eid in [eid for eid, m in state.moves.items() if fold_key(m) < horizon]:
            move = state.moves.pop(eid)
            state.base += move[DELTA]
            if state.folded_until is None or move[AT] > state.folded_until:
                state.folded_until = move[AT]
        _recount(state)
    # (only now: a store keeping each movement apart treats one behind the horizon as folded already)
    state.horizon = horizon


def _recount(state: StockState) -> None:
    state.moved = sum(m[DELTA] for m in state.moves.values())
    state.oldest = min((fold_key(m) for m in state.moves.values()), default=None)
