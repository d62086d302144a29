"""Connecting to the analytics database: embedded chDB by default, or an http(s) ClickHouse server.

``Database`` wraps one clickhouse-connect client with a lock (one statement at a time per client;
the analytics process keeps one for the sink and one for reports) and, for tests, a fault switch:
while ``fault_file`` exists every insert raises ``ClickHouseUnavailable`` as if the server were down
(a transient failure: the sink retries the batch until the file is gone).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect

from bazaar_core.settings import Settings
from clickhouse.errors import ClickHouseUnavailable, DatabaseLocked


def resolve_dsn(settings: Settings) -> str:
    """The configured DSN, or embedded chDB under ``data_dir/clickhouse``."""
    if settings.clickhouse_dsn:
        return settings.clickhouse_dsn
    return f"chdb://{(Path(settings.data_dir) / 'clickhouse').resolve()}"


def redact(dsn: str) -> str:
    """The DSN without its password, for logs."""
    head, sep, tail = dsn.partition("@")
    if not sep or "://" not in head:
        return dsn
    scheme, _, creds = head.partition("://")
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{tail}"


def connect(dsn: str) -> Any:
    """A clickhouse-connect client (same API for chdb:// and http(s)://)."""
    if dsn.startswith("chdb://"):
        Path(dsn[len("chdb://") :]).mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {}
    else:  # no session: the sink and the reports query side by side
        options = {"autogenerate_session_id": False, "connect_timeout": 5, "send_receive_timeout": 120}
    try:
        return clickhouse_connect.get_client(dsn=dsn, **options)
    except Exception as exc:
        if "EmbeddedServer" in str(exc):
            raise DatabaseLocked(
                f"{dsn} is open in another process: with embedded chDB only `bazaar analytics` opens it; "
                "ask it over HTTP (bazaar report, the API) or stop it first"
            ) from exc
        raise ClickHouseUnavailable(f"cannot connect to {redact(dsn)}: {exc}") from exc


class Database:
    def __init__(self, client: Any, fault_file: str = "") -> None:
        self.client = client
        self.fault_file = Path(fault_file) if fault_file else None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, dsn: str, fault_file: str = "") -> Database:
        return cls(connect(dsn), fault_file)

    def command(self, sql: str, parameters: dict | None = None) -> Any:
        with self._lock:
            return self.client.command(sql, parameters=parameters)

    def query(self, sql: str, parameters: dict | None = None, settings: dict | None = None) -> Any:
        with self._lock:
            return self.client.query(sql, parameters=parameters, settings=settings)

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str], token: str) -> None:
        """Insert one batch atomically; a retry with the same ``token`` is deduplicated by ClickHouse."""
        if self.fault_file is not None and self.fault_file.exists():
            raise ClickHouseUnavailable(f"fault injected: {self.fault_file} exists")
        with self._lock:
            self.client.insert(table, list(rows), column_names=list(columns), settings={"insert_deduplication_token": token})

    def ping(self) -> bool:
        """Does ClickHouse answer a query (whatever an insert just said)."""
        try:
            self.query("SELECT 1")
        except Exception:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self.client.close()
