"""Bulk product import from CSV: every good row becomes a Product, every bad row an error with its line.

Columns (header on line 1, any order; ``sku`` and ``name`` required, the rest optional)::

    sku,name,name_ur,name_hi,barcodes,category,supplier,unit,packs,cost,price,active,
    reorder_point,reorder_min,reorder_max,lead_time_days

* ``name_<lang>``: a name in another language (any ``name_xx`` column; ``name_ur``, ``name_hi``, ...);
* ``barcodes``: ``|`` separated; ``packs``: ``unit:size`` pairs, ``|`` separated (``carton:12|dozen:12``);
* ``unit``: piece (default), kg, g, litre, ml; ``active``: true/false, yes/no, 1/0 (default true);
* decimals are plain (``12.50``, no thousands separators); empty cells mean "not set".

Line numbers are those of the file (a quoted cell may span lines: a row's number is the line it
starts on). A sku seen again later in the file is an error on the later line; the first stands.

``read`` goes through a file row by row (``lines_of`` turns the pieces of a request body into its
lines), so an import holds one row at a time, not the file. A problem found only past the header
(bytes that are not UTF-8, more than ``MAX_ROWS`` rows) ends the file there as a row error: the
rows before it stand.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from schemas.catalog import Product

COLUMNS = (
    "sku",
    "name",
    "name_ur",
    "name_hi",
    "barcodes",
    "category",
    "supplier",
    "unit",
    "packs",
    "cost",
    "price",
    "active",
    "reorder_point",
    "reorder_min",
    "reorder_max",
    "lead_time_days",
)
REQUIRED = ("sku", "name")
DECIMALS = ("cost", "price", "reorder_point", "reorder_min", "reorder_max")
MAX_ROWS = 200_000
_NAME_COLUMN = re.compile(r"^name_[a-z]{2,3}$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


class CsvFileError(ValueError):
    """The file as a whole cannot be read (no header, unknown or missing columns, not UTF-8)."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    sku: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "sku": self.sku, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    product: Product


class _BadCell(ValueError):
    pass


def parse(text: str) -> tuple[list[Row], list[RowError]]:
    """The good rows as products (with their line numbers) and the bad rows' errors, in file order."""
    rows: list[Row] = []
    errors: list[RowError] = []
    for item in read(io.StringIO(text.lstrip("\ufeff"), newline="")):
        if isinstance(item, Row):
            rows.append(item)
        else:
            errors.append(item)
    return rows, errors


def lines_of(chunks: Iterable[bytes]) -> Iterator[str]:
    """Pieces of a UTF-8 file -> its lines, as a file opened with ``newline=""`` gives them (line
    ends kept: ``\\n``, ``\\r\\n`` or ``\\r``), without a byte-order mark. Raises
    UnicodeDecodeError where the bytes stop being UTF-8."""
    decode = codecs.getincrementaldecoder("utf-8-sig")().decode
    pending = ""
    for chunk in chunks:
        pending += decode(chunk)
        lines = io.StringIO(pending, newline="").readlines()
        # the last line may go on in the next piece (one ending in "\r" may be the first half of "\r\n")
        pending = lines.pop() if lines and lines[-1][-1] != "\n" else ""
        yield from lines
    pending += decode(b"", True)
    if pending:
        yield from io.StringIO(pending, newline="").readlines()


def read(lines: Iterable[str]) -> Iterator[Row | RowError]:
    """Each row of the file as a product (with its line number) or an error, in file order;
    CsvFileError when the header cannot be read."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFileError("empty file: expected a header line with at least sku,name") from None
    except csv.Error as exc:
        raise CsvFileError(f"line 1: {exc}") from None
    except UnicodeDecodeError:
        raise CsvFileError("the file is not UTF-8 text") from None
    columns = _columns(header)
    count = 0
    first_line: dict[str, int] = {}
    end = reader.line_num  # last physical line consumed so far
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(start, None, f"unreadable CSV: {exc}")
            return
        except UnicodeDecodeError:
            yield RowError(start, None, "not UTF-8 text: the rest of the file was not read")
            return
        end = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line
        if count >= MAX_ROWS:
            yield RowError(start, None, f"more than {MAX_ROWS} rows: the rest of the file was not read; split it")
            return
        count += 1
        record = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(columns)}
        sku = record.get("sku") or None
        if len(cells) > len(columns):
            yield RowError(start, sku, f"{len(cells)} cells but the header has {len(columns)} columns")
            continue
        try:
            product = _product(record)
        except _BadCell as exc:
            yield RowError(start, sku, str(exc))
            continue
        if product.sku in first_line:
            yield RowError(start, sku, f"duplicate sku {product.sku!r} (first on line {first_line[product.sku]})")
            continue
        first_line[product.sku] = start
        yield Row(start, product)


def _columns(header: list[str]) -> list[str]:
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in COLUMNS and not _NAME_COLUMN.match(n)]
    if unknown:
        raise CsvFileError(f"line 1: unknown column(s) {', '.join(repr(u) for u in unknown)}; known: {', '.join(COLUMNS)}")
    missing = [r for r in REQUIRED if r not in names]
    if missing:
        raise CsvFileError(f"line 1: missing column(s) {', '.join(missing)}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CsvFileError(f"line 1: column(s) {', '.join(dupes)} appear more than once")
    return names


def _product(record: dict[str, str]) -> Product:
    body: dict[str, Any] = {}
    if not record.get("sku"):
        raise _BadCell("sku: required")
    if not record.get("name"):
        raise _BadCell("name: required")
    body["sku"], body["name"] = record["sku"], record["name"]
    body["names"] = {col[5:]: v for col, v in record.items() if _NAME_COLUMN.match(col) and v}
    if record.get("barcodes"):
        body["barcodes"] = [b.strip() for b in record["barcodes"].split("|") if b.strip()]
    for col in ("category", "supplier", "unit"):
        if record.get(col):
            body[col] = record[col]
    if record.get("packs"):
        body["packs"] = _packs(record["packs"])
    for col in DECIMALS:
        if record.get(col):
            body[col] = _decimal(col, record[col])
    if record.get("active"):
        body["active"] = _bool(record["active"])
    if record.get("lead_time_days"):
        if not record["lead_time_days"].isdigit():
            raise _BadCell(f"lead_time_days: {record['lead_time_days']!r} is not a whole number of days")
        body["lead_time_days"] = int(record["lead_time_days"])
    try:
        return Product.model_validate(body)
    except ValidationError as exc:
        raise _BadCell(_reason(exc)) from None


def _decimal(col: str, raw: str) -> Decimal:
    if not _DECIMAL.match(raw):
        raise _BadCell(f"{col}: {raw!r} is not a decimal number (write it like 12.50)")
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise _BadCell(f"{col}: {raw!r} is not a decimal number") from None


def _bool(raw: str) -> bool:
    v = raw.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise _BadCell(f"active: {raw!r} is not true or false")


def _packs(raw: str) -> list[dict[str, Any]]:
    packs = []
    for part in raw.split("|"):
        part = part.strip()
        unit, sep, size = part.partition(":")
        if not sep or not unit.strip() or not size.strip():
            raise _BadCell(f"packs: {part!r} is not unit:size (e.g. carton:12|dozen:12)")
        if not _DECIMAL.match(size.strip()):
            raise _BadCell(f"packs: size {size.strip()!r} of {unit.strip()!r} is not a decimal number")
        packs.append({"unit": unit.strip().lower(), "size": Decimal(size.strip())})
    return packs


def _reason(exc: ValidationError) -> str:
    """First pydantic error as "field: reason", in the words of the CSV (unit, packs, price, ...)."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error" and loc == ["unit"]:
            msg = f"{err['input']!r} is not one of piece, kg, g, litre, ml"
        elif err["type"] == "decimal_max_places":
            msg = f"at most {err['ctx']['decimal_places']} decimal places"
        elif err["type"] == "string_pattern_mismatch":
            msg = f"{err['input']!r} may hold only letters, digits and . _ : - (up to 64)"
            if loc and loc[0] == "packs":
                msg = f"pack unit {err['input']!r} must be lowercase letters, digits, _ or -"
        field = ".".join(loc[:1]) if loc else ""
        parts.append(f"{field}: {msg}" if field else msg)
    return "; ".join(parts)
