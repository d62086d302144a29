"""Embedded chDB databases for tests in this process: one engine directory per process (chDB opens
one path per process), a fresh database per test."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid

import clickhouse_connect

from clickhouse.client import Database

_PATH: str | None = None


def _engine_path() -> str:
    global _PATH
    if _PATH is None:
        _PATH = tempfile.mkdtemp(prefix="bazaar-chdb-")
        atexit.register(shutil.rmtree, _PATH, True)
    return _PATH


def fresh_database(fault_file: str = "") -> Database:
    """A new, empty database on this process's chDB engine."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = clickhouse_connect.get_client(interface="chdb", path=_engine_path())
    admin.command(f"CREATE DATABASE {name}")
    admin.close()
    return Database(clickhouse_connect.get_client(interface="chdb", path=_engine_path(), database=name), fault_file)
