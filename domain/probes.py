"""Readiness ("caught up") and liveness ("not stuck") of a process that consumes topics, decided from
what it last measured of each of its feeds: the analytics process (its ClickHouse sinks) and the
notifier (its alerts consumer) answer their ``/ready`` and ``/livez`` pages with these.

* **Ready** once every feed has been measured lately (something is assigned to it and its lag is
  known) and none is more than ``max_behind`` messages behind; so a process just started, or one
  that fell behind, takes no traffic until it has caught up.
* **Alive** unless a feed is behind and has not moved for ``stall_s``, or a loop that must keep
  turning has not turned for ``stall_s``. A feed waiting on a failure outside the process (ClickHouse
  unreachable, the broker not taking records) is not stuck: it retries, and a restart would bring
  neither back; nor is one whose lag is not known lately (the broker may be away): readiness says so.

The answers name feeds and loops, never figures: the probes are public.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Feed:
    """One consumed topic as last measured."""

    name: str
    behind: int | None  # messages not yet handled (lag plus what is buffered); None: not measured yet
    measured_age_s: float | None  # since ``behind`` was measured; None: never
    idle_s: float  # since the feed last moved (took messages) or was found with nothing to take
    waiting: bool = False  # retrying a failure outside the process


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    status: str  # ready / unmeasured / behind; alive / stuck
    feeds: tuple[str, ...] = ()  # the feeds (or loops) the verdict is about

    def body(self) -> dict[str, object]:
        """What a probe page answers: the status, and the names it is about when not ok."""
        return {"status": self.status} if self.ok else {"status": self.status, "feeds": list(self.feeds)}


def _measured(feed: Feed, fresh_s: float) -> bool:
    return feed.behind is not None and feed.measured_age_s is not None and feed.measured_age_s <= fresh_s


def readiness(feeds: Sequence[Feed], max_behind: int, fresh_s: float) -> Verdict:
    """Ready when there are feeds, each measured within ``fresh_s`` and at most ``max_behind`` behind."""
    if not feeds:
        return Verdict(False, "unmeasured")
    unmeasured = tuple(f.name for f in feeds if not _measured(f, fresh_s))
    if unmeasured:
        return Verdict(False, "unmeasured", unmeasured)
    behind = tuple(f.name for f in feeds if (f.behind or 0) > max_behind)
    if behind:
        return Verdict(False, "behind", behind)
    return Verdict(True, "ready")


def liveness(feeds: Sequence[Feed], stall_s: float, fresh_s: float, loops: Mapping[str, float] | None = None) -> Verdict:
    """Stuck when a loop (name -> seconds since it last turned) has not turned for ``stall_s``, or a
    feed measured within ``fresh_s`` is behind, waits on nothing outside, and has been idle for
    ``stall_s``; alive otherwise."""
    stuck = tuple(name for name, age in (loops or {}).items() if age > stall_s)
    stuck += tuple(f.name for f in feeds if _measured(f, fresh_s) and (f.behind or 0) > 0 and not f.waiting and f.idle_s > stall_s)
    if stuck:
        return Verdict(False, "stuck", stuck)
    return Verdict(True, "alive")
