"""The JSON Schema file in the repo is the one the models produce, and it validates real events."""

from __future__ import annotations

import json

import pytest

from schemas.export import SCHEMA_FILE, json_schema, render

pytestmark = pytest.mark.unit


def test_committed_schema_is_current():
    assert SCHEMA_FILE.read_text() == render(), "run `bazaar schema --write`"


def test_schema_names_every_event_type_and_the_batch():
    text = json.dumps(json_schema())
    for name in ("Sale", "Purchase", "Return", "Adjustment", "Count", "Transfer", "EventBatch"):
        assert f'"{name}"' in text or f"/{name}" in text
    assert '"event_id"' in text and '"occurred_at"' in text


def test_settings_env_round_trip_keeps_unset_values_unset():
    import os

    from bazaar_core.settings import Settings

    env = Settings(worker_advertised_host=None).to_env()
    assert "BAZAAR_WORKER_ADVERTISED_HOST" not in env
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        assert Settings().worker_advertised_host is None
    finally:
        os.environ.clear()
        os.environ.update(saved)
