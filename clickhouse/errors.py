"""One exception base for analytics, and the few kinds callers tell apart."""
from __future__ import annotations


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
