"""Migrations apply once and in order, refuse edited history; report parameters and SQL agree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clickhouse import reports
from clickhouse.errors import BadParameter, MigrationError, UnknownReport
from clickhouse.migrate import Migration, applied, load, migrate, split_statements
from tests.chdb_databases import fresh_database

pytestmark = pytest.mark.unit


def test_migrations_apply_once_in_order_and_refuse_edits():
    db = fresh_database()
    files = load()
    assert [m.version for m in files] == sorted(m.version for m in files) and files[0].version == 1
    assert [m.version for m in migrate(db)] == [m.version for m in files]
    assert migrate(db) == []  # idempotent
    assert sorted(applied(db)) == [m.version for m in files]
    edited = [*files[:-1], Migration(files[-1].version, files[-1].name, files[-1].sql + "\n-- edited\n")]
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(db, edited)
    extra = Migration(99, "extra", "CREATE TABLE IF NOT EXISTS extra (x UInt8) ENGINE = Memory;\n")
    assert [m.version for m in migrate(db, [*files, extra])] == [99]


def test_statements_split_at_line_ends():
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x String DEFAULT ';') ENGINE = Memory;\n\n-- only a comment\nSELECT 1;\n"
    assert split_statements(sql) == [
        "-- a comment; with a semicolon\nCREATE TABLE a (x String DEFAULT ';') ENGINE = Memory",
        "-- only a comment\nSELECT 1",
    ]


def test_every_report_declares_exactly_its_sql_parameters():
    for rep in reports.REPORTS.values():
        found = reports.placeholders(rep.sql)
        declared = {p.name: reports.TYPES[p.kind] for p in rep.params}
        assert found == declared, rep.name
    assert {p.stem for p in reports.SQL_DIR.glob("*.sql")} == set(reports.REPORTS)


def test_parameters_parse_default_and_refuse():
    rep = reports.get("daily_sales")
    values = reports.resolve(rep, {"to": "2026-11-22"})
    assert values == {"store_id": "", "scope": [], "to": date(2026, 11, 22), "from": date(2026, 11, 16)}
    assert reports.resolve(rep, {"scope": "s1, s2,"})["scope"] == ["s1", "s2"]
    at = reports.resolve(reports.get("stock_as_of"), {"store_id": "s1", "at": "2026-11-22T18:00:00+05:00"})["at"]
    assert at == datetime(2026, 11, 22, 13, tzinfo=UTC)
    assert reports.bind({"at": at}) == {"at": "2026-11-22 13:00:00.000000"}
    assert reports.resolve(reports.get("low_stock"), {"threshold": "2.5"})["threshold"] == Decimal("2.5")
    with pytest.raises(BadParameter, match="store_id: required"):
        reports.resolve(reports.get("stock_as_of"), {})
    with pytest.raises(BadParameter, match="days"):
        reports.resolve(reports.get("slow_movers"), {"days": "0"})
    with pytest.raises(BadParameter, match="store_id"):
        reports.resolve(rep, {"store_id": "bad store'"})
    with pytest.raises(BadParameter, match="scope"):
        reports.resolve(rep, {"scope": "s1,bad store'"})
    with pytest.raises(UnknownReport):
        reports.get("nope")


def test_values_are_written_exactly():
    from clickhouse import formats
    from clickhouse.reports import Table

    assert formats.value_text(Decimal("2.500"), "Decimal(38, 3)") == "2.5"
    assert formats.value_text(Decimal("5.000"), "Decimal(18, 3)") == "5"
    assert formats.value_text(Decimal("1140.00000"), "Nullable(Decimal(38, 5))") == "1140.00"
    assert formats.value_text(Decimal("152.76950"), "Decimal(38, 5)") == "152.7695"
    assert formats.value_text(Decimal("-0.50"), "Decimal(38, 2)") == "-0.50"
    assert formats.value_text(datetime(2026, 11, 20, 3, 0, 0, 5), "DateTime64(6, 'UTC')") == "2026-11-20T03:00:00.000005+00:00"
    assert formats.value_text(date(2026, 11, 20)) == "2026-11-20"
    assert formats.value_text(2**70) == str(2**70)
    table = Table(
        "r",
        {"at": datetime(2026, 1, 1, tzinfo=UTC)},
        ["sku", "on_hand", "ok", "note"],
        ["String", "Decimal(38, 3)", "Bool", "Nullable(String)"],
        [("a,b", Decimal("1.250"), True, None)],
    )
    assert formats.to_csv(table).decode() == 'sku,on_hand,ok,note\n"a,b",1.25,true,\n'
    assert formats.to_text(table.columns, formats.records(table)).splitlines()[2].split() == ["a,b", "1.25", "true"]


def test_bazaar_clickhouse_migrate_and_status(tmp_path):
    """The console command on its own embedded database (a subprocess: chDB opens one path per process)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "BAZAAR_DATA_DIR": str(tmp_path), "BAZAAR_CLICKHOUSE_DSN": ""}

    def bazaar(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bazaar.cli", "clickhouse", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "applied 001_ledger, 002_catalog, 003_views, 004_local_day_portable" in bazaar("migrate")
    assert "nothing (up to date)" in bazaar("migrate")
    assert bazaar("status").splitlines()[0] == "001_ledger: applied"


def test_today_is_the_latest_local_day_of_the_time_zones_named():
    evening = datetime(2026, 11, 22, 20, 30, tzinfo=UTC)  # 01:30 on the 23rd in Karachi
    assert reports.local_today(["Asia/Karachi"], evening) == date(2026, 11, 23)
    assert reports.local_today([None], evening) == date(2026, 11, 22)  # a store the catalog does not know: UTC
    assert reports.local_today(["America/Lima", None], evening) == date(2026, 11, 22)
    assert reports.local_today([None, "America/Lima", "Asia/Karachi"], evening) == date(2026, 11, 23)
    assert reports.local_today(["Not/AZone"], evening) == date(2026, 11, 22)  # unknown: read as UTC, like the SQL
    morning = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    assert reports.local_today(["America/Lima"], morning) == date(2026, 11, 21)


def test_the_default_last_day_is_today_where_the_store_is():
    asked: list[str] = []

    def today(store_id: str) -> date:
        asked.append(store_id)
        return date(2026, 11, 23)

    rep = reports.get("daily_sales")
    assert reports.resolve(rep, {"store_id": "s1"}, today) == {
        "store_id": "s1",
        "scope": [],
        "to": date(2026, 11, 23),
        "from": date(2026, 11, 17),
    }
    assert reports.resolve(rep, {}, today)["to"] == date(2026, 11, 23) and asked == ["s1", ""]
    assert reports.resolve(rep, {"to": "2026-11-20"}, today)["to"] == date(2026, 11, 20) and len(asked) == 2  # given: not asked


def test_store_today_reads_the_catalog_time_zones():
    from clickhouse.rows import STORE_COLUMNS

    db = fresh_database()
    migrate(db)
    db.insert(
        "stores",
        [("khi", "Karachi shop", "Asia/Karachi", "PKR", "ur", True, 1), ("lim", "Lima shop", "America/Lima", "PEN", "es", True, 2)],
        STORE_COLUMNS,
        token="tz-test",
    )
    now = datetime.now(UTC)
    assert reports.store_today(db, "khi") == reports.local_today(["Asia/Karachi"], now)
    assert reports.store_today(db, "lim") == reports.local_today(["America/Lima"], now)
    assert reports.store_today(db, "unknown") == now.date()
    assert reports.store_today(db, "") == reports.local_today([None, "Asia/Karachi", "America/Lima"], now)


def _partition_key(db) -> str:
    return db.query("SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = 'ledger'").result_rows[0][0]


@pytest.mark.parametrize("interrupted_after", [None, 3, 4])
def test_the_ledger_moves_to_yearly_partitions_keeping_its_rows(interrupted_after):
    """An existing database (monthly ledger, rows in it) migrates; a run of 005 interrupted after the
    copy (3 statements) or after the exchange (4) is completed by the next one, no row twice."""
    import json
    import uuid

    from clickhouse.migrate import guard
    from clickhouse.rows import LEDGER_COLUMNS, ledger_rows

    db = fresh_database()
    files = load()
    migrate(db, [m for m in files if m.version < 5])
    assert _partition_key(db) == "toYYYYMM(occurred_at)"
    rows = []
    for i, year in enumerate((2001, 2013, 2026)):
        raw = json.dumps(
            {
                "v": 1,
                "event_id": str(uuid.uuid4()),
                "type": "sale",
                "leg": "out",
                "store_id": "s1",
                "terminal_id": "t1",
                "occurred_at": f"{year}-03-04T10:00:00+05:00",
                "rows": [
                    {
                        "sku": "atta",
                        "quantity": "-1",
                        "amount": "10",
                        "on_hand_before": "5",
                        "on_hand_after": "4",
                        "changed": True,
                        "outcome": "applied",
                    }
                ],
            }
        ).encode()
        rows += [(*r[:-1], "b") for r in ledger_rows(raw, 0, i)]
    before_006 = [c for c in LEDGER_COLUMNS if c not in ("original_event_id", "void_verdict", "void_occurred_at")]  # (added by 006)
    rows = [tuple(v for c, v in zip(LEDGER_COLUMNS, r) if c in before_006) for r in rows]
    db.insert("ledger", rows, before_006, "pre-005")
    [by_year] = [m for m in files if m.version == 5]
    if interrupted_after is not None:  # as migrate() would have run them before the process died
        for statement in by_year.statements()[:interrupted_after]:
            condition = guard(statement)
            if condition is None or db.query(condition).result_rows[0][0]:
                db.command(statement)
    assert [m.version for m in migrate(db, [m for m in files if m.version <= 5])] == [5]
    assert _partition_key(db) == "toYear(occurred_at)"
    assert db.query("SELECT count() FROM ledger").result_rows[0][0] == 3
    assert db.query("SELECT toYear(occurred_at) FROM ledger_first ORDER BY occurred_at").result_rows == [(2001,), (2013,), (2026,)]
    assert (
        db.query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'ledger_by_year'").result_rows[0][0] == 0
    )
    migrate(db)  # the later ones, on a ledger with rows
    assert db.query("SELECT count() FROM ledger_first WHERE original_event_id IS NULL").result_rows[0][0] == 3
    assert migrate(db) == []


def test_guards_are_read_from_the_comments_above_a_statement():
    from clickhouse.migrate import guard

    [stmt] = split_statements("-- why\n-- only if: SELECT 1 = 1\nDROP TABLE IF EXISTS x;\n")
    assert guard(stmt) == "SELECT 1 = 1"
    assert guard("DROP TABLE x -- only if: SELECT 0") is None
    assert guard("-- just a comment\nSELECT 1") is None
