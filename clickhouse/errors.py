"""One exception base for analytics, and the few kinds callers tell apart."""

from __future__ import annotations

import re


class AnalyticsError(Exception):
    """Base of every analytics error."""


class ClickHouseUnavailable(AnalyticsError):
    """ClickHouse did not answer (or a test switched it off): retry later."""


class DatabaseLocked(AnalyticsError):
    """The embedded chDB directory is open in another process (``bazaar analytics`` owns it)."""


class MigrationError(AnalyticsError):
    """A migration file is malformed, or changed after it was applied."""


class UnknownReport(AnalyticsError):
    pass


class BadParameter(AnalyticsError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


class InsertRefused(AnalyticsError):
    """ClickHouse (or the client, for its column types) refused an insert for a reason retrying does
    not fix: a value a column cannot hold, too many partitions in one block, a type error."""


class UnreadableMessage(AnalyticsError):
    """A topic message that cannot be turned into rows (not JSON, or breaks its contract)."""


# Server errors that say nothing about the rows sent: overload, limits, a server or table not ready,
# credentials. An insert that met one is retried as it is, however long it takes.
TRANSIENT_ERRORS = {
    60: "UNKNOWN_TABLE",
    81: "UNKNOWN_DATABASE",
    159: "TIMEOUT_EXCEEDED",
    164: "READONLY",
    173: "CANNOT_ALLOCATE_MEMORY",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR",
    218: "TABLE_IS_DROPPED",
    236: "ABORTED",
    241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY",
    243: "NOT_ENOUGH_SPACE",
    252: "TOO_MANY_PARTS",
    279: "ALL_CONNECTION_TRIES_FAILED",
    291: "DATABASE_ACCESS_DENIED",
    394: "QUERY_WAS_CANCELLED",
    439: "CANNOT_SCHEDULE_TASK",
    497: "ACCESS_DENIED",
    516: "AUTHENTICATION_FAILED",
    999: "KEEPER_EXCEPTION",
}
TOO_MANY_PARTITIONS = "Too many partitions for single INSERT block"  # code 252 as well, but about the rows
_CODE = re.compile(r"\bCode:\s*(\d+)")


def is_transient(exc: BaseException) -> bool:
    """True when an insert failed for a reason that goes away (ClickHouse unreachable, slow,
    overloaded): retry the same batch. False when ClickHouse refused the rows themselves."""
    from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError, ProgrammingError

    if isinstance(exc, (ClickHouseUnavailable, OperationalError, OSError, TimeoutError)):
        return True  # no answer: down, network, timeout (ConnectionError is an OSError)
    if isinstance(exc, DatabaseError):
        if TOO_MANY_PARTITIONS in str(exc):
            return False
        code, name = getattr(exc, "code", None), getattr(exc, "name", None)
        if code is None and (m := _CODE.search(str(exc))):
            code = int(m.group(1))
        if code is None and name is None:
            # no ClickHouse error in the answer: the client refused a value for its column type
            # (DataError, ProgrammingError), or an HTTP error from something in front of the server
            return not isinstance(exc, (DataError, ProgrammingError))
        return code in TRANSIENT_ERRORS or name in TRANSIENT_ERRORS.values()
    return False  # ValueError, OverflowError, TypeError, struct.error...: serialising the rows failed
