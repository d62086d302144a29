"""CSV import: good rows become products, each bad row is reported with its line number."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import catalog_csv
from domain.catalog_csv import CsvFileError, Row, RowError, lines_of, parse, read

pytestmark = pytest.mark.unit

HEADER = "sku,name,name_ur,name_hi,barcodes,category,unit,packs,cost,price,active,reorder_point,reorder_min,reorder_max,lead_time_days\n"


def test_a_full_row():
    rows, errors = parse(HEADER + "rice,Basmati rice,چاول,चावल,8961|8962,grains,kg,bag:5|sack:25,180.00,220.50,yes,10,5,50,3\n")
    assert errors == []
    [row] = rows
    p = row.product
    assert row.line == 2
    assert (p.sku, p.name, p.names, p.barcodes, p.category, p.unit) == (
        "rice",
        "Basmati rice",
        {"ur": "چاول", "hi": "चावल"},
        ["8961", "8962"],
        "grains",
        "kg",
    )
    assert [(k.unit, k.size) for k in p.packs] == [("bag", Decimal(5)), ("sack", Decimal(25))]
    assert (p.cost, p.price, p.active) == (Decimal("180.00"), Decimal("220.50"), True)
    assert (p.reorder_point, p.reorder_min, p.reorder_max, p.lead_time_days) == (10, 5, 50, 3)


def test_bad_rows_are_reported_with_their_line_numbers():
    text = (
        HEADER
        + "ok-1,Good one,,,,,piece,carton:12,,,,,,,\n"  # 2
        + "oil,Cooking oil,,,,,litres,,,,,,,,\n"  # 3 bad unit
        + "sugar,Sugar,,,,,kg,,12.5.0,,,,,,\n"  # 4 bad decimal
        + "nameless,,,,,,,,,,,,,,\n"  # 5 missing name
        + "ok-1,Again,,,,,,,,,,,,,\n"  # 6 duplicate
        + "soap,Soap,,,,,piece,carton12,,,,,,,\n"  # 7 bad packs
        + "\n"  # 8 blank: skipped
        + 'tea,"Tea\nleaves",,,,,piece,,1.234,,,,,,\n'  # 9-10: 3 places of money
        + "ok-2,Good two,,,,,g,,,,no,,,,\n"  # 11
        + "flag,Flag,,,,,,,,,maybe,,,,\n"  # 12 bad bool
        + "lt,Lead,,,,,,,,,,,,,2.5\n"  # 13 bad lead time
    )
    rows, errors = parse(text)
    assert [(r.line, r.product.sku) for r in rows] == [(2, "ok-1"), (11, "ok-2")]
    got = {e.line: (e.sku, e.reason) for e in errors}
    assert sorted(got) == [3, 4, 5, 6, 7, 9, 12, 13]
    assert got[3] == ("oil", "unit: 'litres' is not one of piece, kg, g, litre, ml")
    assert got[4][1].startswith("cost: '12.5.0' is not a decimal number")
    assert got[5] == ("nameless", "name: required")
    assert got[6] == ("ok-1", "duplicate sku 'ok-1' (first on line 2)")
    assert got[7][1].startswith("packs: 'carton12' is not unit:size")
    assert got[9] == ("tea", "cost: at most 2 decimal places")
    assert got[12] == ("flag", "active: 'maybe' is not true or false")
    assert got[13][1].startswith("lead_time_days:")


def test_more_bad_packs_and_quantities():
    rows, errors = parse(
        "sku,name,unit,packs,reorder_point\n"
        "a,A,piece,carton:twelve,\n"
        "b,B,piece,piece:12,\n"
        "c,C,piece,Carton:12|carton:6,\n"
        "d,D,kg,,0.0001\n"
        "e,E,piece,box:0,\n"
    )
    assert rows == []
    reasons = {e.line: e.reason for e in errors}
    assert reasons[2] == "packs: size 'twelve' of 'carton' is not a decimal number"
    assert "'piece' is the base unit" in reasons[3]
    assert "each pack unit may appear once" in reasons[4]
    assert reasons[5] == "reorder_point: at most 3 decimal places"
    assert reasons[6].startswith("packs:")


def test_missing_sku_and_extra_cells():
    rows, errors = parse("sku,name\n,No sku\nx,X,extra\n")
    assert rows == []
    assert [(e.line, e.sku, e.reason) for e in errors] == [(2, None, "sku: required"), (3, "x", "3 cells but the header has 2 columns")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty file"),
        ("name,unit\nx,kg\n", "missing column(s) sku"),
        ("sku,name,colour\n", "unknown column(s) 'colour'"),
        ("sku,name,name\n", "appear more than once"),
    ],
)
def test_file_level_errors(text, message):
    with pytest.raises(CsvFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_byte_order_mark_and_any_name_language_column():
    rows, errors = parse("\ufeffsku,name,name_pa\nx,X,ਚੌਲ\n")
    assert errors == [] and rows[0].product.names == {"pa": "ਚੌਲ"}


# ---- read as a stream ----------------------------------------------------------------------------------

CELLS = st.sampled_from(["rice", "چاول", "चावल", "", " x ", '"a,b"', '"two\nlines"', '"q""uote"', "1.50", "kg", "a b", "rice"])
LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.lists(CELLS, min_size=1, max_size=4), LINE_ENDS), max_size=12),
    bom=st.booleans(),
    cuts=st.lists(st.integers(1, 7), max_size=40),
)
def test_a_file_in_pieces_reads_as_the_whole(rows, bom, cuts):
    text = ("\ufeff" if bom else "") + "sku,name,name_ur,unit\n" + "".join(",".join(cells) + end for cells, end in rows)
    data, pieces, at = text.encode(), [], 0
    for n in cuts:  # cut anywhere, inside a multi-byte letter or between "\r" and "\n" too
        pieces.append(data[at : at + n])
        at += n
    pieces.append(data[at:])
    whole_rows, whole_errors = parse(text)
    items = list(read(lines_of(pieces)))
    assert [i for i in items if isinstance(i, Row)] == whole_rows
    assert [i for i in items if isinstance(i, RowError)] == whole_errors


def test_bytes_that_stop_being_utf8_end_the_file_at_their_line():
    items = list(read(lines_of([b"sku,name\nrice,Rice\n", b"sugar,Su\xffgar\nsalt,Salt\n"])))
    assert [i.product.sku for i in items if isinstance(i, Row)] == ["rice"]
    assert items[-1] == RowError(3, None, "not UTF-8 text: the rest of the file was not read")
    with pytest.raises(CsvFileError, match="not UTF-8"):
        list(read(lines_of([b"sku,na\xffme\n"])))


def test_more_rows_than_allowed_end_the_file_with_an_error(monkeypatch):
    monkeypatch.setattr(catalog_csv, "MAX_ROWS", 2)
    rows, errors = parse("sku,name\na,A\n\nb,B\nc,C\nd,D\n")
    assert [r.product.sku for r in rows] == ["a", "b"]
    assert [(e.line, e.reason) for e in errors] == [(5, "more than 2 rows: the rest of the file was not read; split it")]
