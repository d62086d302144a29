"""What answering gzip costs the ingest path: the API's GZip middleware around an ASGI app that
answers like POST /v1/events (a 202 of ~120 bytes) and like a stock list (~20 KB), called in
process, with and without ``Accept-Encoding: gzip``. Medians of several rounds, written as JSON to
bench/results/latest-gzip.json. ``python -m bench.gzip_cost``"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware

from api.main import GZIP_MIN_BYTES, GzipReads

SMALL = b'{"accepted":1,"token":"AAEAAgADAAQ","events":[{"event_id":"8b1c0b4e-6f43-4d6b-9a57-0c3c1f0d5a10","status":"accepted"}]}'
LARGE = json.dumps({"items": [{"sku": f"sku-{i:05d}", "on_hand": "12.5", "negative": False, "low": False} for i in range(300)]}).encode()


def app_answering(body: bytes):
    async def app(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


async def per_request_us(app, accept_gzip: bool, n: int, method: str) -> float:
    headers = [(b"accept-encoding", b"gzip")] if accept_gzip else []
    scope = {"type": "http", "method": method, "path": "/v1/events", "headers": headers, "query_string": b""}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    started = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) / n * 1e6


async def measure(rounds: int = 7, n: int = 20_000) -> dict:
    out: dict = {}
    for name, body in (("ingest_202", SMALL), ("stock_list_20kb", LARGE)):
        bare = app_answering(body)
        wrapped = GZipMiddleware(bare, minimum_size=GZIP_MIN_BYTES, compresslevel=5)
        ours = GzipReads(bare)
        for label, app, gz, method in (
            ("bare", bare, False, "POST"),
            ("gzip_middleware_on_post", wrapped, True, "POST"),
            ("api_wrapper_on_post", ours, True, "POST"),
            ("api_wrapper_on_get", ours, True, "GET"),
        ):
            samples = [await per_request_us(app, gz, n if name == "ingest_202" else n // 10, method) for _ in range(rounds)]
            out[f"{name}.{label}_us"] = round(statistics.median(samples), 2)
    return out


def main() -> None:
    figures = asyncio.run(measure())
    result = {
        "bench": "gzip_cost",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "figures": figures,
        "ingest_added_us": round(figures["ingest_202.api_wrapper_on_post_us"] - figures["ingest_202.bare_us"], 2),
    }
    path = Path(__file__).parent / "results" / "latest-gzip.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
