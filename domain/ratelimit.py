"""A token bucket per key (a credential, a client address): ``rate`` requests a second on average,
``burst`` at once. Time is passed in, so the rule is tested without a clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.access import Role


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens added per second
    burst: int  # bucket size


# Per credential, by role (``settings.rate_limits`` overrides): far above what the role's honest
# client sends (a counter's terminal posts an event every few seconds), so only a runaway or a
# stolen key meets it. Each API replica counts on its own (docs/access.md).
ROLE_LIMITS: dict[Role, Limit] = {
    Role.ADMIN: Limit(1000, 2000),
    Role.OWNER: Limit(100, 200),
    Role.MANAGER: Limit(50, 100),
    Role.CASHIER: Limit(20, 40),
    Role.TERMINAL: Limit(20, 40),
    Role.ANALYST: Limit(10, 20),
    Role.OPS: Limit(10, 20),
}


def role_limits(overrides: Mapping[str, tuple[float, int]]) -> dict[Role, Limit]:
    """``ROLE_LIMITS`` with ``{"terminal": (rate, burst)}`` overrides; ValueError on an unknown
    role or a limit that could never admit a request."""
    out = dict(ROLE_LIMITS)
    names = {r.value: r for r in Role}
    for name, (rate, burst) in overrides.items():
        if name not in names:
            raise ValueError(f"rate_limits: unknown role {name!r}; roles are {', '.join(names)}")
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate_limits: {name!r} needs a rate above 0 and a burst of at least 1")
        out[names[name]] = Limit(float(rate), int(burst))
    return out


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
