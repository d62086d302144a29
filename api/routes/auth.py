"""Credentials and tokens (docs/access.md).

* ``POST /v1/auth/token`` ``{"api_key"}`` -> ``{"access_token", "token_type": "Bearer", "expires_in"}``;
  401 for an unknown, revoked or malformed key. Limited per client address (429).
* ``POST /v1/auth/pair`` ``{"code", "name"?}`` -> 201 with the device's own ``api_key``, its
  credential and a first access token; 401 ``invalid_code``, 410 ``code_used`` / ``code_expired``.
  Limited per client address. A code works once: when two redemptions race, on one replica or
  two, the one the topic stored first wins and the other is told ``code_used``.
* ``POST /v1/auth/logout`` (Bearer) -> 204; the presented token is revoked on every replica.
* ``GET /.well-known/jwks.json``: the public signing keys.
* ``GET /v1/credentials``: the credentials within the caller's scope (never a secret or its hash).
* ``POST /v1/credentials`` ``{"name", "role", "stores"}`` -> 201 with the ``api_key``, shown once;
  403 unless the caller may grant that role for those stores (``domain.access.may_grant``).
* ``DELETE /v1/credentials/{id}`` -> 204: the key is refused from now on and every token issued
  from it too, on every replica; 404 unknown or outside the caller's scope.
* ``POST /v1/stores/{store_id}/pairing-codes`` ``{"role"?, "name"?}`` -> 201 ``{"code", ...}``, valid
  ``pairing_code_ttl_s`` (10 minutes), for a ``terminal`` (default) or ``cashier`` of that store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api import bodies
from api.auth_view import AuthView
from api.authn import Authenticator
from api.authz import PUBLIC, forbidden, principal_of, requires, unauthorized
from api.deps import AuthDep, AuthViewDep, ServicesDep
from api.errors import ApiError, issue
from api.openapi import AUTHED, GUARDED, VIEWS, WITH_BODY, errors, json_body
from api.services import Services
from bazaar_core.auth import apikeys, codes
from bazaar_core.auth.keys import CLOCK_SKEW_S, NoSigningKey
from bazaar_core.auth.tokens import Claims
from domain.access import ALL_STORES, Permission, Principal, Role, may_grant
from schemas.auth import (
    CredentialCreate,
    CredentialCreated,
    CredentialList,
    CredentialRecord,
    CredentialRevocation,
    Jwks,
    PairAnswer,
    PairingCodeAnswer,
    PairingCodeCreate,
    PairingCodeRecord,
    PairRequest,
    TokenAnswer,
    TokenRequest,
    TokenRevocation,
)
from schemas.types import ID_PATTERN

router = APIRouter(tags=["auth"])

UNKNOWN_WAIT_S = 1.0  # an unknown key or code may be a moment old on another replica: wait for the view this long
PAIR_CONFIRM_S = 5.0  # a redemption waits this long for the view to pass its own record
LIMITED = ("rate_limited",)
StoreId = Annotated[str, Path(pattern=ID_PATTERN, description="Store identifier")]
CredentialIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The credential's id")]


def _now() -> datetime:
    return datetime.now(UTC)


def _scope(stores: list[str] | str) -> tuple[str, ...] | str:
    return ALL_STORES if stores == ALL_STORES else tuple(stores)


def _visible(who: Principal, rec: CredentialRecord) -> bool:
    """A caller sees a credential whose stores are all within its own scope."""
    if who.stores == ALL_STORES:
        return True
    return rec.stores != ALL_STORES and all(who.covers(s) for s in rec.stores)


def _issue(auth: Authenticator, rec: CredentialRecord) -> tuple[str, Claims]:
    try:
        return auth.issue(rec)
    except NoSigningKey as exc:
        raise ApiError(503, "no_signing_key", [issue(None, str(exc))]) from None


async def _touch(services: Services, view: AuthView, cid: str) -> None:
    """Note the credential's use; publish it (at most once a minute, best effort)."""
    rec = view.book.touch(cid, _now())
    if rec is None or services.broker_down():
        return
    try:
        await services.write(*view.credential_out(rec))
    except ApiError:  # last_used_at is a convenience: the exchange does not fail for it
        pass


# ---- tokens -----------------------------------------------------------------------------------------------


@router.post(
    "/v1/auth/token",
    response_model=TokenAnswer,
    dependencies=[PUBLIC],
    responses=errors("invalid_json", "invalid_body", "unauthorized", *LIMITED, "no_signing_key", *WITH_BODY, *VIEWS, *GUARDED),
    openapi_extra=json_body(TokenRequest),
)
async def token(request: Request, auth: AuthDep, services: ServicesDep) -> dict:
    auth.limit_address(request)
    view = services.auth
    await services.require("auth")
    body = bodies.validate(TokenRequest, await bodies.json_object(request))
    try:
        cid = apikeys.parse(body.api_key)
    except apikeys.BadKey as exc:
        raise unauthorized(str(exc)) from None
    rec = view.credential(cid)
    if rec is None:
        await view.caught_up(UNKNOWN_WAIT_S)
        rec = view.credential(cid)
    if rec is None or not apikeys.matches(body.api_key, rec.secret_hash):
        raise unauthorized("unknown API key")
    if view.is_revoked(cid, None):
        raise unauthorized("this API key has been revoked")
    access, claims = _issue(auth, rec)
    await _touch(services, view, cid)
    return {"access_token": access, "token_type": "Bearer", "expires_in": claims.exp - claims.iat}


@router.post(
    "/v1/auth/pair",
    status_code=201,
    response_model=PairAnswer,
    dependencies=[PUBLIC],
    responses=errors(
        "invalid_json",
        "invalid_body",
        "invalid_code",
        "code_used",
        "code_expired",
        *LIMITED,
        "broker_unavailable",
        "no_signing_key",
        *WITH_BODY,
        *VIEWS,
        *GUARDED,
    ),
    openapi_extra=json_body(PairRequest),
)
async def pair(request: Request, auth: AuthDep, services: ServicesDep) -> dict:
    auth.limit_address(request)
    view = services.auth
    await services.require("auth")
    body = bodies.validate(PairRequest, await bodies.json_object(request))
    try:
        h = codes.code_key(codes.normalize(body.code))
    except codes.BadCode as exc:
        raise ApiError(401, "invalid_code", [issue("code", str(exc))]) from None
    entry = view.book.code(h)
    if entry is None:
        await view.caught_up(UNKNOWN_WAIT_S)
        entry = view.book.code(h)
    if entry is None:
        raise ApiError(401, "invalid_code", [issue("code", "no such pairing code")])
    if entry.redeemed is not None:
        raise ApiError(410, "code_used", [issue("code", "this pairing code has been used; ask for a new one")])
    code = entry.record
    now = _now()
    if code.expires_at <= now:
        raise ApiError(410, "code_expired", [issue("code", "this pairing code has expired; ask for a new one")])

    cid, key = apikeys.new_key()
    rec = CredentialRecord(
        id=cid,
        name=body.name or code.name or f"{code.role} at {code.store_id}",
        role=code.role,
        stores=[code.store_id],
        created_at=now,
        created_by=f"pairing code from {code.created_by}"[:200],
        secret_hash=apikeys.hash_key(key),
    )
    mine = await services.write(*view.code_out(h, code.model_copy(update={"redeemed_at": now, "credential_id": cid})))
    # the first redemption the topic stored wins: read up to (and past) our own, then compare
    if not await view.caught_up(PAIR_CONFIRM_S):
        raise ApiError(
            503, "loading", [issue("code", "the pairing could not be confirmed; ask for a new code")], headers={"Retry-After": "1"}
        )
    won = view.book.code(h)
    if won is None or won.redeemed is None or won.redeemed[0] != mine.offset:
        raise ApiError(410, "code_used", [issue("code", "this pairing code has been used; ask for a new one")])
    await services.write(*view.credential_out(rec))  # (a failure here leaves the code used: a new code is needed)
    view.book.put_credential(rec)
    access, claims = _issue(auth, rec)
    await _touch(services, view, cid)
    return {
        "api_key": key,
        "credential": view.book.view(rec),
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": claims.exp - claims.iat,
    }


@router.post(
    "/v1/auth/logout",
    status_code=204,
    response_description="The presented access token is revoked on every replica",
    dependencies=[PUBLIC],
    responses=errors("unauthorized", *LIMITED, "broker_unavailable", *WITH_BODY, *VIEWS, *GUARDED),
)
async def logout(request: Request, auth: AuthDep, services: ServicesDep) -> Response:
    # public to the route table, yet it takes the token it revokes: authenticated here, whatever auth_required says
    who = await auth.authenticate(request)
    claims: Claims = request.state.claims
    view = services.auth
    rev = TokenRevocation(
        jti=claims.jti,
        expires_at=datetime.fromtimestamp(claims.exp + CLOCK_SKEW_S, UTC),
        revoked_at=_now(),
        by=who.actor[:200],
    )
    await services.write(*view.revocation_out(rev))
    view.book.put_revocation(rev)
    return Response(status_code=204)


@router.get("/.well-known/jwks.json", response_model=Jwks, dependencies=[PUBLIC], responses=errors(*GUARDED))
async def jwks(auth: AuthDep) -> dict:
    return auth.ring.jwks()


# ---- credentials ------------------------------------------------------------------------------------------


@router.get(
    "/v1/credentials",
    response_model=CredentialList,
    dependencies=[requires(Permission.CREDENTIALS_MANAGE)],
    responses=errors(*AUTHED, *VIEWS, *GUARDED),
)
async def list_credentials(request: Request, view: AuthViewDep) -> dict:
    who = principal_of(request)
    return {"credentials": [view.book.view(c) for c in view.book.credentials() if _visible(who, c)]}


@router.post(
    "/v1/credentials",
    status_code=201,
    response_model=CredentialCreated,
    dependencies=[requires(Permission.CREDENTIALS_MANAGE, store="body")],
    responses=errors("invalid_json", "invalid_body", *AUTHED, "broker_unavailable", *WITH_BODY, *VIEWS, *GUARDED),
    openapi_extra=json_body(CredentialCreate),
)
async def create_credential(request: Request, services: ServicesDep, view: AuthViewDep) -> dict:
    who = principal_of(request)
    spec = bodies.validate(CredentialCreate, await bodies.json_object(request))
    stores = spec.stores if spec.stores == ALL_STORES else list(dict.fromkeys(spec.stores))  # a store named twice is one store
    decision = may_grant(who, Role(spec.role), _scope(stores))
    if not decision.allowed:
        raise forbidden(decision)
    cid, key = apikeys.new_key()
    rec = CredentialRecord(
        id=cid,
        name=spec.name,
        role=spec.role,
        stores=stores,
        created_at=_now(),
        created_by=who.actor[:200],
        secret_hash=apikeys.hash_key(key),
    )
    await services.write(*view.credential_out(rec))
    view.book.put_credential(rec)
    return {**view.book.view(rec), "api_key": key}


@router.delete(
    "/v1/credentials/{credential_id}",
    status_code=204,
    response_description="Revoked: its key and every token issued from it are refused from now on",
    dependencies=[requires(Permission.CREDENTIALS_MANAGE)],
    responses=errors("invalid_request", "not_found", *AUTHED, "broker_unavailable", *WITH_BODY, *VIEWS, *GUARDED),
)
async def revoke_credential(credential_id: CredentialIdPath, request: Request, services: ServicesDep, view: AuthViewDep) -> Response:
    who = principal_of(request)
    rec = view.credential(credential_id)
    if rec is None or not _visible(who, rec):
        raise bodies.not_found("credential_id", f"no credential {credential_id}")
    decision = may_grant(who, Role(rec.role), _scope(rec.stores))
    if not decision.allowed:
        raise forbidden(decision)
    if credential_id not in view.book.revoked_credentials:
        rev = CredentialRevocation(id=credential_id, revoked_at=_now(), by=who.actor[:200])
        await services.write(*view.revocation_out(rev))
        view.book.put_revocation(rev)
    return Response(status_code=204)


# ---- pairing codes ----------------------------------------------------------------------------------------


@router.post(
    "/v1/stores/{store_id}/pairing-codes",
    status_code=201,
    response_model=PairingCodeAnswer,
    dependencies=[requires(Permission.PAIRING_MANAGE, store="path:store_id")],
    responses=errors("invalid_request", "invalid_json", "invalid_body", *AUTHED, "broker_unavailable", *WITH_BODY, *VIEWS, *GUARDED),
    openapi_extra=json_body(PairingCodeCreate, required=False, description="Optional: the role (terminal or cashier) and a name"),
)
async def create_pairing_code(store_id: StoreId, request: Request, services: ServicesDep, view: AuthViewDep) -> dict:
    who = principal_of(request)
    spec = bodies.validate(PairingCodeCreate, await bodies.json_object(request, optional=True))
    decision = may_grant(who, Role(spec.role), (store_id,))
    if not decision.allowed:
        raise forbidden(decision)
    code = codes.new_code()
    while view.book.code(codes.code_key(code)) is not None:  # 2^40 codes: a repeat is all but impossible, never reused
        code = codes.new_code()
    now = _now()
    rec = PairingCodeRecord(
        store_id=store_id,
        role=spec.role,
        name=spec.name,
        expires_at=now + timedelta(seconds=services.settings.pairing_code_ttl_s),
        created_at=now,
        created_by=who.actor[:200],
    )
    h = codes.code_key(code)
    written = await services.write(*view.code_out(h, rec))
    view.book.put_code(h, rec, written.offset)
    return {"code": code, "store_id": store_id, "role": spec.role, "name": spec.name, "expires_at": rec.expires_at}
