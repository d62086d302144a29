"""`bazaar report NAME [--store S --sku K --from --to --date --at --days --limit] [--format table|csv|json]`.

Asks the analytics process (BAZAAR_ANALYTICS_URL, or http://worker_host:analytics_port) over HTTP,
the same way for embedded chDB and a ClickHouse server. `bazaar report --list` lists the reports.

Reports hold text clients sent (a terminal id, an actor, a note): whatever this prints for a person
to read (the table, the list, errors) has its control characters removed, so a hostile
``terminal_id`` cannot send escape sequences to the operator's terminal. ``--format csv`` writes
the report's CSV as it is (its cells already inert for spreadsheets), ``json`` escapes them.

The analytics port wants an access token (``reports:read``; a store-scoped key gets its own stores):
the command exchanges ``BAZAAR_API_KEY``, or the admin key file, at the API (``bazaar_core.client_auth``).
"""

from __future__ import annotations

import argparse
import json
import sys

from bazaar_core.client_auth import ExchangeFailed, KeyAuth, NoApiKey
from bazaar_core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="report name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the reports and their parameters")
    parser.add_argument("--store", dest="store_id", help="store id (default: every store, where the report allows)")
    parser.add_argument("--sku", help="stock keeping unit (movement_history)")
    parser.add_argument("--from", dest="from_", metavar="FROM", help="first local day (YYYY-MM-DD) or instant (RFC 3339)")
    parser.add_argument("--to", help="last local day or instant")
    parser.add_argument("--date", help="one local day: --from DATE --to DATE")
    parser.add_argument("--at", help="as of this instant (RFC 3339, e.g. 2026-11-22T18:00:00+05:00)")
    parser.add_argument("--days", help="window or age in days")
    parser.add_argument("--limit", help="how many rows (top_sellers)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="any other parameter")
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
    parser.add_argument("--url", help="analytics process URL (default from settings)")


def params_of(args: argparse.Namespace) -> dict[str, str]:
    out = {
        k: v
        for k, v in (
            ("store_id", args.store_id),
            ("sku", args.sku),
            ("from", args.from_),
            ("to", args.to),
            ("at", args.at),
            ("days", args.days),
            ("limit", args.limit),
        )
        if v is not None
    }
    if args.date:
        out["from"] = out["to"] = args.date
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"bazaar report: --param wants NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    import httpx

    from clickhouse.formats import terminal_safe as safe
    from clickhouse.formats import to_text

    settings = get_settings()
    base = (args.url or settings.analytics_base_url).rstrip("/")
    try:
        auth = KeyAuth.of(settings)
    except NoApiKey as exc:
        print(safe(f"bazaar report: {exc}"), file=sys.stderr)
        return 1
    try:
        with httpx.Client(timeout=120, auth=auth) as http:
            if args.list or not args.name:
                resp = http.get(f"{base}/reports")
                resp.raise_for_status()
                for r in resp.json()["reports"]:
                    params = " ".join(f"{p['name']}{'' if p['required'] else '?'}" for p in r["params"])
                    print(safe(f"{r['name']:<26} {params}") + "\n" + safe(f"{'':<26} {r['title']}"))
                return 0 if args.list else 2
            wire = "csv" if args.format == "csv" else "json"
            resp = http.get(f"{base}/reports/{args.name}", params={**params_of(args), "format": wire})
    except ExchangeFailed as exc:
        print(safe(f"bazaar report: the API did not take the key: {exc}"), file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(
            safe(f"bazaar report: cannot reach the analytics process at {base} or the API ({exc}); is `bazaar up` running?"),
            file=sys.stderr,
        )
        return 1
    if resp.status_code != 200:
        print(safe(f"bazaar report: {resp.status_code} {resp.text}"), file=sys.stderr)
        return 1
    if args.format == "csv":
        sys.stdout.write(resp.text)
    elif args.format == "json":
        print(json.dumps(resp.json(), indent=2))
    else:
        body = resp.json()
        print(safe(f"{body['report']}  " + "  ".join(f"{k}={v}" for k, v in body["params"].items())))
        print(to_text([c["name"] for c in body["columns"]], body["rows"]))
        print(f"({len(body['rows'])} rows)")
    return 0
