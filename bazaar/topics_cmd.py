"""`bazaar topics`: create the app's topics idempotently on the configured broker; with `--check`,
report every topic whose partitions, replication or configs differ from what the code expects."""

from __future__ import annotations

import argparse
import sys

from bazaar_core.kafka.admin import TopicSetupError, describe_topics, ensure_topics
from bazaar_core.kafka.topics import topic_configs, topic_differences, topic_specs
from bazaar_core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="create nothing; list each topic whose partitions, replication factor or configs differ from "
        "the settings' (BAZAAR_PARTITIONS, BAZAAR_REPLICATION_FACTOR, BAZAAR_MIN_INSYNC_REPLICAS); exit 1 if any",
    )


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    specs = topic_specs(settings)
    if args.check:
        differences = topic_differences(settings, describe_topics(settings, list(specs)))
        for line in differences:
            print(line)
        if differences:
            print(f"bazaar topics --check: {len(differences)} difference(s) in {len(specs)} topics", file=sys.stderr)
            return 1
        print(
            f"bazaar topics --check: {len(specs)} topics as expected (replication factor {settings.replication_factor}, "
            f"min.insync.replicas {settings.min_insync_replicas})"
        )
        return 0
    try:
        ensure_topics(settings, specs, topic_configs(settings))
    except TopicSetupError as exc:
        print(f"bazaar topics: {exc}", file=sys.stderr)
        return 1
    for name, partitions in specs.items():
        print(f"{name}: {partitions} partitions")
    return 0
