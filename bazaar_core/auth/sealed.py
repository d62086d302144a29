"""Secrets at rest on Kafka topics, sealed with a key only the API and the notifier hold.

Anyone who can read a topic could otherwise read what is on it: a webhook's signing secret is
sealed (AES-256-GCM, authenticated) before it is written, and opened only by the processes holding
``auth_path/secrets.key``. The key file (mode 0600, in a directory of mode 0700) is a small JSON
key ring ``{"current": kid, "keys": {kid: key}}``; each sealed value names the kid it was sealed
with, so a later rotation can add a key, seal with it, and still open what the older one sealed.

A sealed value is ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``. The version, the kid and the
caller's ``aad`` (for a webhook: its id) are authenticated with it: a value moved to another record,
or altered in any byte, does not open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "secrets.key"
VERSION = "v1"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per value (far below the 2^32 values a key may seal)


class Unsealable(ValueError):
    """A sealed value this key ring cannot open; the message says why (never the secret)."""


@dataclass(frozen=True)
class SealKey:
    """The key ring: ``kid`` seals new values, every key in ``keys`` opens old ones."""

    kid: str
    keys: Mapping[str, bytes]

    def __repr__(self) -> str:  # no key bytes in logs or tracebacks
        return f"SealKey(kid={self.kid!r}, kids={sorted(self.keys)!r})"


def key_file(auth_path: Path) -> Path:
    return Path(auth_path) / KEY_FILE


def ensure_key(auth_path: Path) -> None:
    """Create ``auth_path/secrets.key`` (0600, directory 0700) unless it is there. Idempotent, and
    safe when the API and the notifier start at once: the file appears whole, and only once."""
    path = key_file(auth_path)
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    kid = secrets.token_hex(6)
    ring = {"current": kid, "keys": {kid: _b64(secrets.token_bytes(KEY_BYTES))}}
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(ring, f)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic, and refuses to replace a key another process made meanwhile
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def load_key(auth_path: Path) -> SealKey:
    """The key ring of ``auth_path/secrets.key`` (``FileNotFoundError`` if absent: call ``ensure_key``)."""
    path = key_file(auth_path)
    try:
        ring = json.loads(path.read_text())
        keys = {str(kid): _unb64(value) for kid, value in ring["keys"].items()}
        kid = str(ring["current"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise ValueError(f"{path} is not a secrets key ring: {type(exc).__name__}") from None
    if kid not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
        raise ValueError(f"{path} is not a secrets key ring: its current key is missing or a key is not {KEY_BYTES} bytes")
    return SealKey(kid, keys)


def seal(key: SealKey, plaintext: bytes, aad: bytes = b"") -> str:
    """``plaintext`` sealed with the current key; ``aad`` (not stored) must be given again to open it."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key.keys[key.kid]).encrypt(nonce, plaintext, _aad(key.kid, aad))
    return f"{VERSION}.{key.kid}.{_b64(nonce + sealed)}"


def open_(key: SealKey, token: str, aad: bytes = b"") -> bytes:
    """The plaintext of a sealed value, or ``Unsealable`` (wrong format, unknown kid, wrong key,
    tampered, or another ``aad``)."""
    version, kid, body = (token.split(".", 2) + ["", ""])[:3]
    if version != VERSION or not kid or not body:
        raise Unsealable("not a sealed value")
    secret_key = key.keys.get(kid)
    if secret_key is None:
        raise Unsealable(f"sealed with key {kid!r}, which this process does not hold (another secrets.key?)")
    try:
        raw = _unb64(body)
    except (ValueError, binascii.Error):
        raise Unsealable("not a sealed value") from None
    if len(raw) < NONCE_BYTES + 16:
        raise Unsealable("not a sealed value")
    try:
        return AESGCM(secret_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(kid, aad))
    except InvalidTag:
        raise Unsealable(f"does not open with key {kid!r}: altered, moved from another record, or another key") from None


def is_sealed(value: str) -> bool:
    return value.startswith(VERSION + ".")


def _aad(kid: str, aad: bytes) -> bytes:
    return f"bazaar-sealed.{VERSION}.{kid}|".encode() + aad


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
