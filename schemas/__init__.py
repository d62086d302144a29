"""The event contract: what the API accepts, what goes on the wire and what the agents read."""

from schemas.events import (
    ADJUSTMENT_REASONS,
    Adjustment,
    Count,
    Event,
    EventAdapter,
    EventBatch,
    Purchase,
    Return,
    Sale,
    Transfer,
)

__all__ = [
    "ADJUSTMENT_REASONS",
    "Adjustment",
    "Count",
    "Event",
    "EventAdapter",
    "EventBatch",
    "Purchase",
    "Return",
    "Sale",
    "Transfer",
]
