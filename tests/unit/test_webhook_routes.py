"""The webhook routes with who is asking (a stub authenticator, in-memory views, a writer that acks):
``webhooks:manage`` on every route, a store-scoped caller registering for and seeing only webhooks
of its own stores, the secret in no answer but a creation's (and only one the server made), and
the address rules answering 422 on ``url`` before anything is written."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.authz import unauthorized
from api.main import create_app
from api.services import Services
from bazaar_core.kafka.writer import Written
from bazaar_core.settings import Settings
from domain.access import ALL_STORES, Principal, Role
from schemas.webhooks import DeadLetter, WebhookRecord

pytestmark = pytest.mark.unit

LAHORE, KARACHI, QUETTA = "lahore-007", "karachi-001", "quetta-002"
CALLERS = {
    "admin": Principal("a00000000001", "head office", Role.ADMIN, ALL_STORES),
    "owner": Principal("b00000000001", "Asif", Role.OWNER, (LAHORE, KARACHI)),
    "manager": Principal("c00000000001", "Bilal", Role.MANAGER, (LAHORE,)),
}
URL = "http://127.0.0.1:9/hook"  # never called: nothing delivers in these tests


class StubAuth:
    async def authenticate(self, request, *, query_token: bool = False) -> Principal:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in CALLERS:
            raise unauthorized("no or an unknown token")
        return CALLERS[token]


class Writer:
    def __init__(self) -> None:
        self.offsets = itertools.count(1)
        self.written: list[tuple[str, bytes, bytes | None]] = []

    async def write(self, topic: str, key: bytes, value: bytes | None) -> Written:
        self.written.append((topic, key, value))
        return Written(0, next(self.offsets))

    async def write_many(self, items) -> list[Written]:
        return [await self.write(*item) for item in items]


def app_for(tmp_path, **over):
    settings = Settings(kafka_bootstrap="127.0.0.1:1", data_dir=tmp_path, auth_required=True, **over)
    app = create_app(settings)
    services = Services.create(settings)
    services.writer = Writer()
    for follower in services.followers.values():
        follower._ready.set()
    app.state.services, app.state.auth = services, StubAuth()
    return TestClient(app), services


@pytest.fixture
def stack(tmp_path):
    return app_for(tmp_path, webhook_allow_http=True, webhook_allow_private=True)


def as_(caller: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {caller}"}


def register(client, caller: str, **body):
    return client.post("/v1/webhooks", json={"url": URL, "secret": "s" * 16, **body}, headers=as_(caller))


def test_every_webhook_route_wants_webhooks_manage(stack):
    client, services = stack
    hook = register(client, "admin").json()["webhook_id"]
    routes = [
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks"),
        ("GET", f"/v1/webhooks/{hook}"),
        ("DELETE", f"/v1/webhooks/{hook}"),
        ("GET", f"/v1/webhooks/{hook}/dead-letters"),
        ("POST", f"/v1/webhooks/{hook}/dead-letters/{uuid.uuid4()}/retry"),
    ]
    for method, path in routes:
        assert client.request(method, path).status_code == 401, (method, path)
        r = client.request(method, path, headers=as_("manager"), json={"url": URL, "store_ids": [LAHORE]})
        assert r.status_code == 403 and r.json()["permission"] == "webhooks:manage", (method, path, r.text)
    assert len(services.writer.written) == 1  # the admin's registration only


def test_a_scoped_caller_registers_for_its_own_stores_only(stack):
    client, services = stack
    r = register(client, "owner")  # no store_ids: every store, not the owner's to ask
    assert r.status_code == 403 and "must name its stores" in r.json()["detail"][0]["reason"]
    r = register(client, "owner", store_ids=[LAHORE, QUETTA])
    assert r.status_code == 403 and r.json()["store_id"] == QUETTA
    assert services.writer.written == []
    assert register(client, "owner", store_ids=[LAHORE, KARACHI]).status_code == 201
    assert register(client, "admin").status_code == 201  # every store: the admin may


def test_a_scoped_caller_sees_and_touches_only_webhooks_within_its_scope(stack):
    client, services = stack
    ours = register(client, "owner", store_ids=[LAHORE]).json()["webhook_id"]
    everyone = register(client, "admin").json()["webhook_id"]
    mixed = register(client, "admin", store_ids=[LAHORE, QUETTA]).json()["webhook_id"]
    seen = [h["webhook_id"] for h in client.get("/v1/webhooks", headers=as_("owner")).json()["items"]]
    assert seen == [ours]
    assert {h["webhook_id"] for h in client.get("/v1/webhooks", headers=as_("admin")).json()["items"]} == {ours, everyone, mixed}
    for other in (everyone, mixed):  # outside the owner's scope: as if absent
        assert client.get(f"/v1/webhooks/{other}", headers=as_("owner")).status_code == 404
        assert client.get(f"/v1/webhooks/{other}/dead-letters", headers=as_("owner")).status_code == 404
        assert client.delete(f"/v1/webhooks/{other}", headers=as_("owner")).status_code == 404
    dead = DeadLetter(
        webhook_id=mixed,
        alert_id=uuid.uuid4(),
        store_id=QUETTA,
        kind="low_stock",
        body="{}",
        attempts=12,
        last_error="HTTP 500",
        dead_at=datetime.now(UTC),
    )
    services.webhooks.put_dead_letter(0, dead)
    assert client.post(f"/v1/webhooks/{mixed}/dead-letters/{dead.alert_id}/retry", headers=as_("owner")).status_code == 404
    assert client.post(f"/v1/webhooks/{mixed}/dead-letters/{dead.alert_id}/retry", headers=as_("admin")).status_code == 202
    assert client.get(f"/v1/webhooks/{ours}", headers=as_("owner")).status_code == 200
    assert client.delete(f"/v1/webhooks/{ours}", headers=as_("owner")).status_code == 204


def test_the_secret_is_in_no_answer_but_the_creation_of_one_the_server_made(stack):
    client, services = stack
    given = register(client, "admin")
    assert given.status_code == 201 and "secret" not in given.json()  # the caller's own: not echoed
    made = client.post("/v1/webhooks", json={"url": URL}, headers=as_("admin"))
    secret = made.json()["secret"]
    assert made.status_code == 201 and len(secret) == 43
    answers = [
        client.get("/v1/webhooks", headers=as_("admin")).text,
        client.get(f"/v1/webhooks/{made.json()['webhook_id']}", headers=as_("admin")).text,
        client.get(f"/v1/webhooks/{given.json()['webhook_id']}", headers=as_("admin")).text,
    ]
    assert not any(secret in a or "s" * 16 in a or "secret" in a for a in answers)
    # and what was written holds it sealed
    for _, _, value in services.writer.written:
        record = WebhookRecord.model_validate_json(value)
        assert record.secret is None and record.secret_sealed is not None
        assert secret.encode() not in value and b"s" * 16 not in value


def test_the_address_rules_answer_422_on_url_before_anything_is_written(tmp_path):
    client, services = app_for(tmp_path)  # the defaults: https, public addresses only
    for url, why in [
        ("http://127.0.0.1:9/hook", "must be https"),
        ("https://127.0.0.1:9/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fd00::1]/hook", "private"),
        ("https://100.64.0.1/hook", "carrier-grade NAT"),
        ("https://user:pw@127.0.0.1/hook", "user name or password"),
    ]:
        r = client.post("/v1/webhooks", json={"url": url}, headers=as_("admin"))
        assert r.status_code == 422, (url, r.text)
        assert r.json()["detail"] == [{"index": None, "field": "url", "reason": r.json()["detail"][0]["reason"]}]
        assert why in r.json()["detail"][0]["reason"], (url, r.json())
    assert services.writer.written == []
