"""A token bucket per key (a credential, a client address): ``rate`` requests a second on average,
``burst`` at once. Time is passed in, so the rule is tested without a clock."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens added per second
    burst: int  # bucket size


@dataclass
class Buckets:
    limit: Limit
    most_keys: int = 100_000  # a bound on memory: the longest-idle keys are forgotten (a full bucket)
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens for ``key``; 0.0 when allowed, else the seconds until it would be."""
        tokens, at = self._state.pop(key, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + (now - at) * self.limit.rate)
        if tokens >= cost:
            self._state[key] = (tokens - cost, now)
            self._trim()
            return 0.0
        self._state[key] = (tokens, now)
        self._trim()
        return (cost - tokens) / self.limit.rate if self.limit.rate > 0 else float("inf")

    def _trim(self) -> None:
        while len(self._state) > self.most_keys:  # dicts keep insertion order: the first is the longest idle
            del self._state[next(iter(self._state))]
