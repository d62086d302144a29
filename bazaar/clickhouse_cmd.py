"""`bazaar clickhouse migrate|status`: apply the analytics schema's migrations, or list them.

`bazaar analytics` applies them at start-up too. With embedded chDB only one process opens the
database: run this while `bazaar analytics` is stopped (it says so otherwise).
"""

from __future__ import annotations

import argparse
import sys

from bazaar_core.settings import get_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["migrate", "status"], help="migrate: apply what is missing; status: list applied and pending")


def run(args: argparse.Namespace) -> int:
    from clickhouse.client import Database, redact, resolve_dsn
    from clickhouse.errors import AnalyticsError
    from clickhouse.migrate import applied, load, migrate

    settings = get_settings()
    dsn = resolve_dsn(settings)
    try:
        db = Database.open(dsn)
        try:
            if args.action == "migrate":
                done = migrate(db)
                print(f"{redact(dsn)}: applied {', '.join(f'{m.version:03d}_{m.name}' for m in done) or 'nothing (up to date)'}")
            else:
                have = applied(db)
                for m in load():
                    print(f"{m.version:03d}_{m.name}: {'applied' if m.version in have else 'pending'}")
        finally:
            db.close()
    except AnalyticsError as exc:
        print(f"bazaar clickhouse: {exc}", file=sys.stderr)
        return 1
    return 0
