"""`bazaar topics`: create the app's topics idempotently on the configured broker."""

from __future__ import annotations

import argparse

from bazaar_core.kafka.admin import ensure_topics
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    specs = topic_specs(settings)
    ensure_topics(settings, specs, topic_configs(settings))
    for name, partitions in specs.items():
        print(f"{name}: {partitions} partitions")
    return 0
