"""`bazaar catalog import FILE [--api URL]`: post a products CSV to ``POST /v1/products:import`` and
print the report, one line per bad row. Exit 0 when every row was imported, 1 when a row failed,
2 when the API refused the file or could not be reached.

The file is sent as it is read (``Content-Type: text/csv``, which the route requires), not loaded
whole; the API lists the first 1,000 bad rows and counts the rest. The import is the central
catalog's (``catalog:write``): the command authenticates with ``BAZAAR_API_KEY`` or the admin key
file (``bazaar_core.client_auth``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bazaar_core.client_auth import ExchangeFailed, KeyAuth, NoApiKey, api_key
from bazaar_core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    imp = sub.add_parser("import", help="load products from a CSV file (header: sku,name,...; see README)")
    imp.add_argument("file", type=Path, help="CSV file, UTF-8")
    imp.add_argument("--api", help="API base URL (default http://BAZAAR_API_HOST:BAZAAR_API_PORT)")
    imp.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the API (default 120)")


def run(args: argparse.Namespace) -> int:
    import httpx

    settings = get_settings()
    base = (args.api or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    try:
        auth = KeyAuth(base, api_key(settings)) if settings.auth_required else None
    except NoApiKey as exc:
        print(f"bazaar catalog import: {exc}", file=sys.stderr)
        return 2
    try:
        body = open(args.file, "rb")
    except OSError as exc:
        print(f"bazaar catalog import: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        with body:
            r = httpx.post(
                f"{base}/v1/products:import",
                content=body,
                headers={"Content-Type": "text/csv; charset=utf-8"},
                timeout=args.timeout,
                auth=auth,
            )
    except ExchangeFailed as exc:
        print(f"bazaar catalog import: the API key was refused: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"bazaar catalog import: {base} did not answer: {exc}", file=sys.stderr)
        return 2
    if r.status_code != 200:
        print(f"bazaar catalog import: HTTP {r.status_code}: {_reasons(r)}", file=sys.stderr)
        return 2
    report = r.json()
    errors = report.get("errors", [])
    more = report.get("more_errors", 0)
    print(f"{args.file}: imported {report['imported']} product(s), {len(errors) + more} row(s) with errors")
    for e in errors:
        sku = f" sku {e['sku']}:" if e.get("sku") else ""
        print(f"  line {e['line']}:{sku} {e['reason']}")
    if more:
        print(f"  ... and {more} more row(s) with errors")
    return 1 if errors or more else 0


def _reasons(r) -> str:
    try:
        body = r.json()
        return "; ".join(d["reason"] for d in body.get("detail", [])) or body.get("error", r.text)
    except ValueError:
        return r.text[:500]
