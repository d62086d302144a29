"""Error bodies of the API, one shape for every 4xx/5xx the API itself makes::

    {"error": "invalid_event", "detail": [{"index": 0, "field": "lines[0].quantity", "reason": "..."}]}

``index`` is the event's position in a batch (null for a single event or a request-level problem),
``field`` a human path into that event (null when the whole body is at fault).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from schemas.events import EVENT_TYPES

_REQUEST_PARTS = ("path", "query", "header", "cookie", "body")
_MSG_PREFIXES = ("Value error, ", "Assertion failed, ")
# "lines[0].quantity: must be negative ..." -> field, reason
_FIELD_MSG = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): (.+)$", re.S)
_TYPES = ", ".join(repr(t) for t in EVENT_TYPES)


class ApiError(Exception):
    """An answer other than success; raised by routes, rendered by the handler in ``install``."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: list[dict] | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail or []
        self.headers, self.extra = headers, extra or {}

    def body(self) -> dict:
        return {"error": self.error, "detail": self.detail, **self.extra}


def issue(field: str | None, reason: str, index: int | None = None) -> dict:
    return {"index": index, "field": field, "reason": reason}


# ---- field paths ---------------------------------------------------------------------------------


def field_path(loc: Sequence[str | int]) -> str | None:
    """('lines', 0, 'quantity') -> 'lines[0].quantity'; () -> None."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or None


def _event_loc(loc: Sequence[str | int]) -> Sequence[str | int]:
    """Drop the discriminator tag pydantic puts first: ('sale', 'lines', 0) -> ('lines', 0)."""
    return loc[1:] if loc and loc[0] in EVENT_TYPES else loc


def _split(field: str | None, msg: str) -> tuple[str | None, str]:
    """A model validator's 'lines[0].quantity: must be ...' names its field inside the message."""
    for prefix in _MSG_PREFIXES:
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    m = _FIELD_MSG.match(msg)
    if m:
        sub, msg = m.group(1), m.group(2)
        field = f"{field}.{sub}" if field else sub
    return field, msg


# ---- pydantic errors -> issues ---------------------------------------------------------------------


def _one(err: Mapping[str, Any], loc: Sequence[str | int], index: int | None) -> dict:
    kind = err.get("type")
    ctx = err.get("ctx") or {}
    if kind == "union_tag_invalid":
        return issue("type", f"unknown event type {ctx.get('tag')!r}; expected one of {_TYPES}", index)
    if kind == "union_tag_not_found":
        return issue("type", f"required: one of {_TYPES}", index)
    if kind == "missing":
        return issue(field_path(loc), "required", index)
    if kind in ("model_attributes_type", "model_type", "dict_type") and not loc:
        return issue(None, "must be a JSON object", index)
    field, reason = _split(field_path(loc), err.get("msg", ""))
    return issue(field, reason, index)


def event_issues(exc: ValidationError, index: int | None = None) -> list[dict]:
    """Issues of one event validated with ``EventAdapter``."""
    return [_one(e, _event_loc(e["loc"]), index) for e in exc.errors(include_url=False)]


def request_issues(errors: Iterable[dict]) -> list[dict]:
    """Issues of FastAPI's path/query validation ('path', 'store_id') -> field 'store_id'."""
    out = []
    for e in errors:
        loc = tuple(e.get("loc", ()))
        if loc and loc[0] in _REQUEST_PARTS:
            loc = loc[1:]
        out.append(_one(e, loc, None))
    return out


# ---- specific errors -----------------------------------------------------------------------------


def invalid_json(exc: Exception) -> ApiError:
    if isinstance(exc, json.JSONDecodeError):
        reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    elif isinstance(exc, UnicodeDecodeError):
        reason = "body is not UTF-8 text"
    else:
        reason = str(exc) or type(exc).__name__
    return ApiError(400, "invalid_json", [issue(None, f"malformed JSON: {reason}")])


def invalid_events(issues: list[dict]) -> ApiError:
    return ApiError(422, "invalid_event", issues)


def batch_too_large(n: int, limit: int) -> ApiError:
    return ApiError(413, "batch_too_large", [issue("events", f"at most {limit} events per request, got {n}")])


# ---- FastAPI glue ---------------------------------------------------------------------------------


def install(app: FastAPI, on_error=None) -> None:
    """Render ApiError and request validation in the common shape; ``on_error(kind)`` counts them."""

    def respond(exc: ApiError) -> JSONResponse:
        if on_error is not None:
            on_error(exc.error)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return respond(exc)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return respond(ApiError(422, "invalid_request", request_issues(exc.errors())))
