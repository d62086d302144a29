"""What the OpenAPI document says beyond what FastAPI finds by itself.

* **Error answers.** ``errors(*codes)`` documents a route's 4xx/5xx answers by their codes, each
  status with the one error shape (``schemas.answers.ErrorBody``) and the codes it may carry; so
  FastAPI's own 422 shape, which this API never sends, is documented nowhere.
* **Request bodies.** The write routes read their bodies themselves (exact decimals, never floats;
  the ingest route validates the raw bytes at once), so FastAPI never sees their models.
  ``json_body(model)`` documents the model as the request body; ``install(app)`` puts the models
  it refers to under ``components/schemas``, named ``<Model>-Input`` (the answers use the same
  models in their serialization shape, under the plain name).
* **Access.** Each operation's ``x-permission`` (``public`` or a permission of ``domain.access``)
  and ``x-store`` (where its store is), from the route's ``requires`` (``api.authz.document``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter

from api import authz
from schemas.answers import ErrorBody

REF = "#/components/schemas/"
JSON = "application/json"
_DEFS = "x-bazaar-request-defs"  # carried on an operation until install() moves them to components

# Every error code the API answers with, and its status.
STATUS: dict[str, int] = {
    "invalid_json": 400,
    "invalid_token": 400,
    "invalid_cursor": 400,
    "invalid_event_id": 400,
    "invalid_csv": 400,
    "unauthorized": 401,
    "invalid_code": 401,
    "cross_site": 403,
    "forbidden": 403,
    "not_found": 404,
    "code_used": 410,
    "code_expired": 410,
    "unknown_report": 404,
    "body_timeout": 408,
    "body_too_large": 413,
    "batch_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_event": 422,
    "invalid_request": 422,
    "invalid_body": 422,
    "invalid_parameter": 422,
    "rate_limited": 429,
    "broker_unavailable": 503,
    "loading": 503,
    "overloaded": 503,
    "worker_unavailable": 503,
    "analytics_unavailable": 503,
    "no_signing_key": 503,
    "not_caught_up": 504,
}

# What ``api.authz.requires`` answers: no or a bad token (401), a permission or store outside it (403),
# over the credential's rate (429, api.authn).
AUTHED = ("unauthorized", "forbidden", "rate_limited")
# What ``api.guard`` may answer before any route runs: every counted request, and those with a body.
GUARDED = ("overloaded",)
WITH_BODY = ("cross_site", "unsupported_media_type", "body_too_large", "body_timeout")
# The catalog, alert and webhook views answer 503 loading until they have caught up.
VIEWS = ("loading",)


def errors(*codes: str, models: dict[int, type[BaseModel]] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that may answer these error codes."""
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(STATUS[code], []).append(code)
    return {
        status: {"model": (models or {}).get(status, ErrorBody), "description": "error: " + ", ".join(f"`{c}`" for c in found)}
        for status, found in sorted(by_status.items())
    }


def json_body(
    model: Any, *, description: str = "", optional: Iterable[str] = (), required: bool = True, examples: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``openapi_extra=`` documenting ``model`` (a model class or any type) as the JSON request body;
    ``optional``: top-level fields the route fills in itself (the path's id), so the body may leave out;
    ``examples``: name -> a body."""
    schema = TypeAdapter(model).json_schema(mode="validation", ref_template=REF + "{model}-Input")
    defs = {f"{name}-Input": definition for name, definition in schema.pop("$defs", {}).items()}
    if "required" in schema:
        schema["required"] = [f for f in schema["required"] if f not in set(optional)]
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    body: dict[str, Any] = {"required": required, "content": {JSON: media}}
    if description:
        body["description"] = description
    return {"requestBody": body, _DEFS: defs}


def text_body(media_type: str, description: str, example: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media_type: {"schema": {"type": "string"}, "example": example}},
        }
    }


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` move the request bodies' models into ``components/schemas``, and say
    that errors are JSON on the routes whose success is not (FastAPI gives them the success's type)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                for name, definition in operation.pop(_DEFS, {}).items():
                    if components.setdefault(name, definition) != definition:
                        raise RuntimeError(f"two request models are both named {name!r} in the OpenAPI document")
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[0] in "45" and content and JSON not in content:
                        response["content"] = {JSON: next(iter(content.values()))}
        authz.document(app, schema)  # each operation's x-permission and x-store
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
