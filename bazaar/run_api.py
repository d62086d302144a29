"""`bazaar api`: run the HTTP API (ingest, stock lookups, health, metrics) with uvicorn."""

from __future__ import annotations

import argparse

from bazaar_core import logs
from bazaar_core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to listen on (default BAZAAR_API_HOST=127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default BAZAAR_API_PORT=8000)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from api import server
    from api.main import create_app

    settings = get_settings()
    overrides = {k: v for k, v in (("api_host", args.host), ("api_port", args.port)) if v}
    if overrides:
        settings = settings.model_copy(update=overrides)
    logs.setup(settings.log_level, settings.log_json)
    uvicorn.run(create_app(settings), **server.options(settings))
    return 0
