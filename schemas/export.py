"""JSON Schema of the event contract, for POS vendors."""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from schemas.events import Event, EventBatch

SCHEMA_FILE = Path(__file__).with_name("events.v1.schema.json")


def json_schema() -> dict:
    body = TypeAdapter(Event | EventBatch).json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bazaar-inventory.example/schemas/events.v1.schema.json",
        "title": "bazaar-inventory POS events, version 1",
        "description": "Body of POST /v1/events: one event, or {\"events\": [...]} with up to 500. "
        "Quantities and money are exact decimals, sent as strings (\"0.125\") or JSON numbers.",
        **body,
    }


def render() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
