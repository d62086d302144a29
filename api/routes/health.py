"""``GET /health`` (200 only while a Kafka broker answers) and ``GET /metrics`` (Prometheus)."""
from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api import metrics
from api.deps import ProducerDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(producer: ProducerDep) -> JSONResponse:
    if await producer.check():
        return JSONResponse({"status": "ok", "broker": "up"})
    return JSONResponse({"status": "unavailable", "broker": "down"}, status_code=503)


@router.get("/metrics")
def prometheus() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
