"""The catalog's part of ``POST /v1/events`` (rules in ``domain.catalog_refs``): refuse unknown
references of managed stores and convert pack/measure units to base units before producing;
remember what unregistered stores sent once it was accepted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from api.errors import invalid_events, issue
from api.services import Services
from domain.catalog_refs import Uncatalogued, check, without_server_fields
from domain.events import digest
from schemas.events import Event


async def apply(services: Services, events: Sequence[Event], batch: bool) -> tuple[list[Event], list[str | None], Uncatalogued]:
    """(events to produce, the digest of each event as posted where it differs from what is produced,
    else None, uncatalogued references); 422 when a reference or a unit is refused, 503 ``loading``
    if the catalog is not read yet."""
    posted = [without_server_fields(e) for e in events]
    if not services.catalog.follower.ready:
        if services.broker_down():  # producing fails too: answer that (503), not a guess from no catalog
            return posted, [None] * len(posted), Uncatalogued()
        await services.require("catalog")
    checked = check(posted, services.catalog, strict=services.settings.catalog_strict, batch=batch)
    if checked.issues:
        raise invalid_events([issue(i.field, i.reason, i.index) for i in checked.issues])
    # re-sends dedupe on the payload as the terminal sent it: a converted event keeps the posted one's digest
    digests = [None if out is e else digest(e) for out, e in zip(checked.events, posted)]
    return checked.events, digests, checked.uncatalogued


def record(services: Services, uncatalogued: Uncatalogued) -> None:
    """After Kafka acked the events: count and list what the catalog does not know."""
    if uncatalogued:
        services.uncatalogued.record(uncatalogued, datetime.now(UTC))
