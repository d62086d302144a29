"""``GET /livez`` (200 while the process answers), ``GET /health`` (200 only while a Kafka broker
answers and the views have caught up: ``api.readiness``) and ``GET /metrics`` (Prometheus text).

Access: ``/livez`` and ``/health`` are public: Kubernetes probes carry no token, and neither says
more than up or down (no store, no figure). ``/metrics`` needs ``ops:read``: its series count
events by store-free labels, but they are the business's volumes and errors all the same.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api import metrics
from api.authz import PUBLIC, requires
from api.deps import ProducerDep
from api.openapi import AUTHED, GUARDED, errors
from domain.access import Permission
from schemas.answers import Health

router = APIRouter(tags=["health"])


@router.get(
    "/livez",
    response_model=dict[str, str],
    response_description='`{"status": "alive"}` while the process answers requests (a liveness probe: whatever the broker does)',
    dependencies=[PUBLIC],
)
async def livez() -> JSONResponse:
    return JSONResponse({"status": "alive"})


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "no broker answers (`unavailable`), or the views are still being read (`starting`)"}},
    dependencies=[PUBLIC],
)
async def health(producer: ProducerDep) -> JSONResponse:
    if await producer.check():
        return JSONResponse({"status": "ok", "broker": "up"})
    return JSONResponse({"status": "unavailable", "broker": "down"}, status_code=503)


@router.get(
    "/metrics",
    response_model=str,
    response_class=PlainTextResponse,
    response_description="Prometheus text exposition format",
    responses=errors(*AUTHED, *GUARDED),
    dependencies=[requires(Permission.OPS_READ)],
)
def prometheus() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
