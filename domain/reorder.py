"""A store's reorder list: the products at or under their reorder point, by supplier, with how much
to order in whole packs (pure: catalog models and stock quantities in, lines out).

* The reorder point is the store's override, else the product's; a product with none, or inactive
  at the store, is never on the list (as the ``low_stock`` alert rule).
* The suggestion is the alerts' (``domain.alerts.suggest``, without a sales velocity): up to
  ``reorder_max``, else up to the reorder point, at least ``reorder_min``, rounded up to whole
  packs of the product's largest pack (whole base units without one). A product exactly at its
  point with nothing else asked gets one pack: it is low, and an order of nothing says nothing.
* The supplier is the catalog's, else the one of the product's last purchase at the store, else
  none (that group comes last).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.alerts import Thresholds, suggest
from domain.quantities import MILLI
from schemas.catalog import Pack, Product, StoreProduct


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    names: dict[str, str]
    unit: str
    on_hand: Decimal
    reorder_point: Decimal
    suggested: Decimal  # base units
    pack: Pack | None
    supplier: str | None
    source: str | None  # "catalog", "last_purchase", None

    @property
    def packs(self) -> int | None:
        return None if self.pack is None else int(self.suggested / self.pack.size)


def _milli(q: Decimal | None) -> int | None:
    return None if q is None else int(q * MILLI)


def reorder_point(product: Product, override: StoreProduct | None) -> Decimal | None:
    if override is not None and override.reorder_point is not None:
        return override.reorder_point
    return product.reorder_point


def is_active(product: Product, override: StoreProduct | None) -> bool:
    return override.active if override is not None and override.active is not None else product.active


def line(product: Product, override: StoreProduct | None, on_hand: Decimal, last_supplier: str | None = None) -> Line | None:
    """The product's line when it is low at the store, else None."""
    point = reorder_point(product, override)
    if point is None or on_hand > point or not is_active(product, override):
        return None
    pack = max(product.packs, key=lambda p: p.size, default=None)
    limits = Thresholds(
        reorder_point=_milli(point),
        reorder_min=_milli(product.reorder_min),
        reorder_max=_milli(product.reorder_max),
        pack_size=_milli(pack.size) if pack else None,
        pack_unit=pack.unit if pack else None,
    )
    suggested = suggest(int(on_hand * MILLI), limits, None) or (pack.size if pack else Decimal(1))
    supplier, source = (product.supplier, "catalog") if product.supplier else (last_supplier, "last_purchase" if last_supplier else None)
    return Line(product.sku, product.name, dict(product.names), product.unit, on_hand, point, suggested.normalize(), pack, supplier, source)


def grouped(lines: Iterable[Line]) -> list[tuple[str | None, str | None, list[Line]]]:
    """(supplier, source, lines) by supplier name, case-insensitively (the unnamed last), lines by
    sku. One supplier named by the catalog for some products and by purchases for others is one
    group, whose source is the catalog's; it is shown in its most used spelling (capitals first)."""
    groups: dict[str | None, list[Line]] = {}
    for ln in lines:
        groups.setdefault(ln.supplier.strip().casefold() if ln.supplier else None, []).append(ln)
    out = []
    for key in sorted(groups, key=lambda k: (k is None, k or "")):
        members = sorted(groups[key], key=lambda ln: ln.sku)
        named = [ln for ln in members if ln.source == "catalog"] or members
        spellings = Counter(ln.supplier.strip() for ln in named if ln.supplier)
        name = min(spellings, key=lambda s: (-spellings[s], s)) if spellings else None
        out.append((name, named[0].source, members))
    return out


def build(
    stock: Iterable[tuple[str, Decimal]],
    products: Mapping[str, Product],
    overrides: Mapping[str, StoreProduct],
    last_suppliers: Mapping[str, str],
) -> list[tuple[str | None, str | None, list[Line]]]:
    """The grouped list from (sku, on-hand) pairs; skus the catalog does not know are left out."""
    lines = []
    for sku, on_hand in stock:
        product = products.get(sku)
        if product is None:
            continue
        found = line(product, overrides.get(sku), on_hand, last_suppliers.get(sku))
        if found is not None:
            lines.append(found)
    return grouped(lines)


CSV_COLUMNS = ("supplier", "sku", "name", "unit", "on_hand", "reorder_point", "suggested", "packs", "pack_unit", "pack_size")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # as clickhouse/formats.py: a spreadsheet shows such text, runs none


def plain(q: Decimal | None) -> str:
    """A quantity as the contract writes it: 12, 0.125, -2 (no exponent, no trailing zeros)."""
    return "" if q is None else format(q.normalize(), "f") if q else "0"


def _inert(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(groups: list[tuple[str | None, str | None, list[Line]]]) -> str:
    """One row a line, supplier first (the export a shopkeeper sends or prints): quantities as
    numbers, text inert."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a lone "\r" in a cell: see clickhouse/formats.py
    writer.writerow(CSV_COLUMNS)
    for supplier, _source, lines in groups:
        for ln in lines:
            pack = ln.pack
            row = [
                _inert(supplier or ""),
                _inert(ln.sku),
                _inert(ln.name),
                ln.unit,
                plain(ln.on_hand),
                plain(ln.reorder_point),
                plain(ln.suggested),
                "" if ln.packs is None else str(ln.packs),
                pack.unit if pack else "",
                plain(pack.size) if pack else "",
            ]
            (quoted if any("\r" in c for c in row) else writer).writerow(row)
    return out.getvalue()
