"""Every topic the app uses, with its partition count and configuration."""

from __future__ import annotations

from bazaar_core.settings import Settings
from domain.events import DIGEST_HEADER, LEG_HEADER  # noqa: F401  (re-exported: the wire's header names)


def stock_changelog(settings: Settings) -> str:
    """Faust's name for the stock table's changelog (``{app id}-{table}-changelog``). It is created
    with the other topics, so workers starting together never race to create it."""
    return f"{settings.group_id}-stock-changelog"


def topic_specs(settings: Settings) -> dict[str, int]:
    """Topics created idempotently before any process starts (name -> partitions)."""
    return {
        stock_changelog(settings): settings.partitions,
        settings.events_topic: settings.partitions,
        settings.ledger_topic: settings.partitions,
        settings.alerts_topic: settings.partitions,
        settings.products_topic: 1,
        settings.stores_topic: 1,
        settings.store_products_topic: 1,
        settings.alert_acks_topic: 1,
        settings.webhooks_topic: 1,
        settings.webhook_deliveries_topic: 1,
        settings.webhook_dead_letters_topic: 1,
        settings.uncatalogued_topic: 1,
        settings.dead_letters_topic: 1,
        settings.credentials_topic: 1,
        settings.pairing_codes_topic: 1,
        settings.revocations_topic: 1,
    }


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    # The events topic is the system of record: keep it, so analytics can be rebuilt from it.
    compacted = {"cleanup.policy": "compact"}
    return {
        stock_changelog(settings): compacted,
        settings.events_topic: {"retention.ms": "-1"},
        settings.ledger_topic: {"retention.ms": "-1"},
        settings.alerts_topic: {"retention.ms": "-1"},
        settings.products_topic: compacted,
        settings.stores_topic: compacted,
        settings.store_products_topic: compacted,
        settings.alert_acks_topic: compacted,
        settings.webhooks_topic: compacted,
        settings.webhook_deliveries_topic: compacted,
        settings.webhook_dead_letters_topic: compacted,
        settings.uncatalogued_topic: compacted,
        settings.dead_letters_topic: compacted,
        settings.credentials_topic: compacted,
        settings.pairing_codes_topic: compacted,
        settings.revocations_topic: compacted,
    }
