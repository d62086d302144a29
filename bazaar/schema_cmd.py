"""`bazaar schema`: print the JSON Schema of the event contract, or write it to schemas/."""

from __future__ import annotations

import argparse
import sys

from schemas.export import SCHEMA_FILE, render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--write", action="store_true", help=f"write it to {SCHEMA_FILE.name} instead of stdout")


def run(args: argparse.Namespace) -> int:
    if args.write:
        SCHEMA_FILE.write_text(render())
        print(f"wrote {SCHEMA_FILE}")
    else:
        sys.stdout.write(render())
    return 0
