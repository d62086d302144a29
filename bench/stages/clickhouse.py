"""The ClickHouse sink: not built yet, so this stage reports that and measures nothing."""
from __future__ import annotations

import importlib.util

from bench.context import Context
from bench.stages import result


def run(ctx: Context) -> list[dict]:
    try:
        found = importlib.util.find_spec("clickhouse.sink") is not None
    except ImportError:
        found = False
    if not found:
        why = "not available yet: the ClickHouse sink (clickhouse/sink) does not exist in this build"
    else:
        why = "not available yet: the ClickHouse sink exists but this benchmark stage is not written yet"
    return [result("clickhouse-sink", kind="sink", status="not_available", note=why)]
