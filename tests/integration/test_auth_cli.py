"""`bazaar auth` as an operator runs it (a process of its own, settings from the environment) against
the real broker: init is idempotent, key create prints the key alone, list never shows a secret,
revoke refuses the key at the API, token mints what the API takes, rotate keeps old tokens."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from bazaar_core.auth import apikeys
from bazaar_core.settings import Settings

pytestmark = pytest.mark.integration


def bazaar(settings: Settings, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, **settings.to_env()}
    done = subprocess.run([sys.executable, "-m", "bazaar.cli", "auth", *args], env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, f"bazaar auth {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_the_operator_commands(settings_factory):
    settings = settings_factory(auth=True)
    first = bazaar(settings, "init")
    assert "made now" in first.stderr and first.stdout == ""
    admin_file = settings.auth_path / "admin.key"
    admin = admin_file.read_text().strip()
    apikeys.parse(admin)
    assert stat.S_IMODE(admin_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.auth_path.stat().st_mode) == 0o700
    assert stat.S_IMODE((settings.auth_path / "signing").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (settings.auth_path / "signing").iterdir())
    again = bazaar(settings, "init")
    assert "made now" not in again.stderr and admin_file.read_text().strip() == admin  # idempotent

    made = bazaar(settings, "key", "create", "--role", "terminal", "--store", "s1", "--name", "till 1")
    key = made.stdout.strip()
    assert made.stdout == key + "\n"  # the key alone: `KEY=$(bazaar auth key create ...)`
    cid = apikeys.parse(key)
    assert bazaar(settings, "key", "create", "--role", "terminal", ok=False).returncode == 1  # a terminal is for one store
    assert bazaar(settings, "key", "create", "--role", "chief", ok=False).returncode == 2  # not a role

    table = bazaar(settings, "key", "list").stdout
    assert table.splitlines()[0].split() == ["ID", "NAME", "ROLE", "STORES", "CREATED_AT", "LAST_USED_AT", "REVOKED_AT"]
    assert cid in table and "till 1" in table and "terminal" in table
    rows = {r["id"]: r for r in json.loads(bazaar(settings, "key", "list", "--json").stdout)}
    assert rows[cid]["role"] == "terminal" and rows[cid]["stores"] == ["s1"] and rows[cid]["revoked_at"] is None
    assert rows[apikeys.parse(admin)]["role"] == "admin" and rows[apikeys.parse(admin)]["stores"] == "*"
    for text in (table, json.dumps(rows)):
        assert key not in text and admin not in text and apikeys.hash_key(key) not in text

    token = bazaar(settings, "token").stdout.strip()
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "admin"
    key_file = settings.data_dir / "till.key"
    key_file.write_text(key + "\n")
    till = bazaar(settings, "token", "--api-key-file", str(key_file), "--ttl", "60").stdout.strip()
    claims = jwt.decode(till, options={"verify_signature": False})
    assert claims["sub"] == cid and claims["exp"] - claims["iat"] == 60

    with TestClient(create_app(settings)) as api:
        assert api.get("/v1/credentials", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert api.post("/v1/auth/token", json={"api_key": key}).status_code == 200

        rotated = bazaar(settings, "rotate")
        assert "new signing key" in rotated.stderr
        fresh = bazaar(settings, "token").stdout.strip()
        assert jwt.get_unverified_header(fresh)["kid"] != jwt.get_unverified_header(token)["kid"]
        for t in (token, fresh):  # the old key's token until it expires, the new key's at once
            assert api.get("/v1/credentials", headers={"Authorization": f"Bearer {t}"}).status_code == 200

        assert "revoked" in bazaar(settings, "key", "revoke", cid).stderr
        assert "already" in bazaar(settings, "key", "revoke", cid).stderr
        assert bazaar(settings, "key", "revoke", "ffffffffffff", ok=False).returncode == 1
        for _ in range(15):  # within 1.5 s (and the address's burst of exchanges)
            answer = api.post("/v1/auth/token", json={"api_key": key})
            if answer.status_code == 401:
                break
            time.sleep(0.1)
        assert answer.status_code == 401, answer.text
        assert bazaar(settings, "token", "--api-key-file", str(key_file), ok=False).returncode == 1

    # an admin key whose credential was revoked is replaced by the next init
    bazaar(settings, "key", "revoke", apikeys.parse(admin))
    assert "made now" in bazaar(settings, "init").stderr
    assert admin_file.read_text().strip() != admin
