"""Dependencies of the routes, as ``Annotated`` aliases over what the lifespan put on ``app.state``."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.producer import EventProducer
from api.workers import WorkerClient
from bazaar.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_producer(request: Request) -> EventProducer:
    return request.app.state.producer


def get_workers(request: Request) -> WorkerClient:
    return request.app.state.workers


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProducerDep = Annotated[EventProducer, Depends(get_producer)]
WorkersDep = Annotated[WorkerClient, Depends(get_workers)]
