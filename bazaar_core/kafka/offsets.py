"""``OffsetTracker``: which offset of each partition may be committed, when messages finish out of order.

A message is *pending* while some of its work is unfinished (the notifier: deliveries to webhooks,
and the cursor of a webhook whose deliveries are parked on the topic, which holds its position).
The committable offset of a partition is the lowest pending offset, or one past the highest seen
when nothing is pending, so a commit never moves past unfinished work. Thread-safe (rebalance
callbacks run on the consumer's thread).
"""

from __future__ import annotations

import threading


class OffsetTracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, dict[int, int]] = {}  # partition -> offset -> unfinished parts
        self._next: dict[int, int] = {}  # partition -> one past the highest offset seen
        self._committed: dict[int, int] = {}

    def add(self, partition: int, offset: int, parts: int) -> None:
        with self._lock:
            self._next[partition] = max(self._next.get(partition, 0), offset + 1)
            if parts > 0:
                pending = self._pending.setdefault(partition, {})
                pending[offset] = pending.get(offset, 0) + parts

    def join(self, partition: int, offset: int, parts: int = 1) -> bool:
        """Add unfinished parts to a message already seen (``add``ed) of a partition still held: a
        later reader of the same message (the notifier's parked-webhook cursor) holds the commit there
        too. False when the partition was revoked or the offset not seen yet (nothing added)."""
        with self._lock:
            if partition not in self._next or offset >= self._next[partition]:
                return False
            pending = self._pending.setdefault(partition, {})
            pending[offset] = pending.get(offset, 0) + parts
            return True

    def next(self, partition: int) -> int | None:
        """One past the highest offset seen of a partition (None: not held)."""
        with self._lock:
            return self._next.get(partition)

    def done(self, partition: int, offset: int) -> None:
        with self._lock:
            pending = self._pending.get(partition)
            if pending is None or offset not in pending:
                return  # the partition was revoked meanwhile
            pending[offset] -= 1
            if pending[offset] <= 0:
                del pending[offset]

    def safe(self, partition: int) -> int | None:
        with self._lock:
            return self._safe(partition)

    def _safe(self, partition: int) -> int | None:
        pending = self._pending.get(partition)
        if pending:
            return min(pending)
        return self._next.get(partition)

    def to_commit(self, partitions: list[int] | None = None) -> dict[int, int]:
        """Offsets that moved since the last ``committed``: partition -> offset to commit."""
        with self._lock:
            out = {}
            for p in partitions if partitions is not None else list(self._next):
                safe = self._safe(p)
                if safe is not None and safe > self._committed.get(p, -1):
                    out[p] = safe
            return out

    def committed(self, offsets: dict[int, int]) -> None:
        with self._lock:
            for p, o in offsets.items():
                self._committed[p] = max(self._committed.get(p, -1), o)

    def forget(self, partitions: list[int]) -> None:
        with self._lock:
            for p in partitions:
                self._pending.pop(p, None)
                self._next.pop(p, None)
                self._committed.pop(p, None)

    def pending(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._pending.values())

    def held(self) -> dict[int, int]:
        """Partitions whose commit unfinished work holds back: partition -> messages seen past it."""
        with self._lock:
            return {p: self._next[p] - min(pending) for p, pending in self._pending.items() if pending and p in self._next}
