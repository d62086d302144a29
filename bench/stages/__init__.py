"""The benchmark stages, in the order a run goes through them.

Each module has ``run(ctx) -> list[dict]``: one result per measured thing, each with ``name``,
``status`` (ok, failed, not_available), ``exact`` (final stock equal to the generator's expected
totals) and, for throughput stages, ``events_per_s``.
"""

from __future__ import annotations

# key (for --stages) -> module
STAGES: dict[str, str] = {
    "raw": "bench.stages.raw",
    "peer": "bench.stages.peer",
    "stream": "bench.stages.stream",
    "api": "bench.stages.api",
    "auth-cost": "bench.stages.auth_cost",
    "recovery": "bench.stages.recovery",
    "repartition": "bench.stages.repartition",
    "scale": "bench.stages.scale",
    "memory": "bench.stages.memory",
    "clickhouse": "bench.stages.clickhouse",
}


def result(name: str, **fields) -> dict:
    return {"name": name, "status": "ok", "exact": None, **fields}


def exactness(check: dict) -> dict:
    """The fields a stage result carries from ``bench.data.compare``."""
    return {
        "exact": check["exact"],
        "checked_keys": check["checked_keys"],
        "differences": check["differences"],
        **({"difference_examples": check["examples"]} if check["examples"] else {}),
    }
