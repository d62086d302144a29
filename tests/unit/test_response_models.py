"""Every route of the API declares its answer, and the OpenAPI document says it: the success model,
every error in the one error shape, and the request bodies the routes read themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import routing
from fastapi.routing import APIRoute

from api.main import create_app
from api.routes import pages, reports
from bazaar_core.settings import Settings
from schemas.export import ANSWERS_FILE, answers_json_schema, render_answers

pytestmark = pytest.mark.unit

ERROR_SCHEMAS = {"#/components/schemas/ErrorBody", "#/components/schemas/IngestFailure"}


@pytest.fixture(scope="module")
def app():
    return create_app(Settings())


@pytest.fixture(scope="module")
def document(app) -> dict[str, Any]:
    return app.openapi()


def api_routes(app) -> list[APIRoute]:
    """The app's routes, through the routers it included (FastAPI >= 0.13x keeps those as branches)."""
    expand = getattr(routing, "iter_route_contexts", None)
    found = [getattr(r, "original_route", r) for r in (expand(app.routes) if expand else app.routes)]
    return [r for r in found if isinstance(r, APIRoute)]


def operations(document) -> Iterator[tuple[str, str, dict]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_route_declares_its_answer(app):
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in api_routes(app)
        if r.include_in_schema and r.response_model is None and r.status_code != 204
    ]
    assert not missing, f"routes without response_model: {missing}"
    no_body = [r.path for r in api_routes(app) if r.status_code == 204]
    # a 204 has no body (FastAPI refuses a model there)
    assert sorted(no_body) == ["/v1/auth/logout", "/v1/credentials/{credential_id}", "/v1/webhooks/{webhook_id}"]


def test_only_the_web_pages_stay_out_of_the_document(app):
    hidden = {r.endpoint.__module__ for r in api_routes(app) if not r.include_in_schema}
    assert hidden == {pages.__name__}
    documented = {(m, r.path) for r in api_routes(app) if r.include_in_schema for m in r.methods}
    assert len(documented) >= 28


def test_every_answer_is_documented_with_a_schema(document):
    for method, path, operation in operations(document):
        responses = operation["responses"]
        ok = [s for s in responses if s.startswith("2")]
        assert ok, f"{method} {path} documents no success"
        for status in ok:
            if status == "204":
                assert "content" not in responses[status]
                continue
            content = responses[status]["content"]
            assert all(c.get("schema") for c in content.values()), f"{method} {path} {status}: {content}"


def test_every_error_is_the_one_error_shape(document):
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's 422, never sent
    for method, path, operation in operations(document):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        if path == "/health":
            assert errors["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Health"}
            continue
        assert errors or path == "/livez", f"{method} {path} documents no error"  # (public, no parameters, never refused)
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema.get("$ref") in ERROR_SCHEMAS, f"{method} {path} {status}: {schema}"
            assert "`" in response["description"], "the description names the error codes"


def test_the_error_shape_is_what_the_api_renders(document):
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error", "detail"]
    assert set(schemas["Issue"]["required"]) == {"index", "field", "reason"}


def test_request_bodies_are_documented(document):
    paths = document["paths"]
    events = paths["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    text = json.dumps(events)
    for name in ("Sale", "Purchase", "Return", "Adjustment", "Count", "Transfer", "EventBatch"):
        assert f"#/components/schemas/{name}-Input" in text
    product = paths["/v1/products/{sku}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert "sku" in product["properties"] and "sku" not in product["required"]  # the path's id may be left out
    assert "name" in product["required"]
    override = paths["/v1/stores/{store_id}/products/{sku}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert "required" not in override or not {"store_id", "sku"} & set(override["required"])
    ack = paths["/v1/stores/{store_id}/alerts/{alert_id}/ack"]["post"]["requestBody"]
    assert ack["required"] is False
    assert "text/csv" in paths["/v1/products:import"]["post"]["requestBody"]["content"]
    assert not any("x-bazaar" in key for _, _, op in operations(document) for key in op)


def test_every_reference_resolves(document):
    defined = {f"#/components/schemas/{name}" for name in document["components"]["schemas"]}
    refs: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" or (key == "mapping" and isinstance(value, dict)):
                    refs.update([value] if key == "$ref" else value.values())
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs and refs <= defined, sorted(refs - defined)


def test_report_parameters_cover_every_report():
    from clickhouse.reports import REPORTS

    taken = {p.name for r in REPORTS.values() for p in r.params} | {"format"}
    assert taken == set(reports.PARAMS)


def test_committed_answer_schema_is_current():
    assert ANSWERS_FILE.read_text() == render_answers(), "run `python -m schemas.export --write`"
    names = set(answers_json_schema()["$defs"])
    assert {"ErrorBody", "StockItem", "StockPage", "AlertPage", "Product", "ReportTable", "WebhookOut"} <= names


def test_the_documented_event_examples_are_accepted(document):
    from api import ingest

    examples = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {"sale", "batch"}
    for example in examples.values():
        events, _ = ingest.parse_batch(json.dumps(example["value"]).encode(), 500)
        assert events


def test_the_contract_checks_flag_a_server_error_and_an_answer_off_its_model(document):
    """What tests/integration/test_api_contract.py relies on: the two checks fail when they should."""
    import datetime

    import requests
    import schemathesis
    import urllib3
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    case = schema["/v1/stores/{store_id}/stock/{sku}"]["GET"].Case(path_parameters={"store_id": "s1", "sku": "rice"})

    def verdict(status: int, body: dict) -> str:
        response = requests.Response()
        response.status_code, response._content = status, json.dumps(body).encode()
        response.raw = urllib3.HTTPResponse(body=b"", headers={"Content-Type": "application/json"}, status=status, preload_content=False)
        response.headers = requests.structures.CaseInsensitiveDict({"Content-Type": "application/json"})
        response.request = requests.Request("GET", "http://api.test/v1/stores/s1/stock/rice").prepare()
        response.url, response.elapsed = response.request.url, datetime.timedelta(0)
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except BaseExceptionGroup as exc:
            return str(exc)
        return "ok"

    assert verdict(404, {"error": "not_found", "detail": [{"index": None, "field": None, "reason": "no stock"}]}) == "ok"
    assert "Response violates schema" in verdict(404, {"error": "not_found", "detail": "no stock"})  # a worker's own shape
    assert "Response violates schema" in verdict(200, {"store_id": "s1", "sku": "rice"})
    assert "Server error" in verdict(500, {"error": "boom", "detail": []})


def test_the_error_table_knows_every_error_the_api_raises():
    """api.openapi.STATUS documents each code with its status; a new or moved code must be added there."""
    import re
    from pathlib import Path

    import api
    from api.openapi import STATUS

    raised = set()
    for path in Path(api.__file__).parent.rglob("*.py"):
        raised |= {(code, int(status)) for status, code in re.findall(r'(?:ApiError|Refused)\(\s*(\d+),\s*"([a-z_]+)"', path.read_text())}
    assert len(raised) >= 19
    assert {(code, STATUS.get(code)) for code, _ in raised} == raised
    # the analytics process's and the workers' codes, passed through
    assert {"unknown_report", "invalid_parameter", "not_caught_up"} <= set(STATUS)
