"""Every topic the app uses, with its partition count and configuration."""
from __future__ import annotations

from bazaar.settings import Settings

LEG_HEADER = "bazaar-leg"
DIGEST_HEADER = "bazaar-digest"


def topic_specs(settings: Settings) -> dict[str, int]:
    """Topics created idempotently before any process starts (name -> partitions)."""
    return {settings.events_topic: settings.partitions, settings.ledger_topic: settings.partitions}


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    # The events topic is the system of record: keep it, so analytics can be rebuilt from it.
    return {settings.events_topic: {"retention.ms": "-1"}}
