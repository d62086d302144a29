"""A report's table as JSON, CSV or a plain-text table; values as the API writes them.

Decimals are exact strings: quantities (3 places) as plain decimals ("2.125", "5"), money and
other decimals with at least 2 places ("1140.00", "152.7695"); instants are RFC 3339 in UTC;
days ISO dates; NULL is null in JSON and empty in CSV.

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
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import orjson

from clickhouse.reports import Table

_SCALE = re.compile(r"Decimal\(\d+,\s*(\d+)\)")
# ClickHouse's number types, also inside Nullable(...) / LowCardinality(...)
_NUMBER_TYPE = re.compile(r"^(?:(?:Nullable|LowCardinality)\()*(?:U?Int\d+|Float\d+|Decimal)")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def value_text(value: Any, type_name: str = "") -> Any:
    """A JSON-ready value: str for decimals and times, as is for numbers, bools, strings and None."""
    if isinstance(value, Decimal):
        return decimal_text(value, _scale(type_name))
    if isinstance(value, datetime):
        if value.tzinfo is None:  # DateTime64(6, 'UTC') columns come back naive, in UTC
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat()
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


def records(table: Table) -> list[dict[str, Any]]:
    return [{c: value_text(v, t) for c, t, v in zip(table.columns, table.types, row)} for row in table.rows]


def params_text(table: Table) -> dict[str, Any]:
    return {k: value_text(v) for k, v in table.params.items()}


def to_json(table: Table) -> bytes:
    return orjson.dumps({
        "report": table.report,
        "params": params_text(table),
        "columns": [{"name": c, "type": t} for c, t in zip(table.columns, table.types)],
        "rows": records(table),
    })


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # Python 3.11's writer quotes a cell holding "\n" (the line end) but not one holding a lone "\r",
    # which a reader takes for a line end: such a row is written with every cell quoted
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow([csv_text(c) for c in table.columns])
    numeric = [is_number_type(t) for t in table.types]
    for rec in records(table):
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
    """A plain-text table for the terminal (numbers right-aligned), without control characters."""
    cells = [[terminal_safe(_cell(r.get(c))) for c in columns] for r in rows]
    names = [terminal_safe(c) for c in columns]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(names)]
    numeric = [bool(cells) and all(_numeric(row[i]) for row in cells) for i in range(len(names))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(names, widths)), "  ".join("-" * w for w in widths)]
    for row in cells:
        lines.append("  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(row, widths, numeric)).rstrip())
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _numeric(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text)) or text == ""
