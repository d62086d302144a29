"""What the credentials, revocations and pairing-codes topics say, in memory: the ``Book``.

Every API replica (``api.auth_view``) and ``bazaar auth`` fill one from the topics, record by record
in offset order (``apply``). The request path reads it without taking the lock: ``is_revoked`` is
two dict lookups (a dict read is atomic in CPython, and a revocation only ever adds).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import TypeAdapter, ValidationError

from schemas.auth import CredentialRecord, CredentialRevocation, PairingCodeRecord, Revocation, TokenRevocation

log = logging.getLogger("bazaar.auth.book")

TOUCH_EVERY_S = 60.0  # last_used_at is published at most this often per credential
CREDENTIAL, TOKEN = "credential|", "token|"
_REVOCATION: TypeAdapter[CredentialRevocation | TokenRevocation] = TypeAdapter(Revocation)


def revocation_key(rev: CredentialRevocation | TokenRevocation) -> bytes:
    return (CREDENTIAL + rev.id if isinstance(rev, CredentialRevocation) else TOKEN + rev.jti).encode()


@dataclass(frozen=True)
class Code:
    """A pairing code as the topic has it: as created, and its first redemption (lowest offset)."""

    record: PairingCodeRecord
    redeemed: tuple[int, PairingCodeRecord] | None = None


class Book:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: dict[str, CredentialRecord] = {}
        self._last_used: dict[str, datetime] = {}
        self._published: dict[str, datetime] = {}  # when this process last wrote a credential's last_used_at
        self.revoked_credentials: dict[str, datetime] = {}  # id -> revoked_at
        self.revoked_tokens: dict[str, float] = {}  # jti -> expires_at (epoch seconds)
        self._codes: dict[str, Code] = {}
        self._swept_at = 0

    # ---- input ------------------------------------------------------------------------------------------

    def apply_credential(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        cid = key.decode()
        if value is None:
            with self._lock:
                self._credentials.pop(cid, None)
            return
        rec = CredentialRecord.model_validate_json(value)
        self.put_credential(rec)

    def put_credential(self, rec: CredentialRecord) -> None:
        with self._lock:
            self._credentials[rec.id] = rec
            if rec.last_used_at is not None:
                self._note_used(rec.id, rec.last_used_at)

    def apply_revocation(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # a tombstone of a token revocation past its expiry: nothing to forget twice
            if key is not None and key.startswith(TOKEN.encode()):
                self.revoked_tokens.pop(key[len(TOKEN) :].decode(), None)
            return
        self.put_revocation(_REVOCATION.validate_json(value))

    def put_revocation(self, rev: CredentialRevocation | TokenRevocation, now: float | None = None) -> None:
        if isinstance(rev, CredentialRevocation):
            self.revoked_credentials.setdefault(rev.id, rev.revoked_at)  # the first revocation stands
            return
        now = datetime.now(UTC).timestamp() if now is None else now
        expires = rev.expires_at.timestamp()
        if expires < now - 60:  # dead anyway (60: above any clock skew allowed)
            return
        with self._lock:
            self.revoked_tokens[rev.jti] = expires
            if len(self.revoked_tokens) > 2 * self._swept_at + 1000:
                self._sweep(now)

    def sweep(self, now: float) -> None:
        """Forget token revocations of tokens past their expiry."""
        with self._lock:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self.revoked_tokens = {j: e for j, e in self.revoked_tokens.items() if e >= now - 60}  # a new dict: readers hold the old
        self._swept_at = len(self.revoked_tokens)

    def apply_code(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        if key is None:
            return
        h = key.decode()
        if value is None:
            with self._lock:
                self._codes.pop(h, None)
            return
        self.put_code(h, PairingCodeRecord.model_validate_json(value), offset)

    def put_code(self, h: str, rec: PairingCodeRecord, offset: int) -> None:
        with self._lock:
            held = self._codes.get(h)
            if rec.redeemed_at is None:
                self._codes[h] = Code(rec, held.redeemed if held else None)
                return
            if held is None:  # compacted: the redemption alone carries the code
                self._codes[h] = Code(rec.model_copy(update={"redeemed_at": None, "credential_id": None}), (offset, rec))
            elif held.redeemed is None or offset < held.redeemed[0]:
                self._codes[h] = Code(held.record, (offset, rec))

    def apply(self, kind: str, key: bytes | None, value: bytes | None, offset: int) -> None:
        """A record of topic ``kind`` ("credentials", "revocations", "pairing-codes"); a malformed
        one is logged and skipped (it must not stop the view)."""
        try:
            if kind == "credentials":
                self.apply_credential(key, value)
            elif kind == "revocations":
                self.apply_revocation(key, value)
            else:
                self.apply_code(key, value, offset)
        except (ValidationError, ValueError, UnicodeDecodeError) as exc:
            log.error("auth record breaks the contract", extra={"topic": kind, "offset": offset, "error": str(exc)})

    # ---- reads ------------------------------------------------------------------------------------------

    def is_revoked(self, sub: str, jti: str | None) -> bool:
        return sub in self.revoked_credentials or (jti is not None and jti in self.revoked_tokens)

    def credential(self, cid: str) -> CredentialRecord | None:
        return self._credentials.get(cid)

    def credentials(self) -> list[CredentialRecord]:
        with self._lock:
            return sorted(self._credentials.values(), key=lambda c: (c.created_at, c.id))

    def last_used(self, cid: str) -> datetime | None:
        return self._last_used.get(cid)

    def code(self, h: str) -> Code | None:
        return self._codes.get(h)

    def view(self, rec: CredentialRecord) -> dict:
        """A credential as the API and ``bazaar auth key list`` show it (no secret, no hash)."""
        return {
            "id": rec.id,
            "name": rec.name,
            "role": rec.role,
            "stores": rec.stores,
            "created_at": rec.created_at,
            "created_by": rec.created_by,
            "last_used_at": self._last_used.get(rec.id),
            "revoked_at": self.revoked_credentials.get(rec.id),
        }

    # ---- last use -------------------------------------------------------------------------------------

    def touch(self, cid: str, when: datetime) -> CredentialRecord | None:
        """Note a use of credential ``cid``; the record to publish when this process has not
        published its last use for ``TOUCH_EVERY_S`` (else None)."""
        with self._lock:
            self._note_used(cid, when)
            rec = self._credentials.get(cid)
            published = self._published.get(cid)
            if rec is None or (published is not None and (when - published).total_seconds() < TOUCH_EVERY_S):
                return None
            self._published[cid] = when
            return rec.model_copy(update={"last_used_at": when})

    def _note_used(self, cid: str, when: datetime) -> None:
        held = self._last_used.get(cid)
        if held is None or when > held:
            self._last_used[cid] = when
