"""A report's table as JSON, CSV or a plain-text table; values as the API writes them.

Decimals are exact strings: quantities (3 places) as plain decimals ("2.125", "5"), money and
other decimals with at least 2 places ("1140.00", "152.7695"); instants are RFC 3339 in UTC;
days ISO dates; NULL is null in JSON and empty in CSV.

JSON keeps every value exact. The CSV and the terminal table show money (``MONEY_COLUMNS``) as the
currency writes it, rounded half up to 2 decimal places (paisa), so ``41341.8965`` reads
``41341.90``. They say so: the table ends with ``ROUNDING_NOTE``, and a CSV answer of the API carries
it in its ``X-Bazaar-Rounding`` header (the CSV's own header row stays the column names).

Text that came from a client (an actor, a terminal id, a note) is made inert on the way out:

* CSV: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be
  read as a formula by a spreadsheet (``=HYPERLINK(...)``), so it gets a single quote in front
  (OWASP's rule for CSV injection). Only text columns: a number column's ``-2`` is a number, not a
  formula, and stays as it is; a text column's ``-2`` is quoted like any other text.
* The terminal table (``to_text``, ``terminal_safe``): control characters (escape sequences that
  would move the cursor, recolour or retitle the terminal; C1 controls; bidirectional overrides
  that reorder what is shown) are removed.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson

from clickhouse.reports import Table

_SCALE = re.compile(r"Decimal\(\d+,\s*(\d+)\)")
# ClickHouse's number types, also inside Nullable(...) / LowCardinality(...)
_NUMBER_TYPE = re.compile(r"^(?:(?:Nullable|LowCardinality)\()*(?:U?Int\d+|Float\d+|Decimal)")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MONEY_COLUMNS = frozenset({"revenue", "cogs", "gross_margin", "value", "refunds", "net_revenue"})
MONEY_PLACES = Decimal("0.01")
ROUNDING_NOTE = "money (revenue, cogs, gross_margin, value, refunds, net_revenue) rounded half up to 0.01; --format json keeps exact values"
# C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def value_text(value: Any, type_name: str = "") -> Any:
    """A JSON-ready value: str for decimals and times, as is for numbers, bools, strings and None."""
    if isinstance(value, Decimal):
        return decimal_text(value, _scale(type_name))
    if isinstance(value, datetime):
        if value.tzinfo is None:  # DateTime64(6, 'UTC') columns come back naive, in UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and abs(value) > 2**53:  # Int128 sums: keep them exact in JSON
        return str(value)
    return value


def decimal_text(value: Decimal, scale: int | None) -> str:
    plain = format(value.normalize(), "f") if value else "0"
    if scale == 3:  # quantities, as in the event contract
        return plain
    whole, _, frac = plain.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _scale(type_name: str) -> int | None:
    m = _SCALE.search(type_name)
    return int(m.group(1)) if m else None


def records(table: Table, rounded: bool = False) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts; ``rounded``: money to the currency's 2 places (CSV, table)."""
    money = [rounded and c in MONEY_COLUMNS for c in table.columns]
    return [
        {
            c: (money_text(v) if m and isinstance(v, Decimal) else value_text(v, t))
            for c, t, v, m in zip(table.columns, table.types, row, money)
        }
        for row in table.rows
    ]


def money_text(value: Decimal) -> str:
    return str(value.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP))


def params_text(table: Table) -> dict[str, Any]:
    return {k: value_text(v) for k, v in table.params.items()}


def to_json(table: Table) -> bytes:
    return orjson.dumps(
        {
            "report": table.report,
            "params": params_text(table),
            "columns": [{"name": c, "type": t} for c, t in zip(table.columns, table.types)],
            "rows": records(table),
        }
    )


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # Python 3.11's writer quotes a cell holding "\n" (the line end) but not one holding a lone "\r",
    # which a reader takes for a line end: such a row is written with every cell quoted
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow([csv_text(c) for c in table.columns])
    numeric = [is_number_type(t) for t in table.types]
    for rec in records(table, rounded=True):
        row = [csv_cell(v, n) for v, n in zip(rec.values(), numeric)]
        (quoted if any("\r" in c for c in row) else writer).writerow(row)
    return out.getvalue().encode()


def is_number_type(type_name: str) -> bool:
    return bool(_NUMBER_TYPE.match(type_name))


def csv_cell(value: Any, numeric: bool) -> str:
    """A CSV cell: empty for NULL, true/false, a number column's value as is, any other text inert."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value) if numeric else csv_text(str(value))


def csv_text(text: str) -> str:
    """Text a spreadsheet will not take for a formula (a single quote in front of one)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def terminal_safe(text: str) -> str:
    """``text`` without control characters (see the module docstring)."""
    return _CONTROL.sub("", text)


def to_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """A plain-text table for the terminal (numbers right-aligned, money to 2 places), without
    control characters; a line under it says how money was rounded, when there was any."""
    cells = [[terminal_safe(_money_cell(r.get(c)) if c in MONEY_COLUMNS else _cell(r.get(c))) for c in columns] for r in rows]
    names = [terminal_safe(c) for c in columns]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(names)]
    numeric = [bool(cells) and all(_numeric(row[i]) for row in cells) for i in range(len(names))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(names, widths)), "  ".join("-" * w for w in widths)]
    for row in cells:
        lines.append("  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(row, widths, numeric)).rstrip())
    if MONEY_COLUMNS.intersection(columns):
        lines.append(f"({ROUNDING_NOTE})")
    return "\n".join(lines)


def _money_cell(value: Any) -> str:
    try:
        return money_text(Decimal(str(value))) if value is not None else ""
    except ArithmeticError:  # not a number after all: shown as it is
        return _cell(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _numeric(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text)) or text == ""
