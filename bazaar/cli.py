"""The one console command, ``bazaar``, with a subcommand per job.

Each subcommand lives in the module that owns the job; this file only gathers them. Only the module of
the subcommand being run is imported: ``bazaar --help`` needs none, ``bazaar X --help`` only X's,
and every child of ``bazaar up`` (``python -m bazaar.cli worker``, ...) starts without the others.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import sys
from collections.abc import Iterable

# subcommand -> (module, help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "kafka": (
        "bazaar.kafka_cmd",
        "fetch Apache Kafka with Maven and run a local single-node broker; `kafka acls`: a secured cluster's users and ACLs",
    ),
    "worker": ("bazaar.run_worker", "run a stream worker (Faust) that keeps the stock tables"),
    "api": ("bazaar.run_api", "run the HTTP API (ingest, lookups, pages)"),
    "up": (
        "bazaar.up",
        "the Kafka broker, stream worker(s), API, notifier and analytics together on embedded defaults "
        "(foreground; a crashed child is restarted)",
    ),
    "demo": ("bazaar.demo", "`up` (broker, worker, API, notifier, analytics) plus a simulated day of POS traffic with a live display"),
    "schema": ("bazaar.schema_cmd", "print or write the JSON Schema of the event contract"),
    "topics": ("bazaar.topics_cmd", "create the app's topics idempotently; `--check` lists those that differ from the settings"),
    "repartition": (
        "bazaar.repartition_cmd",
        "copy the state to a new generation of topics with more partitions (`--pass first`, then `--pass final`)",
    ),
    "chaos": (
        "bazaar.chaos",
        "faults on a local three-node cluster under load (broker kill, pause, a wiped worker), each checked exact",
    ),
    "notifier": ("bazaar.run_notifier", "post alerts to registered webhooks (signed, retried, exactly once)"),
    "catalog": ("bazaar.catalog_cmd", "catalog tools: `catalog import FILE` loads products from CSV through the API"),
    "analytics": ("bazaar.run_analytics", "sink the ledger into ClickHouse (embedded chDB by default) and serve reports"),
    "clickhouse": (
        "bazaar.clickhouse_cmd",
        "analytics schema: `clickhouse migrate` applies the migrations, `clickhouse status` lists them",
    ),
    "dlq": ("bazaar.dlq_cmd", "dead letters: `dlq list|show ID|replay ID..|drop ID..` the messages a process could not handle"),
    "auth": (
        "bazaar.auth_cmd",
        "access: `auth init` (signing and admin keys), `auth rotate`, `auth key create|list|revoke`, `auth token`",
    ),
    "report": ("bazaar.report_cmd", "print a report (daily_sales, top_sellers, stock_as_of, ...) as a table, CSV or JSON"),
    "bench": ("bench.cli", "benchmarks on a local broker: raw limit, Quix peer, workers, API, recovery, scale"),
}


def build_parser(load: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """Every subcommand with its help text; the arguments of those in `load` (default: all), whose
    modules are imported for it. The others are listed but parse no arguments of their own."""
    parser = argparse.ArgumentParser(prog="bazaar", description="bazaar-inventory: real-time stock for kiryana stores")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = set(COMMANDS) if load is None else set(load)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name not in wanted:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a subcommand whose module is not there yet
            if exc.name != module_name:
                raise
            p.set_defaults(_missing=module_name)
            continue
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    faulthandler.enable()  # a crash in native code (librdkafka, RocksDB) still leaves a Python trace
    argv = sys.argv[1:] if argv is None else list(argv)
    # the subcommand is the first word (the top-level parser has no options but --help)
    args = build_parser(argv[:1]).parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"bazaar {args.command}: not available in this build ({args._missing} missing)", file=sys.stderr)
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
