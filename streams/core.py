"""The compiled batch core (``batchcore/``, the ``bazaar_batchcore`` extension) as the stock agent's
second way through a batch: one call from the messages' raw bytes to the state writes and the
records to send, with no Python object made per key or per line.

``Checkpoint.apply`` asks ``StreamCore.run`` first. A batch is two calls into the core: ``prepare``
names the RocksDB values it needs that its cache lacks (stock keys, sale-book buckets), read here
from the partitions' databases; ``run`` applies the batch and answers the writes, the records and
the counts (``CoreBatch``). When either answers a reason instead (a void, a time in another
spelling, a state in an older layout, anything it leaves to ``domain/``), nothing changed and the
whole batch goes through the Python rules (``domain.batch.Applier``) as before; the reason is
counted in ``bazaar_stream_core_fallback_total``.

Both ways read and write the same RocksDB values and send the same records (the stored layout is
``streams.codec``'s). Each keeps its own cache of decoded states, so whenever one of them writes,
the other's cache is dropped, as both are on any rebalance (``forget``).

Which core runs is the setting ``stream_core`` (``BAZAAR_STREAM_CORE``): ``rust``, ``python``, or
``auto`` (rust when the extension imports, which ``./bazaar.sh setup`` builds, else python).
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import rocksdict

from bazaar_core.settings import Settings
from domain.batch import BatchOutput
from schemas.types import EARLIEST, latest_accepted
from streams import metrics
from streams.sales import BatchSales
from streams.state import BatchStates

log = logging.getLogger("bazaar.streams.core")

MODULE = "bazaar_batchcore"
# The core reads an event time only this far inside the contract's upper bound; a time nearer it is
# the contract's own to judge (the batch goes to the Python rules).
LATEST_MARGIN_US = 60 * 1_000_000
# How far ahead of the latest accepted event time the time-zone tables reach, so they are rebuilt
# about once a day rather than every batch.
ZONES_AHEAD_S = 2 * 86_400
_ZONE_STEP_S = 6 * 3600  # offsets are sampled this far apart, then each change is found to the second
_LABELS_MAX = 40  # distinct fallback reasons counted by name; the rest as "other"


def load(settings: Settings) -> Any | None:
    """The extension module when the setting asks for it (or allows it, ``auto``, and it imports),
    else None: the Python rules apply every batch. ``rust`` without the extension is an error."""
    mode = settings.stream_core
    if mode == "python":
        return None
    try:
        return importlib.import_module(MODULE)
    except ImportError as exc:
        if mode == "rust":
            raise RuntimeError(f"BAZAAR_STREAM_CORE=rust but {MODULE} does not import ({exc}); ./bazaar.sh setup builds it") from exc
        log.warning(
            "the compiled batch core is not installed; the Python rules apply every batch (./bazaar.sh setup builds it)",
            extra={"error": str(exc)},
        )
        return None


@dataclass
class CoreBatch:
    """What the core made of one batch: RocksDB writes (their changelog records are the same), the
    records to send and the counts, in ``BatchOutput`` form so metrics read them alike."""

    out: BatchOutput
    writes: list[tuple[int, bytes, bytes | None]]  # (partition, key, value or None: delete), stock keys then buckets
    keys: int  # stock keys written
    db: Callable[[int], Any]

    def flush(self, send: Callable[[int, bytes, bytes | None], None]) -> int:
        """One RocksDB write batch per partition, then every write's changelog record in order (as
        ``BatchStates.flush`` then ``BatchSales.flush`` do); the stock keys written."""
        batches: dict[int, tuple[Any, Any]] = {}
        for partition, key, value in self.writes:
            slot = batches.get(partition)
            if slot is None:
                slot = batches[partition] = (self.db(partition), rocksdict.WriteBatch(raw_mode=True))
            if value is None:
                slot[1].delete(key)
            else:
                slot[1].put(key, value)
        for db, batch in batches.values():
            db.write(batch)
        for partition, key, value in self.writes:
            send(partition, key, value)
        return self.keys


class StreamCore:
    """The compiled core over the worker's RocksDB partitions (through ``states`` and ``sales``) and
    its catalog (a ``streams.catalog.CatalogCache``: ``version`` and ``core_tables``)."""

    name = "rust"

    def __init__(self, module: Any, settings: Settings, states: BatchStates, sales: BatchSales, catalog: Any) -> None:
        if not hasattr(catalog, "core_tables"):
            raise TypeError("the compiled core reads the catalog through CatalogCache.core_tables")
        self.core = module.Core(
            settings.late_window_days,
            settings.velocity_window_days,
            settings.void_window_days,
            settings.ledger_topic,
            settings.alerts_topic,
            settings.stream_cache_keys,
        )
        self.states, self.sales, self.catalog = states, sales, catalog
        self._catalog_version: int | None = None
        self._zones: dict[str, list[tuple[int, int]]] = {}  # zone -> [(from µs, offset µs)], up to _zones_until
        self._zones_until = 0  # µs
        self._labels: set[str] = set()

    def forget(self) -> None:
        """Drop the core's cached states (partitions may have moved, or the Python rules wrote)."""
        self.core.forget()

    def run(self, messages: list[tuple]) -> CoreBatch | None:
        """The batch through the core, or None (nothing changed): the Python rules apply it."""
        try:
            latest_us = int(latest_accepted().timestamp() * 1_000_000) - LATEST_MARGIN_US
            self._sync_catalog(latest_us)
            needs = self.core.prepare(messages, latest_us)
            if isinstance(needs, str):
                self._left(needs)
                return None
            values, days = self._read(needs)
            ran = self.core.run(values, days)
        except BaseException as exc:  # a bug in the core (a Rust panic is a BaseException): the Python rules go on
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            log.error("the compiled core failed; the Python rules apply the batch", exc_info=exc)
            self._left("core error")
            return None
        if isinstance(ran, str):
            self._left(ran)
            return None
        writes, records, events, outcomes, alerts, negative, flagged, keys = ran
        out = BatchOutput(
            records=records,
            events=Counter({(kind, leg): n for kind, leg, n in events}),
            outcomes=Counter(dict(outcomes)),
            alerts=Counter({(kind, alert_kind): n for kind, alert_kind, n in alerts}),
            negative=negative,
        )
        if flagged:
            log.warning("events flagged (conflict, beyond the window or a stale count)", extra={"keys": flagged})
        return CoreBatch(out, writes, keys, self.states.db)

    def _left(self, reason: str) -> None:
        """The batch goes to the Python rules, which write its keys: neither cache may keep them."""
        self.core.forget()
        self.states.forget()
        label = _label(reason)
        if label not in self._labels:
            label = label if len(self._labels) < _LABELS_MAX else "other"
            self._labels.add(label)
        metrics.CORE_FALLBACK.labels(label).inc()
        log.debug("batch left to the Python rules", extra={"reason": reason})

    def _read(self, needs: list[tuple[int, bytes, bytes | None]]) -> tuple[list[bytes | None], dict[bytes, list[int]]]:
        """The stored values the core asked for, in its order (one multi-get per partition), and the
        days of each store whose bucket of the day is absent."""
        values: list[bytes | None] = [None] * len(needs)
        by_partition: dict[int, list[int]] = {}
        for i, need in enumerate(needs):
            by_partition.setdefault(need[0], []).append(i)
        for partition, indexes in by_partition.items():
            found = self.states.read_many(partition, [needs[i][1] for i in indexes])
            for i, value in zip(indexes, found):
                values[i] = value
        days: dict[bytes, list[int]] = {}
        for (partition, _, prefix), value in zip(needs, values):
            if prefix is not None and value is None and prefix not in days:
                days[prefix] = self.sales.stored_days(partition, prefix)
        return values, days

    def _sync_catalog(self, latest_us: int) -> None:
        version = self.catalog.version
        ahead = latest_us + LATEST_MARGIN_US
        if version == self._catalog_version and ahead < self._zones_until:
            return
        products, overrides, stores = self.catalog.core_tables()
        if ahead >= self._zones_until:
            self._zones, self._zones_until = {}, ahead + ZONES_AHEAD_S * 1_000_000
        zones = []
        for name in sorted({zone for _, zone in stores}):
            segments = self._zones.get(name)
            if segments is None:
                try:
                    segments = self._zones[name] = zone_segments(ZoneInfo(name), self._zones_until)
                except (ValueError, OSError) as exc:  # no such zone: the core leaves its stores' events to the Python rules
                    log.warning("a store's time zone is unknown", extra={"zone": name, "error": str(exc)})
                    continue
            zones.append((name, segments, self._zones_until))
        self.core.set_catalog(products, overrides, stores, zones)
        self._catalog_version = version


def zone_segments(zone: ZoneInfo, until_us: int) -> list[tuple[int, int]]:
    """[(from µs, UTC offset µs)] of ``zone`` from the contract's earliest event time to ``until_us``:
    each offset holds from its instant until the next. Offsets are sampled every few hours and each
    change found to the second by bisection (zones change on whole seconds)."""

    def offset(t: int) -> int:
        delta = datetime.fromtimestamp(t, zone).utcoffset()
        assert delta is not None
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    t, end = int(EARLIEST.timestamp()), until_us // 1_000_000 + 1
    current = offset(t)
    segments = [(t * 1_000_000, current)]
    while t < end:
        step = min(t + _ZONE_STEP_S, end)
        if offset(step) == current:
            t = step
            continue
        lo, hi = t, step  # offset(lo) == current != offset(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if offset(mid) == current:
                lo = mid
            else:
                hi = mid
        current = offset(hi)
        segments.append((hi * 1_000_000, current))
        t = hi
    return segments


def _label(reason: str) -> str:
    """A fallback reason as a metric label: its fixed words, without the values some carry."""
    if reason.startswith("key "):
        return "a key was not read"
    if reason.startswith("time zone "):
        return "a time zone not given to the core"
    return reason.split(":", 1)[0][:60]
