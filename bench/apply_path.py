"""The stock agent's work per event without Kafka or Faust, in one process: the main data set's
messages (as the API writes them) through ``domain.batch.Applier`` and ``streams.state.BatchStates``
over RocksDB databases (rocksdict, one per partition), in batches of 500 (``--batch``), outputs counted instead of
sent. A steady measure of what the worker's own Python costs per event on a noisy host: run it under
``valgrind --tool=callgrind`` for instruction counts (the difference of two ``--events`` sizes is
independent of start-up), or as it is for CPU µs per event (best of ``--rounds``).

    python -m bench.apply_path                       # the whole data set; checks every stock
    python -m bench.apply_path --start 300 --events 1500 --rounds 1   # a window (no stock check)

Applying the whole data set checks every (store, sku) against the generator's expected totals and
exits 1 on a difference, as the benchmark stages do.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

import rocksdict

from bazaar_core.loadgen.generator import GenConfig
from bench.data import Dataset, compare, generate, load_messages, save_messages
from bench.plan import FULL, QUICK


class _Store:
    """What ``BatchStates`` uses of Faust's RocksDB store: a database per partition, opened as the
    worker opens its stock table's (Faust's ``RocksDBOptions`` with the settings' memory limits:
    bloom filters, block cache, memtables), so writes and reads cost what they cost there."""

    def __init__(self, root: Path) -> None:
        from faust.stores.rocksdb import RocksDBOptions

        from bazaar_core.settings import Settings
        from streams.app import rocksdb_options

        self.root, self.dbs = root, {}
        self.options = RocksDBOptions(**rocksdb_options(Settings()))

    def _db_for_partition(self, partition: int) -> rocksdict.Rdict:
        db = self.dbs.get(partition)
        if db is None:
            db = self.dbs[partition] = self.options.open(self.root / str(partition))
        return db

    def close(self) -> None:
        for db in self.dbs.values():
            db.close()


class _Table:
    def __init__(self, root: Path) -> None:
        self.data = _Store(root)


def apply_all(
    messages: list, root: Path, partitions: int = 8, batch: int = 500, core: str = "python"
) -> tuple[float, int, dict[str, int], int]:
    """(CPU seconds, output records, on-hand per key, batches left to the Python rules) of applying
    ``messages`` in batches, with the sale book in RocksDB as the worker keeps it, through the
    Python rules or (``core="rust"``) the compiled core first (streams/core.py)."""
    from bazaar_core.settings import Settings
    from domain.batch import Applier, BatchOutput
    from streams import core as stream_core
    from streams.catalog import CatalogCache
    from streams.codec import decode
    from streams.sales import BatchSales
    from streams.state import BatchStates

    settings = Settings(stream_core=core)
    table = _Table(root)
    states = BatchStates(table, settings.stream_cache_keys)
    sales = BatchSales(table, lambda: states.partition)
    catalog = CatalogCache(settings)
    applier = Applier(
        states,
        catalog,
        settings.late_window_days,
        settings.velocity_window_days,
        "ledger",
        "alerts",
        sales=sales,
        void_window_days=settings.void_window_days,
    )
    module = stream_core.load(settings)
    compiled = None if module is None else stream_core.StreamCore(module, settings, states, sales, catalog)
    records = left = 0

    def send(partition: int, key: bytes, value: bytes | None) -> None:
        nonlocal records
        records += 1

    parts = [zlib.crc32(key) % partitions for key, _, _ in messages]
    headers = [{k: (v.decode() if isinstance(v, bytes) else v) for k, v in h} for _, _, h in messages]
    started = time.process_time()
    for i in range(0, len(messages), batch):
        if compiled is not None:
            end = min(i + batch, len(messages))
            ran = compiled.run([(parts[j], j, *messages[j]) for j in range(i, end)])
            if ran is not None:
                ran.flush(send)
                records += len(ran.out.records)
                continue
            left += 1
        out = BatchOutput()
        for j in range(i, min(i + batch, len(messages))):
            key, value, _ = messages[j]
            states.partition = parts[j]
            applier.apply(out, parts[j], j, key, value, headers[j])
        states.flush(send)
        sales.flush(send)
        records += len(out.records)
    cpu = time.process_time() - started
    stock: dict[str, int] = {}
    for db in table.data.dbs.values():
        for raw_key, raw in db.items():
            if not raw_key.startswith((b"\x00", b"\x01", b"__faust")):  # stock keys alone (not the sale book)
                stock[raw_key.decode()] = decode(raw, db, raw_key).on_hand
    table.data.close()
    return cpu, records, stock, left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apply_path", description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=int, default=0, help="first message of the window (default 0)")
    parser.add_argument("--events", type=int, help="messages in the window (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="runs; the best CPU µs per message is reported")
    parser.add_argument(
        "--batch",
        type=int,
        default=500,
        help="messages per batch (default 500, the worker's cap; ~35 is what it gets at 2,000 events/s end to end)",
    )
    parser.add_argument("--quick", action="store_true", help="the quick plan's smaller data set")
    parser.add_argument(
        "--core",
        choices=["python", "rust"],
        default="python",
        help="the Python rules alone, or the compiled core first (the batches it leaves go to the Python rules)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()), help="where the generated messages are kept between runs"
    )
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # flagged events are expected in a window that skips the counts
    plan = QUICK if args.quick else FULL
    config = GenConfig(stores=plan.main_stores, events_per_store_day=plan.main_events_per_store, skus=plan.skus, seed=plan.seed)
    cache = args.cache_dir / f"bazaar-apply-path-{config.stores}x{config.events_per_store_day}x{config.skus}-{config.seed}.pkl"
    data: Dataset | None = None
    if not cache.exists():
        data = generate("main", config)
        save_messages(data.messages, cache)
    messages = load_messages(cache)
    whole = args.start == 0 and (args.events is None or args.events >= len(messages))
    window = messages[args.start : None if args.events is None else args.start + args.events]
    from bazaar_core import gcwatch

    gcwatch.tune()  # as the worker collects
    best, failed = None, False
    for r in range(args.rounds):
        root = Path(tempfile.mkdtemp(prefix="bazaar-apply-path-"))
        try:
            cpu, records, stock, left = apply_all(window, root, batch=args.batch, core=args.core)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        us = cpu * 1e6 / max(1, len(window))
        best = us if best is None else min(best, us)
        line = (
            f"[apply-path] round {r + 1} ({args.core}): {len(window):,} messages, {records:,} output records, "
            f"{us:.1f} µs CPU per message" + (f", {left} batches left to the Python rules" if args.core == "rust" else "")
        )
        if whole:
            if data is None:
                data = generate("main", config, messages=False)
            check = compare(data.expected, stock)
            failed |= not check["exact"]
            line += f"; every stock {'exact' if check['exact'] else 'DIFFERS: ' + str(check)}"
        print(line, flush=True)
    print(f"[apply-path] best {best:.1f} µs CPU per message", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
