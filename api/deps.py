"""Dependencies of the routes, as ``Annotated`` aliases over what the lifespan put on ``app.state``.

They are ``async`` so FastAPI calls them on the event loop (a plain ``def`` dependency is run in a
worker thread, a thread hop per request)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.producer import EventProducer
from api.workers import WorkerClient
from bazaar.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_producer(request: Request) -> EventProducer:
    return request.app.state.producer


async def get_workers(request: Request) -> WorkerClient:
    return request.app.state.workers


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProducerDep = Annotated[EventProducer, Depends(get_producer)]
WorkersDep = Annotated[WorkerClient, Depends(get_workers)]
