"""Sealed secrets (``bazaar_core.auth.sealed``) and webhook records on their topic
(``bazaar_core.notifier.registrations``): the key file, the round trip, and every value that must
not open."""

from __future__ import annotations

import json
import stat
import threading
import uuid
from datetime import UTC, datetime

import pytest

from bazaar_core.auth import sealed
from bazaar_core.notifier.registrations import opened, sealed_record, sealing_key
from schemas.webhooks import Webhook, WebhookRecord

pytestmark = pytest.mark.unit

SECRET = b"whsec-a-secret-of-32-characters!"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_key_makes_a_private_key_file_once(tmp_path):
    auth = tmp_path / "data" / "auth"
    sealed.ensure_key(auth)
    path = auth / sealed.KEY_FILE
    assert mode(path) == 0o600 and mode(auth) == 0o700
    first = path.read_bytes()
    sealed.ensure_key(auth)  # idempotent: the same key, not a new one
    assert path.read_bytes() == first
    ring = json.loads(first)
    assert set(ring) == {"current", "keys"} and ring["current"] in ring["keys"]
    assert [p.name for p in auth.iterdir()] == [sealed.KEY_FILE]  # no temporary file left behind


def test_processes_starting_at_once_end_with_one_key(tmp_path):
    auth = tmp_path / "auth"
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        sealed.ensure_key(auth)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.name for p in auth.iterdir()] == [sealed.KEY_FILE]
    key = sealed.load_key(auth)
    assert sealed.open_(key, sealed.seal(key, SECRET)) == SECRET


def test_round_trip_names_the_key_and_never_holds_the_plaintext(tmp_path):
    sealed.ensure_key(tmp_path)
    key = sealed.load_key(tmp_path)
    token = sealed.seal(key, SECRET, b"webhook|1")
    assert token.startswith(f"v1.{key.kid}.")
    assert SECRET.decode() not in token
    assert sealed.seal(key, SECRET, b"webhook|1") != token  # a fresh nonce each time
    assert sealed.open_(key, token, b"webhook|1") == SECRET
    assert repr(key) == f"SealKey(kid={key.kid!r}, kids={[key.kid]!r})"  # no key bytes in logs


def flip(token: str, at: int) -> str:
    head, body = token.rsplit(".", 1)
    raw = bytearray(sealed._unb64(body))
    raw[at] ^= 0x01
    return f"{head}.{sealed._b64(bytes(raw))}"


@pytest.mark.parametrize("at", [0, 12, -1])  # the nonce, the ciphertext, the tag
def test_a_tampered_value_is_refused(tmp_path, at):
    sealed.ensure_key(tmp_path)
    key = sealed.load_key(tmp_path)
    token = sealed.seal(key, SECRET)
    with pytest.raises(sealed.Unsealable, match="does not open"):
        sealed.open_(key, flip(token, at))


def test_another_key_or_another_record_does_not_open_it(tmp_path):
    sealed.ensure_key(tmp_path / "a")
    sealed.ensure_key(tmp_path / "b")
    a, b = sealed.load_key(tmp_path / "a"), sealed.load_key(tmp_path / "b")
    token = sealed.seal(a, SECRET, b"webhook|1")
    with pytest.raises(sealed.Unsealable, match="does not hold"):
        sealed.open_(b, token, b"webhook|1")
    same_kid = sealed.SealKey(a.kid, {a.kid: b.keys[b.kid]})  # the kid right, the key not
    with pytest.raises(sealed.Unsealable, match="does not open"):
        sealed.open_(same_kid, token, b"webhook|1")
    with pytest.raises(sealed.Unsealable, match="does not open"):
        sealed.open_(a, token, b"webhook|2")


@pytest.mark.parametrize("token", ["", "v1", "v1..", "v2.abc.AAAA", "v1.abc.%%%", "v1.abc.AAAA", "plain secret"])
def test_what_is_not_a_sealed_value_is_refused(tmp_path, token):
    sealed.ensure_key(tmp_path)
    key = sealed.load_key(tmp_path)
    with pytest.raises(sealed.Unsealable):
        sealed.open_(key, token.replace("abc", key.kid))


def test_a_rotated_ring_opens_what_the_older_key_sealed(tmp_path):
    sealed.ensure_key(tmp_path)
    old = sealed.load_key(tmp_path)
    token = sealed.seal(old, SECRET)
    ring = json.loads((tmp_path / sealed.KEY_FILE).read_text())
    ring["keys"]["0000new0000k"] = sealed._b64(b"\x07" * sealed.KEY_BYTES)
    ring["current"] = "0000new0000k"
    (tmp_path / sealed.KEY_FILE).write_text(json.dumps(ring))
    rotated = sealed.load_key(tmp_path)
    assert sealed.open_(rotated, token) == SECRET
    assert sealed.seal(rotated, SECRET).startswith("v1.0000new0000k.")


def test_a_broken_key_file_is_an_error_that_shows_no_key(tmp_path):
    (tmp_path / sealed.KEY_FILE).write_text('{"current": "x", "keys": {"x": "c2hvcnQ"}}')
    with pytest.raises(ValueError, match="not a secrets key ring") as caught:
        sealed.load_key(tmp_path)
    assert "c2hvcnQ" not in str(caught.value)


# ---- webhook records -------------------------------------------------------------------------------


def hook(secret: str = SECRET.decode()) -> Webhook:
    return Webhook(
        url="https://hooks.example.com/in", secret=secret, store_ids=["s1"], webhook_id=uuid.uuid4(), created_at=datetime.now(UTC)
    )


def test_a_webhook_record_holds_its_secret_sealed_for_its_id(tmp_path):
    key = sealing_key(tmp_path)
    h = hook()
    record = sealed_record(key, h)
    raw = record.model_dump_json()
    assert h.secret not in raw and '"secret":null' in raw.replace(" ", "")
    assert opened(key, WebhookRecord.model_validate_json(raw)) == h
    other = hook()
    moved = WebhookRecord(**{**sealed_record(key, other).model_dump(), "secret_sealed": record.secret_sealed})
    with pytest.raises(sealed.Unsealable):  # sealed for another webhook: refused, not posted with
        opened(key, moved)


def test_a_record_written_before_sealing_is_still_read():
    h = hook()
    legacy = h.model_dump_json()  # what the API wrote before: the secret in clear
    record = WebhookRecord.model_validate_json(legacy)
    assert record.secret == h.secret and record.secret_sealed is None
    assert opened(sealed.SealKey("unused", {}), record) == h
    assert "secret" not in record.public()


def test_a_record_holds_exactly_one_secret():
    fields = hook().model_dump(exclude={"secret"})
    with pytest.raises(ValueError, match="either sealed"):
        WebhookRecord(**fields)
    with pytest.raises(ValueError, match="either sealed"):
        WebhookRecord(**fields, secret="x" * 16, secret_sealed="v1.a.b")
