"""The streamed catalog import (api/catalog_import.py): batches as the body arrives, errors in line
order, bounded listing, a refused header stores nothing."""

from __future__ import annotations

import asyncio

import pytest

from api import catalog_import
from domain.catalog_csv import CsvFileError, RowError

pytestmark = pytest.mark.unit


async def pieces(data: bytes, size: int, arrived: list[int]):
    for at in range(0, len(data), size):
        arrived.append(at + size)
        await asyncio.sleep(0)
        yield data[at : at + size]


def run(data: bytes, size: int = 7, fail: set[str] = frozenset()):
    arrived: list[int] = []
    batches: list[tuple[int, list[str]]] = []  # (bytes arrived when stored, skus)

    async def store(batch):
        batches.append((len(arrived), [r.row.product.sku for r in batch]))
        return [RowError(r.row.line, r.row.product.sku, "not stored") for r in batch if r.row.product.sku in fail]

    report = asyncio.run(catalog_import.run(pieces(data, size, arrived), store))
    return report, batches, len(arrived)


def test_rows_are_stored_in_batches_while_the_body_still_arrives(monkeypatch):
    monkeypatch.setattr(catalog_import, "BATCH_ROWS", 10)
    data = ("sku,name\n" + "".join(f"p{i:03d},Product {i}\n" for i in range(35))).encode()
    report, batches, total = run(data, size=16)
    assert [len(skus) for _, skus in batches] == [10, 10, 10, 5]
    assert batches[0][0] < total  # the first batch was stored before the last piece came
    assert (report.imported, report.errors) == (35, [])


def test_errors_in_line_order_with_failed_writes_among_them(monkeypatch):
    monkeypatch.setattr(catalog_import, "BATCH_ROWS", 2)
    data = b"sku,name,unit\na,A,kg\nb,B,tons\nc,C,g\nd,D,\na,Again,\ne,E,\n"
    report, _, _ = run(data, fail={"c", "e"})
    assert report.imported == 2  # a and d
    assert [(e.line, e.sku) for e in report.errors] == [(3, "b"), (4, "c"), (6, "a"), (7, "e")]


def test_errors_past_the_listed_ones_are_counted(monkeypatch):
    monkeypatch.setattr(catalog_import, "LISTED_ERRORS", 3)
    data = ("sku,name,unit\n" + "".join(f"p{i},P,tons\n" for i in range(8))).encode()
    report, _, _ = run(data, size=64)
    assert report.as_dict()["more_errors"] == 5 and len(report.as_dict()["errors"]) == 3


def test_a_refused_header_stores_nothing():
    with pytest.raises(CsvFileError):
        run(b"sku,colour\nx,red\n")
    report, batches, _ = run(b"sku,name\n")
    assert batches == [] and report.as_dict() == {"imported": 0, "errors": []}
