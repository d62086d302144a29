"""Pairing codes: 8 characters a person reads off one screen and types into another.

The alphabet leaves out look-alikes (0 and O, 1 and I): 32 symbols: 40 bits a code, valid for minutes,
redeemable once, and the redeeming route is limited per client address. Input is case-insensitive
and may carry spaces or dashes (``abcd-2345``). The topic keys a code by its sha256, so reading the
topic does not give away live codes.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 8


class BadCode(ValueError):
    pass


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(code: str) -> str:
    """The code as issued (upper case, no separators); ``BadCode`` if it cannot be one."""
    cleaned = code.replace("-", "").replace(" ", "").upper()
    if len(cleaned) != LENGTH or any(c not in ALPHABET for c in cleaned):
        raise BadCode(f"a pairing code is {LENGTH} characters of {ALPHABET}")
    return cleaned


def code_key(code: str) -> str:
    """The topic key of a (normalized) code."""
    return hashlib.sha256(code.encode()).hexdigest()
