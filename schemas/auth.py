"""The access contract: records of the credentials, pairing-codes and revocations topics, and the
requests and answers of the auth routes (docs/access.md).

Topics (compacted, one partition each):

* credentials, key the credential's id: a ``CredentialRecord``. The key's secret is never on it,
  only ``secret_hash`` (sha256 of the whole key string); ``last_used_at`` is refreshed at most once
  a minute per credential, best effort.
* revocations, key ``credential|<id>`` or ``token|<jti>``: a ``CredentialRevocation`` or a
  ``TokenRevocation`` (logout).
* pairing-codes, key sha256 of the code: a ``PairingCodeRecord``; a redemption writes the same key
  again with ``redeemed_at`` and ``credential_id``, and the earliest redemption (lowest offset) wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.types import StoreId, Timestamp

RoleName = Literal["admin", "owner", "manager", "cashier", "terminal", "analyst", "ops"]  # domain.access.Role, checked by a test
PairedRole = Literal["terminal", "cashier"]  # what a pairing code makes
AllStores = Literal["*"]
Scope = Annotated[list[StoreId], Field(min_length=1, max_length=10_000)] | AllStores
CredentialId = Annotated[str, Field(pattern=r"^[0-9a-f]{12}$", description="12 lowercase hex characters")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
SecretHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Record(BaseModel):
    """A topic's record: unknown fields are ignored (a newer writer may add some)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---- topic records --------------------------------------------------------------------------------------


class CredentialRecord(_Record):
    id: CredentialId
    name: Name
    role: RoleName
    stores: Scope
    created_at: Timestamp
    created_by: str = Field(max_length=200)
    secret_hash: SecretHash
    last_used_at: Timestamp | None = None


class CredentialRevocation(_Record):
    kind: Literal["credential"] = "credential"
    id: CredentialId
    revoked_at: Timestamp
    by: str = Field(max_length=200)


class TokenRevocation(_Record):
    kind: Literal["token"] = "token"
    jti: str = Field(min_length=1, max_length=64)
    expires_at: Timestamp  # once past, the token is dead anyway: the revocation can be forgotten
    revoked_at: Timestamp
    by: str = Field(max_length=200)


Revocation = Annotated[CredentialRevocation | TokenRevocation, Field(discriminator="kind")]


class PairingCodeRecord(_Record):
    store_id: StoreId
    role: PairedRole
    name: Name | None = None
    expires_at: Timestamp
    created_at: Timestamp
    created_by: str = Field(max_length=200)
    redeemed_at: Timestamp | None = None
    credential_id: CredentialId | None = None


# ---- requests ---------------------------------------------------------------------------------------------


class TokenRequest(_Request):
    """Body of ``POST /v1/auth/token``."""

    api_key: str = Field(min_length=1, max_length=200, description="An API key, bzk_<id>_<secret>")


class PairRequest(_Request):
    """Body of ``POST /v1/auth/pair``."""

    code: str = Field(min_length=1, max_length=32, description="The 8-character pairing code (case and dashes do not matter)")
    name: Name | None = Field(default=None, description="The device's name (default: the code's, or the role and store)")


class CredentialCreate(_Request):
    """Body of ``POST /v1/credentials``."""

    name: Name
    role: RoleName
    stores: Scope = Field(description='Store ids, or "*" for every store')


class PairingCodeCreate(_Request):
    """Body of ``POST /v1/stores/{store_id}/pairing-codes`` (optional)."""

    role: PairedRole = "terminal"
    name: Name | None = Field(default=None, description="A name for the device that redeems the code")


# ---- answers ----------------------------------------------------------------------------------------------


class TokenAnswer(_Answer):
    access_token: str = Field(description="A JWT (EdDSA); send it as `Authorization: Bearer <token>`")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until it expires; exchange the API key again then")


class CredentialView(_Answer):
    """A credential as lists show it: never its secret or the secret's hash."""

    id: str
    name: str
    role: RoleName
    stores: list[str] | AllStores
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class CredentialList(_Answer):
    credentials: list[CredentialView]


class CredentialCreated(CredentialView):
    api_key: str = Field(description="The key, shown this once: only its hash is kept")


class PairAnswer(TokenAnswer):
    api_key: str = Field(description="The device's own key, shown this once: keep it on the device")
    credential: CredentialView


class PairingCodeAnswer(_Answer):
    code: str = Field(description="8 characters, valid until expires_at, redeemable once")
    store_id: str
    role: PairedRole
    name: str | None = None
    expires_at: datetime


class Jwk(_Answer):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class Jwks(_Answer):
    keys: list[Jwk]


ANSWERS: tuple[type[BaseModel], ...] = (TokenAnswer, CredentialView, CredentialList, CredentialCreated, PairAnswer, PairingCodeAnswer, Jwks)
