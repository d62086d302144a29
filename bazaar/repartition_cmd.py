"""`bazaar repartition --to-prefix NEW --partitions N [--from-prefix OLD] [--pass first|final]`: copy
a deployment's state to a new generation of topics with more partitions (docs/deploy.md, "Growing
past the partition count"; the copy is ``bazaar_core.kafka.repartition``)."""

from __future__ import annotations

import argparse
import sys

from bazaar_core.kafka.admin import TopicSetupError
from bazaar_core.kafka.repartition import PASSES, Pass, Repartition, RepartitionError, generation
from bazaar_core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-prefix", help="the old generation's topic prefix (default: BAZAAR_TOPIC_PREFIX)")
    parser.add_argument("--to-prefix", required=True, help="the new generation's topic prefix (its BAZAAR_TOPIC_PREFIX)")
    parser.add_argument("--partitions", type=int, required=True, help="the new partition count (its BAZAAR_PARTITIONS); never fewer")
    parser.add_argument(
        "--pass",
        dest="pass_",
        choices=PASSES,
        default="first",
        help="first: copy everything so far while the old generation serves (again: what was written since); "
        "final: once ingest has stopped, wait until the old workers committed every event, copy the rest and seal the copy",
    )
    parser.add_argument(
        "--wait-s",
        type=float,
        default=120.0,
        help="final pass: how long to wait for the old workers to commit every event before refusing (default 120)",
    )


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    old = generation(settings, args.from_prefix or settings.topic_prefix)
    new = generation(settings, args.to_prefix, args.partitions)
    print(f"bazaar repartition: {args.pass_} pass, {old.topic_prefix!r} -> {new.topic_prefix!r} ({new.partitions} partitions)", flush=True)
    try:
        done = Repartition(old, new, args.pass_, lag_wait_s=args.wait_s, say=lambda line: print(f"  {line}", flush=True)).run()
    except (RepartitionError, TopicSetupError) as exc:
        print(f"bazaar repartition: refused: {exc}", file=sys.stderr)
        return 1
    print(summary(done))
    return 0


def summary(done: Pass) -> str:
    rate = done.records / done.seconds if done.seconds else 0.0
    waited = f", after waiting {done.waited_s:.1f} s for the old workers' commits" if done.pass_ == "final" else ""
    then = (
        "sealed: start the new generation's workers on empty disks, then its API"
        if done.pass_ == "final"
        else "stop ingest, then run --pass final"
    )
    return (
        f"bazaar repartition: {done.pass_} pass copied {done.records:,} records from {len(done.topics)} topics "
        f"({done.old_partitions} -> {done.new_partitions} partitions) in {done.seconds:.1f} s ({rate:,.0f} records/s){waited}; {then}"
    )
