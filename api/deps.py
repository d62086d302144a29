"""Dependencies of the routes, as ``Annotated`` aliases over what the lifespan put on ``app.state``.

They are ``async`` so FastAPI calls them on the event loop (a plain ``def`` dependency is run in a
worker thread, a thread hop per request). The catalog, alert and webhook views wait for their view
to have caught up (503 ``loading`` after ``services.READY_WAIT_S``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.alert_view import AlertView
from api.analytics import AnalyticsClient
from api.auth_view import AuthView
from api.authn import Authenticator
from api.catalog_view import CatalogView
from api.producer import EventProducer
from api.services import Services
from api.webhook_view import WebhookView
from api.workers import WorkerClient
from bazaar_core.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_producer(request: Request) -> EventProducer:
    return request.app.state.producer


async def get_workers(request: Request) -> WorkerClient:
    return request.app.state.workers


async def get_analytics(request: Request) -> AnalyticsClient:
    return AnalyticsClient(request.app.state.http_get, request.app.state.settings.analytics_base_url)


async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_catalog(request: Request) -> CatalogView:
    services: Services = request.app.state.services
    await services.require("catalog")
    return services.catalog


async def get_alerts(request: Request) -> AlertView:
    services: Services = request.app.state.services
    await services.require("alerts")
    return services.alerts


async def get_webhooks(request: Request) -> WebhookView:
    services: Services = request.app.state.services
    await services.require("webhooks")
    return services.webhooks


async def get_authenticator(request: Request) -> Authenticator:
    return request.app.state.auth


async def get_auth_view(request: Request) -> AuthView:
    services: Services = request.app.state.services
    await services.require("auth")
    return services.auth


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProducerDep = Annotated[EventProducer, Depends(get_producer)]
WorkersDep = Annotated[WorkerClient, Depends(get_workers)]
AnalyticsDep = Annotated[AnalyticsClient, Depends(get_analytics)]
ServicesDep = Annotated[Services, Depends(get_services)]
CatalogDep = Annotated[CatalogView, Depends(get_catalog)]
AlertsDep = Annotated[AlertView, Depends(get_alerts)]
WebhooksDep = Annotated[WebhookView, Depends(get_webhooks)]
AuthDep = Annotated[Authenticator, Depends(get_authenticator)]
AuthViewDep = Annotated[AuthView, Depends(get_auth_view)]
