"""JSON bodies of the catalog, alert and webhook routes: parsed exactly (numbers as Decimal, never
float, like events), validated against a contract model, errors in the API's common shape."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from api.errors import ApiError, event_issues, invalid_json, issue
from schemas.events import loads_exact

M = TypeVar("M", bound=BaseModel)


async def json_object(request: Request, *, optional: bool = False) -> dict:
    raw = await request.body()
    if optional and not raw.strip():
        return {}
    try:
        body = loads_exact(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid_json(exc) from None
    if not isinstance(body, dict):
        raise invalid_body([issue(None, "must be a JSON object")])
    return body


def validate(model: type[M], body: dict) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise invalid_body(event_issues(exc)) from None


def same_as_path(body: dict, field: str, value: str) -> dict:
    """A body may repeat the path's id; it must then be the same. Returns the body with it set."""
    if field in body and body[field] != value:
        raise invalid_body([issue(field, f"must match the path ({value!r}) or be left out")])
    return {**body, field: value}


def invalid_body(issues: list[dict]) -> ApiError:
    return ApiError(422, "invalid_body", issues)


def not_found(field: str, reason: str) -> ApiError:
    return ApiError(404, "not_found", [issue(field, reason)])
