"""``GET /health`` (200 only while a Kafka broker answers and the views have caught up:
``api.readiness``) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from api import metrics
from api.deps import ProducerDep
from schemas.answers import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "no broker answers (`unavailable`), or the views are still being read (`starting`)"}},
)
async def health(producer: ProducerDep) -> JSONResponse:
    if await producer.check():
        return JSONResponse({"status": "ok", "broker": "up"})
    return JSONResponse({"status": "unavailable", "broker": "down"}, status_code=503)


@router.get("/metrics", response_model=str, response_class=PlainTextResponse, response_description="Prometheus text exposition format")
def prometheus() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
