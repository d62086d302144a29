"""API keys, pairing codes, the book of the auth topics and the role limits: the pieces of access
below the API, without Kafka."""

from __future__ import annotations

import hashlib
import re
import typing
from datetime import UTC, datetime, timedelta

import pytest

from bazaar_core.auth import apikeys, codes
from bazaar_core.auth.book import Book, revocation_key
from domain.access import Role
from domain.ratelimit import ROLE_LIMITS, Limit, role_limits
from schemas.auth import CredentialRecord, CredentialRevocation, PairingCodeRecord, RoleName, TokenRevocation

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


# ---- API keys ---------------------------------------------------------------------------------------------


def test_a_new_key_has_the_pinned_format():
    cid, key = apikeys.new_key()
    assert re.fullmatch(r"bzk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key), key
    assert key.startswith(f"bzk_{cid}_")
    assert apikeys.parse(key) == cid
    assert len({apikeys.new_key()[1] for _ in range(200)}) == 200


def test_a_key_is_stored_as_the_sha256_of_the_whole_string():
    _, key = apikeys.new_key()
    assert apikeys.hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert apikeys.matches(key, apikeys.hash_key(key))
    assert not apikeys.matches(key[:-1] + ("A" if key[-1] != "A" else "B"), apikeys.hash_key(key))
    _, other = apikeys.new_key()
    assert not apikeys.matches(other, apikeys.hash_key(key))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "bzk_",
        "bzk_0123456789AB_" + "a" * 43,  # upper-case id
        "bzk_0123456789a_" + "a" * 44,  # short id
        "bzk_0123456789ab_" + "a" * 42,  # short secret
        "bzk_0123456789ab_" + "a" * 44,  # long secret
        "bzk_0123456789ab_" + "a" * 42 + "=",  # base64 padding is not the alphabet
        "xyz_0123456789ab_" + "a" * 43,
        "bzk_0123456789ab-" + "a" * 43,
        "Bearer bzk_0123456789ab_" + "a" * 43,
    ],
)
def test_anything_else_is_not_a_key(bad):
    with pytest.raises(apikeys.BadKey) as caught:
        apikeys.parse(bad)
    assert bad[4:] not in str(caught.value) or not bad[4:]  # the refusal never echoes the key


def test_an_id_is_twelve_hex_characters():
    with pytest.raises(ValueError):
        apikeys.new_key("not-an-id")
    assert apikeys.new_key("00ff00ff00ff")[0] == "00ff00ff00ff"


# ---- pairing codes ----------------------------------------------------------------------------------------


def test_codes_avoid_look_alikes_and_are_read_forgivingly():
    assert len(codes.ALPHABET) == 32 and not set("01IO") & set(codes.ALPHABET)
    code = codes.new_code()
    assert len(code) == 8 and set(code) <= set(codes.ALPHABET)
    assert codes.normalize(code.lower()) == code
    assert codes.normalize(f"{code[:4]}-{code[4:]}") == code
    assert codes.normalize(f" {code[:4]} {code[4:]} ") == code
    for bad in ("ABCD", "ABCDEFGHJ", "ABCD0FGH", "ABCDIFGH", ""):
        with pytest.raises(codes.BadCode):
            codes.normalize(bad)
    assert codes.code_key(code) == hashlib.sha256(code.encode()).hexdigest()


# ---- the book -------------------------------------------------------------------------------------------


def credential(cid: str = "0123456789ab", **kw) -> CredentialRecord:
    base = dict(id=cid, name="till", role="terminal", stores=["s1"], created_at=NOW, created_by="t", secret_hash="0" * 64)
    return CredentialRecord.model_validate({**base, **kw})


def code_record(**kw) -> PairingCodeRecord:
    base = dict(store_id="s1", role="terminal", expires_at=NOW + timedelta(minutes=10), created_at=NOW, created_by="owner")
    return PairingCodeRecord.model_validate({**base, **kw})


def test_the_book_reads_credentials_and_shows_no_secret():
    book = Book()
    rec = credential()
    book.apply("credentials", rec.id.encode(), rec.model_dump_json().encode(), 0)
    assert book.credential(rec.id) == rec
    shown = book.view(rec)
    assert "secret_hash" not in shown and "0" * 64 not in str(shown)
    book.apply("credentials", rec.id.encode(), None, 1)  # a tombstone
    assert book.credential(rec.id) is None


def test_a_broken_record_is_skipped_not_fatal():
    book = Book()
    book.apply("credentials", b"0123456789ab", b"{not json", 0)
    book.apply("revocations", b"credential|x", b'{"kind": "nope"}', 1)
    book.apply("pairing-codes", b"h", b"[]", 2)
    assert book.credentials() == [] and not book.revoked_credentials


def test_revocations_of_credentials_and_tokens():
    book = Book()
    rev = CredentialRevocation(id="0123456789ab", revoked_at=NOW, by="admin")
    assert revocation_key(rev) == b"credential|0123456789ab"
    book.apply("revocations", revocation_key(rev), rev.model_dump_json().encode(), 0)
    assert book.is_revoked("0123456789ab", None) and book.is_revoked("0123456789ab", "any")
    assert not book.is_revoked("ffffffffffff", "any")
    later = CredentialRevocation(id="0123456789ab", revoked_at=NOW + timedelta(hours=1), by="admin")
    book.put_revocation(later)
    assert book.revoked_credentials["0123456789ab"] == NOW  # the first stands

    live = TokenRevocation(jti="a" * 32, expires_at=datetime.now(UTC) + timedelta(minutes=5), revoked_at=NOW, by="me")
    dead = TokenRevocation(jti="b" * 32, expires_at=datetime.now(UTC) - timedelta(hours=1), revoked_at=NOW, by="me")
    assert revocation_key(live) == b"token|" + b"a" * 32
    for r in (live, dead):
        book.apply("revocations", revocation_key(r), r.model_dump_json().encode(), 1)
    assert book.is_revoked("ffffffffffff", "a" * 32)
    assert "b" * 32 not in book.revoked_tokens  # expired: nothing left to refuse
    book.sweep(datetime.now(UTC).timestamp() + 3600)
    assert not book.revoked_tokens


def test_the_first_redemption_of_a_code_wins_by_offset():
    book = Book()
    h = codes.code_key("ABCDEFGH")
    book.put_code(h, code_record(), 10)
    assert book.code(h).redeemed is None
    mine = code_record(redeemed_at=NOW, credential_id="aaaaaaaaaaaa")
    theirs = code_record(redeemed_at=NOW, credential_id="bbbbbbbbbbbb")
    # a replica that applied its own redemption (offset 12) first, then reads the other (11)
    book.put_code(h, mine, 12)
    book.put_code(h, theirs, 11)
    assert book.code(h).redeemed == (11, theirs)
    book.put_code(h, mine, 12)  # read again from the topic: still the earlier one
    assert book.code(h).redeemed[1].credential_id == "bbbbbbbbbbbb"
    # after compaction only a redemption is left: the code is known, and used
    fresh = Book()
    fresh.put_code(h, mine, 40)
    assert fresh.code(h).record.redeemed_at is None and fresh.code(h).redeemed == (40, mine)


def test_last_use_is_published_at_most_once_a_minute():
    book = Book()
    rec = credential()
    book.put_credential(rec)
    first = book.touch(rec.id, NOW)
    assert first is not None and first.last_used_at == NOW and first.secret_hash == rec.secret_hash
    assert book.touch(rec.id, NOW + timedelta(seconds=30)) is None
    assert book.last_used(rec.id) == NOW + timedelta(seconds=30)  # noted in memory all the same
    assert book.touch(rec.id, NOW + timedelta(seconds=61)) is not None
    assert book.touch("ffffffffffff", NOW) is None  # unknown: nothing to publish


# ---- roles and limits -----------------------------------------------------------------------------------


def test_the_contract_names_the_roles_of_domain_access():
    assert set(typing.get_args(RoleName)) == {r.value for r in Role}


def test_every_role_has_a_limit_and_overrides_apply():
    assert set(ROLE_LIMITS) == set(Role)
    assert ROLE_LIMITS[Role.TERMINAL] == Limit(20, 40)
    limits = role_limits({"terminal": (2.0, 3)})
    assert limits[Role.TERMINAL] == Limit(2.0, 3) and limits[Role.ADMIN] == ROLE_LIMITS[Role.ADMIN]
    with pytest.raises(ValueError, match="unknown role"):
        role_limits({"cashiers": (1.0, 1)})
    with pytest.raises(ValueError):
        role_limits({"terminal": (0.0, 1)})
