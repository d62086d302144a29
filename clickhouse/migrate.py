"""Versioned schema: ``migrations/NNN_name.sql`` applied in order, each once, recorded in ``schema_migrations``.

Every statement is idempotent (``IF NOT EXISTS``, ``OR REPLACE``), so a migration interrupted halfway
is simply applied again. A step that is not idempotent by itself (copying rows into a new table) is
preceded by a line ``-- only if: <query>``: it runs only while that query's single value is non-zero
(e.g. "the table still has its old partition key"), which makes the sequence safe to run again.
A migration whose file changed after it was applied is refused: add a new one.
Statements in a file end with ``;`` at the end of a line.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse.client import Database
from clickhouse.errors import MigrationError

log = logging.getLogger("bazaar.clickhouse.migrate")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_GUARD = re.compile(r"^\s*--\s*only if:\s*(\S.*?)\s*$")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        return split_statements(self.sql)


def split_statements(sql: str) -> list[str]:
    """Statements end with ';' at the end of a line; chunks that are only comments are dropped."""
    out, current = [], []
    for line in sql.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    out.append("\n".join(current))
    return [s.strip() for s in out if _has_code(s)]


def guard(statement: str) -> str | None:
    """The ``-- only if: <query>`` condition in the comments above a statement, if any."""
    for line in statement.splitlines():
        if line.strip() and not line.strip().startswith("--"):
            return None  # the statement itself begins
        m = _GUARD.match(line)
        if m:
            return m.group(1)
    return None


def _has_code(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def load(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version: {versions}")
    return found


def applied(db: Database) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) of the migrations recorded as applied."""
    db.command(CREATE_TABLE)
    rows = db.query("SELECT version, name, checksum FROM schema_migrations FINAL ORDER BY version").result_rows
    return {int(v): (n, c) for v, n, c in rows}


def migrate(db: Database, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply what is missing, in order; the migrations applied now."""
    migrations = load() if migrations is None else migrations
    done = applied(db)
    now = []
    for m in migrations:
        if m.version in done:
            if done[m.version][1] != m.checksum:
                raise MigrationError(
                    f"migration {m.version:03d}_{m.name} changed after it was applied "
                    f"(checksum {done[m.version][1]} then, {m.checksum} now): add a new migration instead"
                )
            continue
        for statement in m.statements():
            condition = guard(statement)
            if condition is not None and not db.query(condition).result_rows[0][0]:
                continue
            db.command(statement)
        db.command(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ({v:UInt32}, {n:String}, {c:String})",
            parameters={"v": m.version, "n": m.name, "c": m.checksum},
        )
        log.info("migration applied", extra={"version": m.version, "migration": m.name})
        now.append(m)
    return now
