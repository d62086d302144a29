"""The API's view of access: the credentials, pairing-codes and revocations topics, read from the
beginning and followed (``bazaar_core.auth.book.Book`` holds what they say).

Every replica follows the same topics, so a key created, a code issued or a revocation written on
one replica (or by ``bazaar auth`` on the operator's machine) reaches every other within the
follower's poll, well under the 2 seconds a revocation is allowed. A replica applies its own writes
at once (``put_*`` with the acked offset), as the catalog and webhook views do; where two replicas
may race (a pairing code redeemed twice) the route waits until the view has read past its own
write (``caught_up``) and the earliest record by offset wins.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bazaar_core.auth.book import Book, revocation_key
from bazaar_core.kafka.follow import Record, TopicFollower
from bazaar_core.kafka.topics import topic_configs, topic_specs
from bazaar_core.settings import Settings
from schemas.auth import CredentialRecord, CredentialRevocation, PairingCodeRecord, TokenRevocation

log = logging.getLogger("bazaar.api.auth")

Out = tuple[str, bytes, bytes | None]  # topic, key, value


class AuthView:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.book = Book()
        self._kinds = {
            settings.credentials_topic: "credentials",
            settings.revocations_topic: "revocations",
            settings.pairing_codes_topic: "pairing-codes",
        }
        specs, configs = topic_specs(settings), topic_configs(settings)
        self.follower = TopicFollower(settings, {t: specs[t] for t in self._kinds}, self._on_record, configs=configs, name="auth")

    def _on_record(self, rec: Record) -> None:
        self.book.apply(self._kinds[rec.topic], rec.key, rec.value, rec.offset)

    @property
    def ready(self) -> bool:
        return self.follower.ready

    async def caught_up(self, timeout: float) -> bool:
        """Until every record on the auth topics *now* is in the book (False on timeout)."""
        return await self.follower.caught_up(timeout)

    # ---- what a change writes (the routes write with ``Services.write``, ``bazaar auth`` its own way) ----

    def credential_out(self, rec: CredentialRecord) -> Out:
        return self.settings.credentials_topic, rec.id.encode(), rec.model_dump_json().encode()

    def revocation_out(self, rev: CredentialRevocation | TokenRevocation) -> Out:
        return self.settings.revocations_topic, revocation_key(rev), rev.model_dump_json().encode()

    def code_out(self, h: str, rec: PairingCodeRecord) -> Out:
        return self.settings.pairing_codes_topic, h.encode(), rec.model_dump_json().encode()

    # ---- reads -------------------------------------------------------------------------------------------

    def credential(self, cid: str) -> CredentialRecord | None:
        return self.book.credential(cid)

    def usable(self, cid: str) -> CredentialRecord | None:
        """The credential, unless unknown or revoked."""
        rec = self.book.credential(cid)
        return None if rec is None or cid in self.book.revoked_credentials else rec

    def is_revoked(self, sub: str, jti: str | None) -> bool:
        return self.book.is_revoked(sub, jti)


def now() -> datetime:
    return datetime.now(UTC)
