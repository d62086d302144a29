"""`bazaar auth`: the operator's tool for access, on the machine that holds ``auth_path``
(``BAZAAR_DATA_DIR/auth``, or ``BAZAAR_AUTH_DIR``). It talks to Kafka directly, not to the API.

* ``init``: idempotent. A signing key if there is none (and drops retired keys whose tokens have
  all expired), the secrets key of sealed topic values, and an admin key in ``auth_path/admin.key``
  (mode 0600) unless that file holds a key the credentials topic knows and has not revoked.
  ``bazaar up`` and ``bazaar demo`` run it after the broker is up.
* ``rotate [--activate-in S]``: a new signing key (signing from now, or S seconds from now); tokens
  signed by the previous one stay valid until they expire.
* ``key create --role R [--store S ...] [--name N]``: prints the new key alone on stdout.
* ``key list [--json]``: id, name, role, stores, created_at, last_used_at (never a secret).
* ``key revoke ID``: its key and every token issued from it are refused, on every API replica.
* ``token [--api-key-file F] [--ttl S]``: an access token for the admin key (or F's), for scripts
  and a Prometheus scrape (``bearer_token_file``).
* ``roles``: the role table (Markdown), as docs/access.md shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from api.auth_view import AuthView, Out
from bazaar_core.auth import apikeys, keys, sealed, tokens
from bazaar_core.auth.keys import KeyRing
from bazaar_core.kafka.writer import RecordWriter
from bazaar_core.settings import Settings, get_settings
from domain.access import ALL_STORES, GRANTABLE, ROLE_PERMISSIONS, SINGLE_STORE_ROLES, Permission, Role
from domain.ratelimit import ROLE_LIMITS, role_limits
from schemas.auth import CredentialRecord, CredentialRevocation

ADMIN_KEY_FILE = "admin.key"
READ_TIMEOUT_S = 30.0  # reading the auth topics (a fresh broker may still be electing leaders)
BY = "bazaar auth"


class AuthError(RuntimeError):
    """What the command says on stderr before exiting 1."""


def signing_dir(settings: Settings) -> Path:
    return settings.auth_path / "signing"


def admin_key_path(settings: Settings) -> Path:
    return settings.auth_path / ADMIN_KEY_FILE


def _keep(settings: Settings) -> float:
    return keys.keep_after_retire(settings.access_token_ttl_s)


# ---- the topics, from this machine --------------------------------------------------------------------


class Desk:
    """The auth topics read into a book (``view``) and a writer, for one command."""

    def __init__(self, settings: Settings, timeout: float = READ_TIMEOUT_S) -> None:
        self.settings, self.timeout = settings, timeout
        self.view = AuthView(settings)
        self.writer = RecordWriter(settings)

    def __enter__(self) -> Desk:
        self.view.follower.start()
        if not self.view.follower.wait_ready(self.timeout):
            self.view.follower.stop()
            raise AuthError(f"could not read the auth topics from Kafka at {self.settings.kafka_bootstrap} within {self.timeout:g} s")
        self.writer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.view.follower.stop()
        self.writer.close(self.settings.produce_timeout_s)

    def write(self, out: Out) -> int:
        """Write one record and wait for the broker's ack; its offset."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: a command, a test's plain function
            written = asyncio.run(self.writer.write(*out))
        else:  # called from a coroutine's thread (a test inside an event loop): its own loop elsewhere
            with ThreadPoolExecutor(1) as pool:
                written = pool.submit(asyncio.run, self.writer.write(*out)).result()
        if not written.ok or written.offset is None:
            raise AuthError(f"Kafka did not store the record: {written.error}")
        return written.offset

    def create(self, name: str, role: Role, stores: list[str] | str, by: str = BY) -> tuple[CredentialRecord, str]:
        cid, key = apikeys.new_key()
        rec = CredentialRecord(
            id=cid,
            name=name,
            role=role.value,
            stores=stores,
            created_at=datetime.now(UTC),
            created_by=by,
            secret_hash=apikeys.hash_key(key),
        )
        self.write(self.view.credential_out(rec))
        self.view.book.put_credential(rec)
        return rec, key

    def revoke(self, cid: str, by: str = BY) -> bool:
        """Revoke credential ``cid``; False if it was revoked already."""
        if cid in self.view.book.revoked_credentials:
            return False
        rev = CredentialRevocation(id=cid, revoked_at=datetime.now(UTC), by=by)
        self.write(self.view.revocation_out(rev))
        self.view.book.put_revocation(rev)
        return True

    def usable(self, key: str) -> CredentialRecord | None:
        """The credential of ``key`` if the topic knows it, the secret matches and it is not revoked."""
        try:
            cid = apikeys.parse(key)
        except apikeys.BadKey:
            return None
        rec = self.view.usable(cid)
        return rec if rec is not None and apikeys.matches(key, rec.secret_hash) else None


# ---- the jobs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Initialized:
    admin_key_file: Path
    admin_id: str
    made_admin: bool
    signing_kid: str
    made_signing_key: bool


def init(settings: Settings) -> Initialized:
    """Signing key, secrets key, admin key: each made only when missing (needs the broker)."""
    keys.private_dir(settings.auth_path)
    signing, made_signing = keys.ensure(signing_dir(settings), _keep(settings))
    sealed.ensure_key(settings.auth_path)
    path = admin_key_path(settings)
    with Desk(settings) as desk:
        held = path.read_text().strip() if path.exists() else ""
        rec = desk.usable(held) if held else None
        if rec is not None and rec.role == Role.ADMIN.value:
            return Initialized(path, rec.id, False, signing.kid, made_signing)
        rec, key = desk.create("admin", Role.ADMIN, ALL_STORES, by=f"{BY} init")
    keys.write_private(path, key.encode() + b"\n")
    return Initialized(path, rec.id, True, signing.kid, made_signing)


def rotate(settings: Settings, activate_in_s: float = 0.0) -> keys.SigningKey:
    return keys.rotate(signing_dir(settings), _keep(settings), activate_in_s=activate_in_s)


def read_key_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise AuthError(f"cannot read the API key file {path}: {exc.strerror or exc}") from None


def access_token(settings: Settings, key: str, ttl_s: int | None = None) -> str:
    """An access token for ``key``, signed here (the key must be known and not revoked)."""
    with Desk(settings) as desk:
        rec = desk.usable(key)
    if rec is None:
        raise AuthError("the API key is unknown, revoked or malformed")
    ring = KeyRing(signing_dir(settings))
    try:
        token, _ = tokens.issue(
            ring,
            sub=rec.id,
            name=rec.name,
            role=rec.role,
            stores=rec.stores,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            ttl_s=ttl_s or settings.access_token_ttl_s,
        )
    except keys.NoSigningKey as exc:
        raise AuthError(str(exc)) from None
    return token


def listed(settings: Settings) -> list[dict[str, Any]]:
    with Desk(settings) as desk:
        book = desk.view.book
        return [book.view(c) for c in book.credentials()]


# ---- the role table (docs/access.md shows it; a test keeps the two the same) -----------------------------


def roles_markdown() -> str:
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for p in Permission:
        lines.append(f"| `{p.value}` | " + " | ".join("✓" if p in ROLE_PERMISSIONS[r] else "" for r in roles) + " |")
    lines += [
        "",
        "| role | may create (keys, pairing codes) | stores | rate limit (requests/s) | burst |",
        "|---|---|---|---|---|",
    ]
    for r in roles:
        grants = ", ".join(g.value for g in Role if g in GRANTABLE.get(r, frozenset())) or "—"
        if grants != "—" and Permission.CREDENTIALS_MANAGE not in ROLE_PERMISSIONS[r]:
            grants += " (pairing codes only)"
        scope = "exactly one" if r in SINGLE_STORE_ROLES else "a list, or `*`"
        limit = ROLE_LIMITS[r]
        lines.append(f"| {r.value} | {grants} | {scope} | {limit.rate:g} | {limit.burst} |")
    return "\n".join(lines) + "\n"


# ---- the command --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("init", help="signing key, secrets key and admin key, each if missing (idempotent)")
    rot = sub.add_parser("rotate", help="a new signing key; tokens of the previous one stay valid until they expire")
    rot.add_argument(
        "--activate-in",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sign with it only after this long (replicas that read the keys from a mounted Secret learn it first)",
    )
    key = sub.add_parser("key", help="API keys: create, list, revoke")
    ksub = key.add_subparsers(dest="key_action", required=True, metavar="KEY_ACTION")
    create = ksub.add_parser("create", help="a new API key; prints the key alone on stdout")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--store", action="append", default=[], help="a store in its scope (repeat); none or '*': every store")
    create.add_argument("--name", help="what lists show (default: the role)")
    lst = ksub.add_parser("list", help="every credential: id, name, role, stores, created, last used")
    lst.add_argument("--json", action="store_true", help="JSON instead of a table")
    revoke = ksub.add_parser("revoke", help="refuse a key and every token issued from it")
    revoke.add_argument("id", help="the credential's id (12 hex characters: bzk_<id>_...)")
    token = sub.add_parser("token", help="print an access token for the admin key (or --api-key-file's)")
    token.add_argument("--api-key-file", type=Path, help="a file holding the API key (default: the admin key)")
    token.add_argument("--ttl", type=int, help="seconds it lives (30..86400; default access_token_ttl_s)")
    sub.add_parser("roles", help="the role table (Markdown)")


def run(args: argparse.Namespace) -> int:
    # the follower retries a topic made a moment ago (a fresh broker) with a warning: only errors are news here
    logging.basicConfig(level=logging.ERROR, format="bazaar auth: %(name)s: %(message)s")
    settings = get_settings()
    try:
        return _run(args, settings)
    except (AuthError, keys.NoSigningKey, ValueError) as exc:
        print(f"bazaar auth: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "roles":
        sys.stdout.write(roles_markdown())
        return 0
    if args.action == "init":
        done = init(settings)
        say(f"signing key {done.signing_kid} ({'made now' if done.made_signing_key else 'kept'}) in {signing_dir(settings)}")
        say(f"admin key {done.admin_id} ({'made now' if done.made_admin else 'kept'}) in {done.admin_key_file}")
        return 0
    if args.action == "rotate":
        if args.activate_in < 0:
            raise AuthError("--activate-in is 0 or more seconds")
        new = rotate(settings, args.activate_in)
        say(f"new signing key {new.kid}, signing from {new.active_at.isoformat()}; API replicas read it within {keys.RELOAD_S:g} s")
        return 0
    if args.action == "token":
        role_limits(settings.rate_limits)  # a typo in BAZAAR_RATE_LIMITS is said here too
        key = read_key_file(args.api_key_file or admin_key_path(settings))
        if args.ttl is not None and not 30 <= args.ttl <= 86_400:
            raise AuthError("--ttl is 30..86400 seconds")
        print(access_token(settings, key, args.ttl))
        return 0
    return _key(args, settings)


def _key(args: argparse.Namespace, settings: Settings) -> int:
    if args.key_action == "create":
        role = Role(args.role)
        stores: list[str] | str = ALL_STORES if not args.store or ALL_STORES in args.store else list(dict.fromkeys(args.store))
        if role in SINGLE_STORE_ROLES and (stores == ALL_STORES or len(stores) != 1):
            raise AuthError(f"a {role.value} key is for exactly one store: --store S")
        with Desk(settings) as desk:
            _, key = desk.create(args.name or role.value, role, stores)
        print(key)
        return 0
    if args.key_action == "list":
        rows = listed(settings)
        if args.json:
            print(json.dumps(rows, default=_json, indent=2))
        else:
            print(table(rows))
        return 0
    with Desk(settings) as desk:  # revoke
        if desk.view.credential(args.id) is None:
            raise AuthError(f"no credential {args.id}")
        fresh = desk.revoke(args.id)
    say(f"credential {args.id} {'revoked' if fresh else 'was revoked already'}")
    return 0


def _json(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def table(rows: list[dict[str, Any]]) -> str:
    head = ["ID", "NAME", "ROLE", "STORES", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT"]
    body = [
        [
            r["id"],
            r["name"],
            r["role"],
            r["stores"] if isinstance(r["stores"], str) else ",".join(r["stores"]),
            _when(r["created_at"]),
            _when(r["last_used_at"]),
            _when(r["revoked_at"]),
        ]
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body])


def say(message: str) -> None:
    print(f"bazaar auth: {message}", file=sys.stderr, flush=True)
