"""A report's table as JSON, CSV or a plain-text table; values as the API writes them.

Decimals are exact strings: quantities (3 places) as plain decimals ("2.125", "5"), money and
other decimals with at least 2 places ("1140.00", "152.7695"); instants are RFC 3339 in UTC;
days ISO dates; NULL is null in JSON and empty in CSV.
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
    writer.writerow(table.columns)
    for rec in records(table):
        writer.writerow(["" if v is None else ("true" if v is True else "false" if v is False else v) for v in rec.values()])
    return out.getvalue().encode()


def to_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """A plain-text table for the terminal (numbers right-aligned)."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [bool(cells) and all(_numeric(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
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
