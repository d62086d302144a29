"""Text clients sent leaves inert: CSV cells no spreadsheet takes for a formula, terminal tables
without control characters (clickhouse/formats.py, bazaar report)."""

from __future__ import annotations

import argparse
import csv
import io
from decimal import Decimal

import httpx
import orjson
import pytest

from bazaar import report_cmd
from clickhouse import formats
from clickhouse.reports import Table

pytestmark = pytest.mark.unit

HOSTILE = ['=HYPERLINK("http://x","click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31mpos-1\x9b0m\u202ecba"


def table(rows: list[tuple]) -> Table:
    return Table(
        "movement_history",
        {},
        ["actor", "terminal_id", "quantity", "count", "note"],
        ["Nullable(String)", "LowCardinality(String)", "Decimal(38, 3)", "Int64", "String"],
        rows,
    )


def cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


@pytest.mark.parametrize("text", HOSTILE)
def test_a_text_cell_that_a_spreadsheet_would_run_gets_a_quote(text):
    [_, row] = cells(formats.to_csv(table([(text, text, Decimal("1"), 1, text)])))
    assert row[0] == row[1] == row[4] == "'" + text
    assert row[2:4] == ["1", "1"]


def test_negative_numbers_stay_numbers_and_plain_text_stays_as_it_is():
    [_, row] = cells(formats.to_csv(table([("asif", "pos-1", Decimal("-2.000"), -2, "-2")])))
    assert row == ["asif", "pos-1", "-2", "-2", "'-2"]  # a text column's "-2" is text: quoted like any other
    [_, row] = cells(formats.to_csv(table([(None, "a=b", Decimal("0"), 0, "")])))
    assert row == ["", "a=b", "0", "0", ""]


@pytest.mark.parametrize(
    "type_name, number",
    [
        ("Int64", True),
        ("UInt32", True),
        ("Float64", True),
        ("Decimal(38, 2)", True),
        ("Nullable(Decimal(38, 5))", True),
        ("String", False),
        ("LowCardinality(Nullable(String))", False),
        ("Date", False),
        ("UUID", False),
    ],
)
def test_number_types(type_name, number):
    assert formats.is_number_type(type_name) is number


def test_the_terminal_table_has_no_control_characters():
    text = formats.to_text(["terminal_id", "quantity"], [{"terminal_id": ESCAPES, "quantity": "-2"}])
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\u202e" not in text
    assert "pos-1" in text and "-2" in text


def test_bazaar_report_prints_no_escape_sequences(monkeypatch, capsys):
    body = {
        "report": "movement_history",
        "params": {"store_id": "s1\x1b[2J"},
        "columns": [{"name": "terminal_id", "type": "String"}, {"name": "actor", "type": "String"}],
        "rows": [{"terminal_id": ESCAPES, "actor": "=cmd"}],
    }
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:  # the API's token route, and the analytics process
        seen.append(request)
        if request.url.path == "/v1/auth/token":
            return httpx.Response(200, json={"access_token": "t0k", "token_type": "Bearer", "expires_in": 900})
        return httpx.Response(200, content=orjson.dumps(body))

    transport = httpx.MockTransport(answer)
    real = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real(transport=transport, **kw))
    monkeypatch.setenv("BAZAAR_API_KEY", "bzk_000000000000_" + "x" * 43)
    args = argparse.Namespace(
        name="movement_history",
        list=False,
        store_id="s1",
        sku=None,
        from_=None,
        to=None,
        date=None,
        at=None,
        days=None,
        limit=None,
        param=[],
        format="table",
        url="http://analytics.test",
    )
    assert report_cmd.run(args) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "pos-1" in out and "=cmd" in out
    assert seen[-1].headers["authorization"] == "Bearer t0k"  # the report was asked with the exchanged token


def test_money_is_rounded_to_paisa_in_csv_and_table_and_exact_in_json():
    from decimal import Decimal

    from clickhouse.formats import ROUNDING_NOTE, to_csv, to_json, to_text
    from clickhouse.reports import Table

    table = Table(
        report="daily_sales",
        params={},
        columns=["day", "units", "revenue", "gross_margin"],
        types=["Date", "Decimal(38, 3)", "Decimal(38, 4)", "Nullable(Decimal(38, 4))"],
        rows=[[None, Decimal("12.125"), Decimal("41341.8965"), Decimal("0.0050")], [None, Decimal("1"), Decimal("-2.3450"), None]],
    )
    csv_rows = to_csv(table).decode().splitlines()
    assert csv_rows[1] == ",12.125,41341.90,0.01"  # half up: 0.005 -> 0.01
    assert csv_rows[2] == ",1,-2.35,"  # half up away from zero
    assert orjson.loads(to_json(table))["rows"][0]["revenue"] == "41341.8965"
    text = to_text(["units", "revenue"], [{"units": "12.125", "revenue": "41341.8965"}])
    assert "41341.90" in text and "41341.8965" not in text and text.endswith(f"({ROUNDING_NOTE})")
    assert "rounded" not in to_text(["units"], [{"units": "2"}])
