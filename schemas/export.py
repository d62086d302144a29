"""JSON Schema of the contract: the events POS vendors post (``events.v1.schema.json``, ``bazaar
schema``) and the answers the API sends back (``answers.v1.schema.json``). Both are committed;
``python -m schemas.export --write`` rewrites them (``bazaar schema --write``: the events' alone)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from schemas.answers import ANSWERS
from schemas.events import Event, EventBatch

SCHEMA_FILE = Path(__file__).with_name("events.v1.schema.json")
ANSWERS_FILE = Path(__file__).with_name("answers.v1.schema.json")


def json_schema() -> dict[str, Any]:
    body = TypeAdapter(Event | EventBatch).json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bazaar-inventory.example/schemas/events.v1.schema.json",
        "title": "bazaar-inventory POS events, version 1",
        "description": 'Body of POST /v1/events: one event, or {"events": [...]} with up to 500. '
        'Quantities and money are exact decimals, sent as strings ("0.125") or JSON numbers.',
        **body,
    }


def answers_json_schema() -> dict[str, Any]:
    """Every answer model as the API writes it (serialization shape: decimals as strings), under ``$defs``."""
    mode: JsonSchemaMode = "serialization"
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, mode) for m in ANSWERS]
    _, top = models_json_schema(models, ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bazaar-inventory.example/schemas/answers.v1.schema.json",
        "title": "bazaar-inventory API answers, version 1",
        "description": "What the HTTP API answers (GET /openapi.json says which route answers which). "
        "Errors: ErrorBody. Quantities and money are decimal strings, instants RFC 3339.",
        "$defs": dict(sorted(top.get("$defs", {}).items())),
    }


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def render() -> str:
    return _dump(json_schema())


def render_answers() -> str:
    return _dump(answers_json_schema())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.export", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {SCHEMA_FILE.name} and {ANSWERS_FILE.name}")
    args = parser.parse_args(argv)
    if args.write:
        for path, text in ((SCHEMA_FILE, render()), (ANSWERS_FILE, render_answers())):
            path.write_text(text)
            print(f"wrote {path}")
    else:
        sys.stdout.write(render_answers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
