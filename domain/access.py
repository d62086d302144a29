"""Who may do what, for which store: roles, fine-grained permissions and store scopes, as plain data.

A credential (an API key, and the JWT access tokens exchanged for it) has one role and a store scope
(a list of store ids, or ``"*"`` for every store). A route names the permission it needs and how its
store is found; ``decide`` says allow, or why not. Nothing here knows HTTP, Kafka or JWT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

ALL_STORES = "*"


class Permission(str, Enum):
    EVENTS_SALE = "events:write:sale"
    EVENTS_PURCHASE = "events:write:purchase"
    EVENTS_RETURN = "events:write:return"
    EVENTS_ADJUSTMENT = "events:write:adjustment"
    EVENTS_COUNT = "events:write:count"
    EVENTS_TRANSFER = "events:write:transfer"
    STOCK_READ = "stock:read"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"  # the central catalog: products, imports, store registration
    STORE_CATALOG_WRITE = "store-catalog:write"  # a store's own overrides (price, reorder point, active)
    ALERTS_READ = "alerts:read"
    ALERTS_ACK = "alerts:ack"
    WEBHOOKS_MANAGE = "webhooks:manage"
    REPORTS_READ = "reports:read"
    CREDENTIALS_MANAGE = "credentials:manage"
    PAIRING_MANAGE = "pairing:manage"
    DEADLETTERS_READ = "deadletters:read"
    DEADLETTERS_MANAGE = "deadletters:manage"
    OPS_READ = "ops:read"  # /metrics, /status, health detail: no business data


EVENT_PERMISSIONS = {
    "sale": Permission.EVENTS_SALE,
    "purchase": Permission.EVENTS_PURCHASE,
    "return": Permission.EVENTS_RETURN,
    "adjustment": Permission.EVENTS_ADJUSTMENT,
    "count": Permission.EVENTS_COUNT,
    "transfer": Permission.EVENTS_TRANSFER,
}


class Role(str, Enum):
    ADMIN = "admin"
    OWNER = "owner"
    MANAGER = "manager"
    CASHIER = "cashier"
    TERMINAL = "terminal"
    ANALYST = "analyst"
    OPS = "ops"


_EVENTS = frozenset(EVENT_PERMISSIONS.values())
P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OWNER: frozenset(Permission) - {P.CATALOG_WRITE},
    Role.MANAGER: _EVENTS
    | {P.STOCK_READ, P.CATALOG_READ, P.ALERTS_READ, P.ALERTS_ACK, P.REPORTS_READ, P.PAIRING_MANAGE, P.DEADLETTERS_READ},
    Role.CASHIER: frozenset({P.EVENTS_SALE, P.EVENTS_RETURN, P.EVENTS_COUNT, P.STOCK_READ, P.CATALOG_READ}),
    Role.TERMINAL: frozenset({P.EVENTS_SALE, P.EVENTS_RETURN, P.STOCK_READ, P.CATALOG_READ}),
    Role.ANALYST: frozenset({P.REPORTS_READ, P.CATALOG_READ}),
    Role.OPS: frozenset({P.OPS_READ}),
}
# Roles that act for exactly one store (a device at a counter)
SINGLE_STORE_ROLES = frozenset({Role.TERMINAL})
# Which roles a credential holding ``credentials:manage`` or ``pairing:manage`` may create
GRANTABLE: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role),
    Role.OWNER: frozenset({Role.OWNER, Role.MANAGER, Role.CASHIER, Role.TERMINAL, Role.ANALYST}),
    Role.MANAGER: frozenset({Role.CASHIER, Role.TERMINAL}),
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: the subject (the credential's id), its name, role and store scope."""

    sub: str
    name: str
    role: Role
    stores: tuple[str, ...] | str  # store ids, or ALL_STORES
    jti: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def covers(self, store_id: str) -> bool:
        return self.stores == ALL_STORES or store_id in self.stores

    def visible(self, store_ids: Iterable[str]) -> list[str]:
        """The stores of ``store_ids`` in scope (a scoped credential asking for all gets its own)."""
        return [s for s in store_ids if self.covers(s)]

    @property
    def actor(self) -> str:
        """What the ledger records as who did it."""
        return f"{self.name} ({self.sub})"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    permission: Permission
    store_id: str | None = None
    reason: str = ""


def decide(who: Principal, permission: Permission, store_id: str | None = None) -> Decision:
    """May ``who`` use ``permission`` (at ``store_id``, when the route is about one store)?"""
    if not who.can(permission):
        return Decision(False, permission, store_id, f"role {who.role.value!r} lacks {permission.value!r}")
    if store_id is not None and not who.covers(store_id):
        return Decision(False, permission, store_id, f"store {store_id!r} is outside this credential's scope")
    return Decision(True, permission, store_id)


def may_grant(granter: Principal, role: Role, stores: tuple[str, ...] | str) -> Decision:
    """May ``granter`` create a credential (or a pairing code) of ``role`` for ``stores``?"""
    permission = Permission.CREDENTIALS_MANAGE if role not in (Role.TERMINAL, Role.CASHIER) else Permission.PAIRING_MANAGE
    if not (granter.can(Permission.CREDENTIALS_MANAGE) or granter.can(permission)):
        return Decision(False, permission, None, f"role {granter.role.value!r} may not create credentials")
    if role not in GRANTABLE.get(granter.role, frozenset()):
        return Decision(False, permission, None, f"role {granter.role.value!r} may not create {role.value!r} credentials")
    if stores == ALL_STORES:
        if granter.stores != ALL_STORES:
            return Decision(False, permission, None, "a store-scoped credential may not grant every store")
    else:
        outside = [s for s in stores if not granter.covers(s)]
        if outside:
            return Decision(False, permission, outside[0], f"store {outside[0]!r} is outside the granter's scope")
    if role in SINGLE_STORE_ROLES and (stores == ALL_STORES or len(stores) != 1):
        return Decision(False, permission, None, f"a {role.value!r} credential is for exactly one store")
    return Decision(True, permission)
