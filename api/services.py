"""What the catalog, alert, webhook and auth routes use, started and stopped by the API's lifespan:
one record writer and the views built from compacted topics. Routes reach it through the aliases
of ``api.deps`` (the views answer 503 ``loading`` until they have caught up)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from api.alert_view import AlertView
from api.auth_view import AuthView
from api.catalog_view import CatalogView
from api.errors import ApiError, issue
from api.uncatalogued import UncataloguedLog
from api.webhook_view import WebhookView
from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.kafka.writer import RecordWriter
from bazaar_core.settings import Settings

log = logging.getLogger("bazaar.api.services")

READY_WAIT_S = 10.0  # a request arriving while a view is still loading waits this long for it


@dataclass
class Services:
    settings: Settings
    writer: RecordWriter
    catalog: CatalogView
    alerts: AlertView
    webhooks: WebhookView
    auth: AuthView
    uncatalogued: UncataloguedLog
    broker_down: Callable[[], bool] = lambda: False
    uncatalogued_follower: TopicFollower = field(init=False)

    def __post_init__(self) -> None:
        topic = self.settings.uncatalogued_topic
        self.uncatalogued_follower = TopicFollower(
            self.settings,
            {topic: topic_specs(self.settings)[topic]},
            self._on_uncatalogued,
            configs=topic_configs(self.settings),
            name="uncatalogued",
        )

    @classmethod
    def create(cls, settings: Settings, broker_down=lambda: False) -> Services:
        return cls(
            settings,
            RecordWriter(settings),
            CatalogView(settings),
            AlertView(settings),
            WebhookView(settings),
            AuthView(settings),
            UncataloguedLog(),
            broker_down,
        )

    @property
    def followers(self) -> dict:
        return {
            "catalog": self.catalog.follower,
            "alerts": self.alerts.follower,
            "webhooks": self.webhooks.follower,
            "auth": self.auth.follower,
            "uncatalogued": self.uncatalogued_follower,
        }

    def _on_uncatalogued(self, rec: Record) -> None:
        try:
            self.uncatalogued.apply_record(rec.key, rec.value)
        except (ValueError, KeyError, TypeError) as exc:  # (orjson's decode error is a ValueError)
            log.error("uncatalogued record breaks the format", extra={"offset": rec.offset, "error": str(exc)})

    async def publish_uncatalogued(self) -> int:
        """Publish this instance's changed uncatalogued totals; what the broker did not take is
        published again next time. Returns how many records were written."""
        changes = self.uncatalogued.take_changes()
        if not changes:
            return 0
        written = await self.writer.write_many([(self.settings.uncatalogued_topic, key, value) for _, key, value in changes])
        failed = [store for (store, _, _), w in zip(changes, written) if not w.ok]
        if failed:
            self.uncatalogued.requeue(failed)
            log.warning(
                "uncatalogued totals not published; retrying",
                extra={"stores": len(failed), "error": next(w.error for w in written if not w.ok)},
            )
        return len(changes) - len(failed)

    def start(self) -> None:
        self.writer.start()
        for f in self.followers.values():
            f.start()

    def stop(self) -> None:
        for f in self.followers.values():
            f.request_stop()
        for f in self.followers.values():
            f.stop()
        self.writer.close(self.settings.produce_timeout_s)

    def ready(self) -> dict[str, bool]:
        return {name: f.ready for name, f in self.followers.items()}

    async def wait_ready(self, *names: str, timeout: float = READY_WAIT_S) -> bool:
        followers = [self.followers[n] for n in names or self.followers]
        pending = [f for f in followers if not f.ready]
        if not pending:
            return True
        if self.broker_down():
            return False
        results = await asyncio.gather(*(asyncio.to_thread(f.wait_ready, timeout) for f in pending))
        return all(results)

    async def require(self, *names: str) -> None:
        if not await self.wait_ready(*names):
            raise ApiError(
                503,
                "loading",
                [issue(None, f"the {', '.join(names)} view is still being read from Kafka; try again")],
                headers={"Retry-After": "1"},
            )

    async def write(self, topic: str, key: bytes, value: bytes | None) -> Acked:
        """Write one record and wait for the broker's ack; 503 ``broker_unavailable`` if it does not come."""
        if self.broker_down():
            raise unavailable("broker unavailable")
        written = await self.writer.write(topic, key, value)
        if not written.ok or written.partition is None or written.offset is None:
            raise unavailable(written.error)
        return Acked(written.partition, written.offset)


class Acked(NamedTuple):
    """Where the broker stored a record."""

    partition: int
    offset: int


def unavailable(reason: str | None) -> ApiError:
    return ApiError(
        503,
        "broker_unavailable",
        [issue(None, f"{reason}; the change may not be stored: send it again (it is safe)")],
        headers={"Retry-After": "1"},
    )
