"""The signing key ring: Ed25519 keys that sign access tokens, on disk in ``auth_path/signing``.

Each key is two files, ``<kid>.pem`` (the private key, PKCS#8) and ``<kid>.json`` (``{"kid",
"created_at", "active_from", "retired_at"}``), mode 0600 in a 0700 directory. The kid is the key's
RFC 7638 JWK thumbprint. New tokens are signed with the *current* key (the newest active and not
retired); any key still in the ring verifies. ``rotate`` adds a new key that becomes current at
``active_from`` (now, or later: every replica then knows its public half before any signs with it)
and retires the others at that moment; a retired key is deleted (by the next ``rotate`` or
``ensure``, i.e. ``bazaar auth rotate|init``) once every token it signed has expired:
``keep_after_retire``.

An API replica holds a ``KeyRing`` read from the directory (a mounted Secret in Kubernetes). It
reads it again every ``RELOAD_S`` and when a token names a kid it does not know (at most once a
``UNKNOWN_KID_RELOAD_S``), so a rotation made elsewhere reaches it without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger("bazaar.auth.keys")

RELOAD_S = 30.0  # a replica reads the ring again this often
UNKNOWN_KID_RELOAD_S = 1.0  # ... and on a token naming an unknown kid, at most this often
CLOCK_SKEW_S = 10  # tokens are accepted this far past exp / before nbf (clocks of replicas differ)


class NoSigningKey(RuntimeError):
    """The ring is empty: ``bazaar auth init`` makes the first key."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    created_at: datetime
    retired_at: datetime | None = None
    active_from: datetime | None = None  # None: since created_at

    @property
    def active_at(self) -> datetime:
        return self.active_from or self.created_at

    def live(self, now: datetime) -> bool:
        """Signs new tokens at ``now`` if it is the newest such key: active, not retired."""
        return self.active_at <= now and (self.retired_at is None or self.retired_at > now)

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": _x(self.public), "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _x(public: Ed25519PublicKey) -> str:
    return _b64(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def thumbprint(public: Ed25519PublicKey) -> str:
    """RFC 7638: sha256 of the JWK's required members in lexical order, no spaces."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _x(public)}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def keep_after_retire(access_token_ttl_s: float) -> float:
    """How long a retired key stays: the longest a token it signed lives, plus a reload of every
    replica (one may sign with it until it sees the rotation) and the clock skew allowed."""
    return access_token_ttl_s + RELOAD_S + CLOCK_SKEW_S


# ---- files ------------------------------------------------------------------------------------------


def private_dir(path: Path) -> Path:
    """Make ``path`` (and its parents) a directory only its owner can read."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` atomically (a reader sees the old file or the new one), mode 0600 from the start."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when is not None else None


def _write_meta(directory: Path, key: SigningKey) -> None:
    meta = {"kid": key.kid, "created_at": _iso(key.created_at), "active_from": _iso(key.active_at), "retired_at": _iso(key.retired_at)}
    write_private(directory / f"{key.kid}.json", json.dumps(meta, indent=2).encode() + b"\n")


def _write_key(directory: Path, key: SigningKey) -> None:
    pem = key.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_private(directory / f"{key.kid}.pem", pem)
    _write_meta(directory, key)  # the meta last: a key without it is not read yet


def read(directory: Path) -> dict[str, SigningKey]:
    """Every complete key in ``directory`` (a half-written or foreign file is skipped, with a warning)."""
    out: dict[str, SigningKey] = {}
    if not directory.is_dir():
        return out
    for meta_path in sorted(directory.glob("*.json")):
        try:
            meta = json.loads(meta_path.read_text())
            kid = meta["kid"]
            private = serialization.load_pem_private_key((directory / f"{kid}.pem").read_bytes(), password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ValueError("not an Ed25519 key")
            if thumbprint(private.public_key()) != kid:
                raise ValueError("the kid is not the key's thumbprint")
            retired, active = meta.get("retired_at"), meta.get("active_from")
            out[kid] = SigningKey(
                kid,
                private,
                datetime.fromisoformat(meta["created_at"]),
                datetime.fromisoformat(retired) if retired else None,
                datetime.fromisoformat(active) if active else None,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("signing key file skipped", extra={"file": str(meta_path), "error": str(exc)})
    return out


def current_of(keys: dict[str, SigningKey], now: datetime | None = None) -> SigningKey | None:
    """The key new tokens are signed with at ``now``: the newest live one (else the newest active,
    else the newest: a ring is never left without a signer)."""
    if not keys:
        return None
    now = _now(now)
    live = [k for k in keys.values() if k.live(now)] or [k for k in keys.values() if k.active_at <= now] or list(keys.values())
    return max(live, key=lambda k: (k.active_at, k.created_at, k.kid))


def _new(now: datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    return SigningKey(thumbprint(private.public_key()), private, now)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def ensure(directory: Path, keep_s: float, now: datetime | None = None) -> tuple[SigningKey, bool]:
    """The current key, made first if the ring has none usable; drops the keys retired over
    ``keep_s`` ago. Returns (current key, whether it was made now)."""
    now = _now(now)
    private_dir(directory)
    prune(directory, keep_s, now)
    keys = read(directory)
    live = [k for k in keys.values() if k.retired_at is None or k.retired_at > now]
    if live:
        current = current_of(keys, now)
        assert current is not None
        return current, False
    key = _new(now)
    _write_key(directory, key)
    return key, True


def rotate(directory: Path, keep_s: float, now: datetime | None = None, activate_in_s: float = 0.0) -> SigningKey:
    """A new key, current from ``activate_in_s`` on; every other key still signing is retired at that
    moment (it verifies the tokens it signed until ``keep_s`` later, then a ``rotate``/``ensure``
    deletes it). A delay lets every replica read the new key before any token carries its kid."""
    now = _now(now)
    private_dir(directory)
    prune(directory, keep_s, now)
    new = _new(now)
    new = SigningKey(new.kid, new.private, now, None, now + timedelta(seconds=activate_in_s))
    _write_key(directory, new)
    for key in read(directory).values():
        if key.kid != new.kid and (key.retired_at is None or key.retired_at > new.active_at):
            _write_meta(directory, SigningKey(key.kid, key.private, key.created_at, new.active_at, key.active_from))
    return new


def prune(directory: Path, keep_s: float, now: datetime | None = None) -> list[str]:
    """Delete the keys retired more than ``keep_s`` seconds ago; their kids."""
    now = _now(now)
    gone = []
    for key in read(directory).values():
        if key.retired_at is not None and (now - key.retired_at).total_seconds() > keep_s:
            (directory / f"{key.kid}.json").unlink(missing_ok=True)  # the meta first: a reader skips a pem without it
            (directory / f"{key.kid}.pem").unlink(missing_ok=True)
            gone.append(key.kid)
    return gone


# ---- the ring a process holds -------------------------------------------------------------------------


class KeyRing:
    """The keys of ``directory``, read again every ``RELOAD_S`` and on an unknown kid."""

    def __init__(self, directory: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {}
        self._loaded_at = -math.inf

    def load(self) -> None:
        keys = read(self.directory)
        with self._lock:
            self._keys, self._loaded_at = keys, self.clock()

    def _fresh(self) -> None:
        if self.clock() - self._loaded_at >= RELOAD_S:
            self.load()

    @property
    def kids(self) -> list[str]:
        self._fresh()
        return sorted(self._keys)

    def current(self) -> SigningKey:
        self._fresh()
        current = current_of(self._keys)
        if current is None and self.clock() - self._loaded_at >= UNKNOWN_KID_RELOAD_S:  # made since? (at most once a second)
            self.load()
            current = current_of(self._keys)
        if current is None:
            raise NoSigningKey(f"no signing key in {self.directory}: run `bazaar auth init`")
        return current

    def find(self, kid: Any) -> SigningKey | None:
        """The key of ``kid``; an unknown kid reads the directory again (at most once a second)."""
        self._fresh()
        if not isinstance(kid, str):
            return None
        key = self._keys.get(kid)
        if key is None and self.clock() - self._loaded_at >= UNKNOWN_KID_RELOAD_S:
            self.load()
            key = self._keys.get(kid)
        return key

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys as a JSON Web Key Set (current first)."""
        self._fresh()
        keys = sorted(self._keys.values(), key=lambda k: (k.active_at, k.created_at, k.kid), reverse=True)
        return {"keys": [k.jwk() for k in keys]}
