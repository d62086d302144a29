"""The live API keeps the contract its OpenAPI document states: schemathesis generates requests
from ``GET /openapi.json`` of a real API process (with a stream worker and the analytics process on
the session's broker) for every operation, valid and invalid ones, and every answer must be no
5xx and match the model documented for its status (checks ``not_a_server_error`` and
``response_schema_conformance``).

Bounded: a few dozen cases an operation, derandomized (the same requests every run), no
shrinking; a stock lookup's ``timeout_ms`` is held short. The alert stream is left out: it does
not end (tests/integration/test_alerts_stream.py covers it). Deletions run last, so the seeded
webhook is there for the operations that read it.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from clickhouse.reports import REPORTS
from schemas.webhooks import DeadLetter, pair_key
from tests.authclient import admin_key
from tests.conftest import free_ports
from tests.integration.alerting import LOCAL_RECEIVERS
from tests.integration.analytics_harness import Analytics
from tests.integration.harness import Running
from tests.integration.kafka_read import produce_json

pytestmark = pytest.mark.integration

STORE, SKU = "contract-1", "tea-190g"
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}  # cases per operation
SKIPPED = {"GET /v1/stores/{store_id}/alerts/stream"}
LOOKUP_QUERY = {"timeout_ms": 300}  # a generated `after` token may name an offset never written
REQUEST_TIMEOUT_S = 30
CHECKS = [not_a_server_error, response_schema_conformance]


def event(kind: str, quantity: str, **fields) -> dict:
    line = {"sku": SKU, "quantity": quantity, **({"unit_price": "450.00"} if kind == "sale" else {"unit_cost": "400.00"})}
    return {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "store_id": STORE,
        "terminal_id": "pos-1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "lines": [line],
        **fields,
    }


def seed(r: Running) -> dict[str, list[str]]:
    """A store, a product, stock that raised an alert, a webhook with a dead letter: path values
    with something behind them, so the fuzzing reaches answers other than 404."""
    http = r.http
    assert http.put(f"/v1/stores/{STORE}", json={"name": "Contract corner"}).status_code in (200, 201)
    assert http.put(f"/v1/products/{SKU}", json={"name": "Tea 190g", "price": "450.00", "reorder_point": "5"}).status_code in (200, 201)
    r.wait_worker_catalog(products=1, stores=1)
    for body in (event("purchase", "10", supplier="tapal"), event("sale", "7")):
        assert r.post(body).status_code == 202
    made = http.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/never-called", "secret": "s" * 16})
    assert made.status_code == 201, made.text
    hook = made.json()["webhook_id"]
    deadline = time.monotonic() + 30
    while not (alerts := http.get(f"/v1/stores/{STORE}/alerts").json()["items"]):
        assert time.monotonic() < deadline, "the sale raised no low-stock alert"
        time.sleep(0.2)
    alert = alerts[0]
    dead = DeadLetter(
        webhook_id=hook,
        alert_id=alert["alert_id"],
        store_id=STORE,
        kind=alert["kind"],
        body="{}",
        attempts=12,
        last_error="HTTP 500 from the receiver",
        dead_at=datetime.now(UTC),
    )
    produce_json(
        r.settings.kafka_bootstrap,
        r.settings.webhook_dead_letters_topic,
        pair_key(hook, alert["alert_id"]).decode(),
        dead.model_dump(mode="json"),
    )
    while http.get(f"/v1/webhooks/{hook}/dead-letters").json()["items"] == []:
        assert time.monotonic() < deadline, "the API never read the dead letter"
        time.sleep(0.2)
    known = {"store_id": [STORE], "sku": [SKU], "webhook_id": [hook], "alert_id": [alert["alert_id"]], "name": sorted(REPORTS)}
    return {**known, **seed_access(r)}


def seed_access(r: Running) -> dict[str, list[str]]:
    """A key to exchange and revoke, pairing codes to redeem, tokens to log out: values the auth
    routes' cases are given (``with_access``), so they reach their 2xx too."""
    admin_key(r.settings)  # the signing key (the API looks for one again when it has none)
    made = r.http.post("/v1/credentials", json={"name": "contract", "role": "owner", "stores": [STORE]})
    assert made.status_code == 201, made.text
    codes = [r.http.post(f"/v1/stores/{STORE}/pairing-codes").json()["code"] for _ in range(3)]
    tokens = []
    for _ in range(3):
        exchanged = r.http.post("/v1/auth/token", json={"api_key": made.json()["api_key"]})
        assert exchanged.status_code == 200, exchanged.text
        tokens.append(exchanged.json()["access_token"])
    return {"credential_id": [made.json()["id"]], "api_key": [made.json()["api_key"]], "code": codes, "token": tokens}


def with_access(operation, generated, known: dict[str, list[str]]):
    """Cases of the auth routes holding a seeded key, code or token (as generated otherwise)."""
    label = f"{operation.method.upper()} {operation.path}"

    def body(case, **values):
        case.body = {**(case.body if isinstance(case.body, dict) else {}), **values}
        return case

    def bearer(case, token: str):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        return case

    if label == "POST /v1/auth/token":
        return generated.map(lambda case: body(case, api_key=known["api_key"][0]))
    if label == "POST /v1/auth/pair":
        return st.tuples(generated, st.sampled_from(known["code"])).map(lambda cc: body(cc[0], code=cc[1]))
    if label == "POST /v1/auth/logout":
        return st.tuples(generated, st.sampled_from(known["token"])).map(lambda ct: bearer(ct[0], ct[1]))
    return None


def loopback_receiver(case):
    """A webhook registration resolves its URL's host name: generated ones are pointed at 127.0.0.1
    (the rest of the case as generated), so no lookup leaves the machine."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        try:
            parts = urlsplit(body["url"])
            host = parts.hostname
        except ValueError:
            return case
        if parts.scheme in ("http", "https") and host and host != "127.0.0.1":
            case.body = {**body, "url": urlunsplit(parts._replace(netloc="127.0.0.1:9"))}
    return case


def strategy(schema, operation, mode: GenerationMode, known: dict[str, list[str]]):
    """Generated cases; in the positive mode also the document's examples, and cases whose path
    values are the seeded ones."""
    query = LOOKUP_QUERY if "/stock" in operation.path else None
    generated = operation.as_strategy(mode, query=query)
    if operation.path == "/v1/webhooks" and operation.method.upper() == "POST":
        return generated.map(loopback_receiver)  # no path values; examples would name public hosts
    if mode is GenerationMode.NEGATIVE:
        return generated
    more = list(schema.get_strategies_from_examples(operation))
    seeded = with_access(operation, generated, known)
    if seeded is not None and operation.path == "/v1/auth/logout":
        return seeded  # only the seeded tokens: a case must never log out the token the other cases use
    if seeded is not None:
        more.append(seeded)
    names = sorted(p.name for p in operation.path_parameters)
    if names and set(names) <= set(known):
        values = st.tuples(*(st.sampled_from(known[n]) for n in names))
        more.append(values.flatmap(lambda v: operation.as_strategy(mode, query=query, path_parameters=dict(zip(names, v)))))
    return st.one_of(generated, *more)


def exercise(
    schema, operation, mode: GenerationMode, known, found: dict[str, list[str]], statuses: dict[str, set[int]], bearer: dict[str, str]
) -> None:
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy(schema, operation, mode, known))
    def run(case) -> None:
        # a logout case keeps its own (a seeded token to log out, or a generated one); every other case
        # is the admin's, whatever bearer the document's security scheme made schemathesis generate
        own = operation.path == "/v1/auth/logout" and any(k.lower() == "authorization" for k in case.headers or {})
        if not own and case.headers:
            case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
        response = case.call(timeout=REQUEST_TIMEOUT_S, headers=None if own else bearer)
        statuses.setdefault(operation.label, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:  # a check's failures: noted, on with the next case
            found.setdefault(f"{operation.label} [{mode.value}]", []).append(str(exc)[:2000])

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # nothing of this operation can be made invalid (no parameters, no body)


@pytest.mark.timeout(300)
def test_the_live_api_keeps_its_documented_contract(settings_factory):
    worker_port, analytics_port = free_ports(2)
    r = Running(
        # the seeded webhook: 127.0.0.1; the token and pairing routes answer more than their per-address limit
        settings_factory(analytics_port=analytics_port, auth_rate_per_address=(1000.0, 1000), **LOCAL_RECEIVERS),
        [worker_port],
    )
    analytics = Analytics(r)
    try:
        r.start()
        analytics.start()
        known = seed(r)
        schema = schemathesis.openapi.from_url(f"{r.api_url}/openapi.json", config=schemathesis.Config())
        operations = [result.ok() for result in schema.get_all_operations()]
        labels = {op.label for op in operations}
        assert len(labels) >= 28 and SKIPPED <= labels
        found: dict[str, list[str]] = {}
        statuses: dict[str, set[int]] = {}
        started = time.monotonic()
        for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):
            if operation.label not in SKIPPED:
                for mode in EXAMPLES:
                    exercise(schema, operation, mode, known, found, statuses, r.auth.headers())
        print(
            f"contract: {len(labels) - len(SKIPPED)} operations in {time.monotonic() - started:.0f} s; "
            f"statuses {dict(sorted(statuses.items()))}"
        )
        assert not found, f"answers that broke the contract, in {len(found)} operations (the first of each):\n\n" + "\n\n".join(
            f"{label}: {len(failures)} cases\n{failures[0]}" for label, failures in found.items()
        )
        # the seeded values reached past the 404s: real answers were checked, not only errors
        answered = {label for label, seen in statuses.items() if any(200 <= s < 300 for s in seen)}
        assert labels - SKIPPED - answered == set(), {label: statuses.get(label) for label in labels - SKIPPED - answered}
    finally:
        analytics.close()
        r.close()
