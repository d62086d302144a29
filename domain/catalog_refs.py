"""The catalog's rule at ingest: unknown references, and pack/measure conversion to base units.

* A store is **managed** once it is registered (``PUT /v1/stores/{id}``); with ``strict`` every store
  is, and an unregistered one is refused. An event whose store, or a transfer's receiving store,
  is managed may name only skus in the catalog: any other sku is refused, naming ``lines[i].sku``.
* Events of unregistered stores are accepted as they are (a shop can start without a catalog);
  the stores and unknown skus they name are reported back as ``uncatalogued``.
* A line with a ``unit`` other than the product's base unit is converted: ``quantity`` becomes the
  exact base quantity, ``unit`` the base unit, and ``entered_quantity``/``entered_unit`` keep what
  the terminal sent. Money fields stay per *entered* unit. An unknown unit, a unit on a line whose
  product is not in the catalog, or a base quantity needing more than 3 decimals is refused, as is
  a base quantity past the contract's bound (``schemas.events.MAX_LINE_QUANTITY``), naming
  ``lines[i].quantity``.

Pure: the catalog is anything with ``product(sku)`` and ``has_store(store_id)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Protocol

from pydantic import ValidationError

from domain.catalog import ConversionError, normalize_unit, to_base
from schemas.catalog import Product
from schemas.events import Event, Line, Transfer, quantity_issue

SERVER_LINE_FIELDS = ("entered_quantity", "entered_unit")
_server_fields = attrgetter(*SERVER_LINE_FIELDS)
_UNSET = (None,) * len(SERVER_LINE_FIELDS)


class CatalogReader(Protocol):
    def product(self, sku: str) -> Product | None: ...

    def has_store(self, store_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Issue:
    index: int | None
    field: str
    reason: str


@dataclass
class Uncatalogued:
    """What a request's events named that the catalog lacks, counted for the uncatalogued listing:
    ``events`` naming an unregistered store (each once), per unregistered store the events naming
    it, per (store, sku) the events naming both where the catalog lacks the sku. Counted as the
    events are checked, with no object per event."""

    events: int = 0
    stores: dict[str, int] = field(default_factory=dict)
    skus: dict[tuple[str, str], int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.events > 0

    def add(self, store_ids: Sequence[str], unknown: set[str]) -> None:
        """One event of the unregistered ``store_ids`` (a transfer names two) with ``unknown`` skus."""
        self.events += 1
        stores, skus = self.stores, self.skus
        for store_id in store_ids:
            stores[store_id] = stores.get(store_id, 0) + 1
            for sku in unknown:
                skus[store_id, sku] = skus.get((store_id, sku), 0) + 1


@dataclass
class Checked:
    events: list[Event] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    uncatalogued: Uncatalogued = field(default_factory=Uncatalogued)


def without_server_fields(event: Event) -> Event:
    """Drop what only the server may set on a line (``entered_*``), as the terminal's input is ignored there."""
    for line in event.lines:  # (a plain loop: this runs for every posted event)
        if _server_fields(line) != _UNSET:
            break
    else:
        return event
    lines = [line.model_copy(update=dict.fromkeys(SERVER_LINE_FIELDS)) for line in event.lines]
    return event.model_copy(update={"lines": lines})


def check(events: Sequence[Event], catalog: CatalogReader, *, strict: bool, batch: bool) -> Checked:
    out = Checked()
    for i, event in enumerate(events):
        converted, issues, unknown = check_event(event, catalog, strict=strict, index=i if batch else None)
        out.events.append(converted)
        out.issues.extend(issues)
        if unknown is not None:
            out.uncatalogued.add(*unknown)
    return out


def check_event(
    event: Event, catalog: CatalogReader, *, strict: bool, index: int | None
) -> tuple[Event, list[Issue], tuple[tuple[str, ...], set[str]] | None]:
    """(the event to produce, its issues, and if no store it names is managed -- the event is then
    uncatalogued -- those store ids and the skus the catalog lacks, else None)."""
    issues: list[Issue] = []
    stores = [("store_id", event.store_id)]
    if isinstance(event, Transfer):
        stores.append(("to_store_id", event.to_store_id))
    registered = {s: catalog.has_store(s) for _, s in stores}
    if strict:
        for name, s in stores:
            if not registered[s]:
                issues.append(Issue(index, name, f"unknown store {s!r}: register it with PUT /v1/stores/{s}"))
    managed = strict or any(registered.values())
    lines, unknown, changed = [], set(), False
    event_lines: Sequence[Line] = event.lines  # (enumerate over the union of list types would join them to BaseModel)
    for i, line in enumerate(event_lines):
        product = catalog.product(line.sku)
        if product is None:
            if managed:
                issues.append(Issue(index, f"lines[{i}].sku", f"unknown sku {line.sku!r}: add it with PUT /v1/products/{line.sku}"))
            elif line.unit is not None:
                issues.append(
                    Issue(
                        index,
                        f"lines[{i}].unit",
                        f"unit {line.unit!r} needs sku {line.sku!r} in the catalog: add it with PUT /v1/products/{line.sku}",
                    )
                )
            unknown.add(line.sku)
            lines.append(line)
            continue
        try:
            out = convert_line(line, product)
        except ConversionError as exc:
            issues.append(Issue(index, f"lines[{i}].{exc.field}", exc.reason))
            continue
        if line.unit is not None:  # in base units only now (the contract bounded a line without a unit already)
            why = quantity_issue(out.quantity, product.unit)
            if why is not None:
                entered = f"{line.quantity} {line.unit} is " if out is not line else ""
                issues.append(Issue(index, f"lines[{i}].quantity", f"{entered}{why}"))
                continue
        changed = changed or out is not line
        lines.append(out)
    # a refused line leaves the event unchanged (the request is refused anyway); otherwise a new
    # event only when a line was converted (identity, not model equality: that compared every field)
    converted = event.model_copy(update={"lines": lines}) if changed and not issues else event
    return converted, issues, None if managed else (tuple(s for _, s in stores), unknown)


def convert_line(line: Line, product: Product) -> Line:
    """The line in the product's base unit (the same line when it already is)."""
    if line.unit is None:
        return line
    if normalize_unit(line.unit) == product.unit:
        return line if line.unit == product.unit else line.model_copy(update={"unit": product.unit})
    base = to_base(product, line.quantity, line.unit)
    body = {
        **line.model_dump(exclude_none=True),
        "quantity": base,
        "unit": product.unit,
        "entered_quantity": line.quantity,
        "entered_unit": line.unit,
    }
    try:
        return type(line).model_validate(body)
    except ValidationError as exc:
        raise ConversionError(
            "quantity", f"{line.quantity} {line.unit} in {product.unit}: {exc.errors(include_url=False)[0]['msg']}"
        ) from None
