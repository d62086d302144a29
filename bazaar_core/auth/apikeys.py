"""API keys: ``bzk_<id>_<secret>``, the long-lived credential a device, a service or a person holds.

``id`` is 12 lowercase hex characters (the credential's id, public: lists and logs show it), the
secret 43 characters of URL-safe base64 (32 random bytes). Only ``hash_key`` of the whole string is
stored (on the credentials topic); a presented key is compared with it in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

PREFIX = "bzk_"
ID_CHARS = 12
SECRET_BYTES = 32
SECRET_CHARS = 43  # base64 of 32 bytes without its padding
_KEY = re.compile(rf"^{PREFIX}([0-9a-f]{{{ID_CHARS}}})_([A-Za-z0-9_-]{{{SECRET_CHARS}}})$")
MAX_LENGTH = len(PREFIX) + ID_CHARS + 1 + SECRET_CHARS


class BadKey(ValueError):
    """Not an API key of this format (the reason says why; never echoes the key)."""


def new_id() -> str:
    return secrets.token_hex(ID_CHARS // 2)


def new_key(credential_id: str | None = None) -> tuple[str, str]:
    """A fresh key: (credential id, key string)."""
    cid = credential_id or new_id()
    if not re.fullmatch(rf"[0-9a-f]{{{ID_CHARS}}}", cid):
        raise ValueError(f"a credential id is {ID_CHARS} lowercase hex characters")
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode()
    return cid, f"{PREFIX}{cid}_{secret}"


def parse(key: str) -> str:
    """The credential id a key names; ``BadKey`` if it is not a key at all."""
    if not isinstance(key, str) or len(key) != MAX_LENGTH:
        raise BadKey("not an API key (bzk_<id>_<secret>)")
    m = _KEY.match(key)
    if m is None:
        raise BadKey("not an API key (bzk_<id>_<secret>)")
    return m.group(1)


def hash_key(key: str) -> str:
    """What is stored of a key: sha256 of the whole string, hex. The secret has 256 random bits, so a
    plain hash is enough (no salt or stretching: there is nothing to guess)."""
    return hashlib.sha256(key.encode()).hexdigest()


def matches(key: str, secret_hash: str) -> bool:
    """Does ``key`` hash to ``secret_hash``? Constant time in the compared bytes."""
    return hmac.compare_digest(hash_key(key).encode(), secret_hash.encode())
