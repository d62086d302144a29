"""Pack and measure conversion at ingest, and the unknown-reference rule (pure)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from domain.catalog import ConversionError, effective, to_base
from domain.catalog_refs import check, without_server_fields
from domain.events import digest
from schemas.catalog import Product, Store, StoreProduct
from schemas.events import EventAdapter

pytestmark = pytest.mark.unit

SOAP = Product(sku="soap", name="Soap", unit="piece", packs=[{"unit": "carton", "size": "12"}, {"unit": "dozen", "size": "12"}])
RICE = Product(sku="rice", name="Rice", unit="kg", packs=[{"unit": "bag", "size": "5"}])
MILK = Product(sku="milk", name="Milk", unit="litre")


class Catalog:
    def __init__(self, products=(SOAP, RICE, MILK), stores=("managed",)):
        self.products = {p.sku: p for p in products}
        self.stores = set(stores)

    def product(self, sku):
        return self.products.get(sku)

    def has_store(self, store_id):
        return store_id in self.stores


def test_carton_of_12_is_12_pieces():
    assert to_base(SOAP, Decimal(1), "carton") == 12
    assert to_base(SOAP, Decimal(3), "Dozen") == 36


def test_grams_of_a_kg_product():
    assert to_base(RICE, Decimal(500), "g") == Decimal("0.5")
    assert to_base(RICE, Decimal("1.5"), "bag") == Decimal("7.5")
    assert to_base(MILK, Decimal(250), "ml") == Decimal("0.25")


def test_half_a_gram_of_a_kg_product_is_refused():
    with pytest.raises(ConversionError) as exc:
        to_base(RICE, Decimal("0.5"), "g")
    assert exc.value.field == "quantity"
    assert exc.value.reason == "0.5 g is 0.0005 kg: more than 3 decimal places of kg"


def test_unknown_unit_is_refused():
    with pytest.raises(ConversionError) as exc:
        to_base(SOAP, Decimal(1), "litre")
    assert exc.value.field == "unit" and "one of piece, carton, dozen" in exc.value.reason


def event(store="managed", lines=None, **over):
    body = {
        "event_id": str(uuid.uuid4()),
        "type": "purchase",
        "supplier": "s",
        "store_id": store,
        "terminal_id": "t",
        "occurred_at": "2026-11-22T09:30:00+05:00",
        "lines": lines or [{"sku": "soap", "quantity": "1", "unit": "carton", "unit_cost": "600.00"}],
    }
    body.update(over)
    return EventAdapter.validate_python(body)


def test_lines_are_converted_and_keep_what_was_entered():
    e = event(
        lines=[
            {"sku": "soap", "quantity": "1", "unit": "carton", "unit_cost": "600.00"},
            {"sku": "rice", "quantity": "500", "unit": "g", "unit_cost": "0.25"},
            {"sku": "milk", "quantity": "2", "unit_cost": "300"},
        ]
    )
    out = check([e], Catalog(), strict=False, batch=False)
    assert out.issues == []
    soap, rice, milk = out.events[0].lines
    assert (soap.quantity, soap.unit, soap.entered_quantity, soap.entered_unit, soap.unit_cost) == (
        12,
        "piece",
        1,
        "carton",
        Decimal("600.00"),
    )
    assert (rice.quantity, rice.unit, rice.entered_quantity, rice.entered_unit) == (Decimal("0.5"), "kg", 500, "g")
    assert milk == e.lines[2]  # no unit: untouched


def test_unknown_sku_at_a_managed_store_names_the_line():
    e = event(lines=[{"sku": "soap", "quantity": "1", "unit_cost": "1"}, {"sku": "ghee", "quantity": "1", "unit_cost": "1"}])
    out = check([e, e], Catalog(), strict=False, batch=True)
    assert [(i.index, i.field, i.reason) for i in out.issues] == [
        (0, "lines[1].sku", "unknown sku 'ghee': add it with PUT /v1/products/ghee"),
        (1, "lines[1].sku", "unknown sku 'ghee': add it with PUT /v1/products/ghee"),
    ]


def test_transfer_to_a_managed_store_checks_skus():
    e = event(store="corner", type="transfer", to_store_id="managed", lines=[{"sku": "ghee", "quantity": "1"}])
    assert [i.field for i in check([e], Catalog(), strict=False, batch=False).issues] == ["lines[0].sku"]


def test_unregistered_store_is_accepted_and_reported():
    e = event(
        store="corner", lines=[{"sku": "ghee", "quantity": "1", "unit_cost": "1"}, {"sku": "soap", "quantity": "1", "unit_cost": "1"}]
    )
    out = check([e], Catalog(), strict=False, batch=False)
    assert out.issues == [] and out.events == [e]
    counted = out.uncatalogued
    assert (counted.events, counted.stores, counted.skus) == (1, {"corner": 1}, {("corner", "ghee"): 1})


def test_uncatalogued_counts_each_event_once_per_store_and_unknown_sku():
    sale = event(
        store="corner",
        lines=[
            {"sku": "ghee", "quantity": "1", "unit_cost": "1"},
            {"sku": "ghee", "quantity": "2", "unit_cost": "1"},
            {"sku": "soap", "quantity": "1", "unit_cost": "1"},
        ],
    )
    transfer = event(store="corner", type="transfer", to_store_id="kiosk", lines=[{"sku": "tea", "quantity": "1"}])
    registered = event(store="managed", lines=[{"sku": "soap", "quantity": "1", "unit_cost": "1"}])
    out = check([sale, transfer, registered, sale], Catalog(), strict=False, batch=True)
    assert out.issues == []
    counted = out.uncatalogued
    assert counted.events == 3  # the managed store's event is not uncatalogued
    assert counted.stores == {"corner": 3, "kiosk": 1}
    assert counted.skus == {("corner", "ghee"): 2, ("corner", "tea"): 1, ("kiosk", "tea"): 1}


def test_unit_on_an_uncatalogued_sku_is_refused():
    e = event(store="corner", lines=[{"sku": "ghee", "quantity": "1", "unit": "tin", "unit_cost": "1"}])
    [issue] = check([e], Catalog(), strict=False, batch=False).issues
    assert issue.field == "lines[0].unit" and "needs sku 'ghee' in the catalog" in issue.reason


def test_unknown_unit_and_too_fine_quantity_are_refused():
    e = event(
        lines=[
            {"sku": "soap", "quantity": "1", "unit": "tin", "unit_cost": "1"},
            {"sku": "rice", "quantity": "0.5", "unit": "g", "unit_cost": "1"},
        ]
    )
    assert [i.field for i in check([e], Catalog(), strict=False, batch=False).issues] == ["lines[0].unit", "lines[1].quantity"]


def test_strict_refuses_unregistered_stores():
    e = event(store="corner", type="transfer", to_store_id="other", lines=[{"sku": "soap", "quantity": "1"}])
    issues = check([e], Catalog(), strict=True, batch=False).issues
    assert [(i.field, i.reason) for i in issues] == [
        ("store_id", "unknown store 'corner': register it with PUT /v1/stores/corner"),
        ("to_store_id", "unknown store 'other': register it with PUT /v1/stores/other"),
    ]


def test_entered_fields_from_a_terminal_are_ignored_and_digest_is_of_the_posted_event():
    e = event(lines=[{"sku": "soap", "quantity": "1", "unit": "carton", "unit_cost": "1", "entered_quantity": "99", "entered_unit": "x"}])
    posted = without_server_fields(e)
    assert posted.lines[0].entered_quantity is None
    plain = event(lines=[{"sku": "soap", "quantity": "1", "unit": "carton", "unit_cost": "1"}], event_id=str(e.event_id))
    assert digest(posted) == digest(plain)
    converted = check([posted], Catalog(), strict=False, batch=False).events[0]
    assert digest(converted) != digest(posted)  # why the API sends the posted event's digest


def test_an_event_without_server_fields_is_passed_on_as_it_is_and_either_field_alone_is_dropped():
    plain = event(lines=[{"sku": "soap", "quantity": "1", "unit_cost": "1"}, {"sku": "rice", "quantity": "2", "unit_cost": "3"}])
    assert without_server_fields(plain) is plain
    for field, value in (("entered_unit", "carton"), ("entered_quantity", "2")):
        e = event(
            lines=[{"sku": "soap", "quantity": "1", "unit_cost": "1"}, {"sku": "rice", "quantity": "2", "unit_cost": "3", field: value}]
        )
        posted = without_server_fields(e)
        assert posted is not e
        assert [(line.entered_quantity, line.entered_unit) for line in posted.lines] == [(None, None), (None, None)]
        assert digest(posted) == digest(plain.model_copy(update={"event_id": e.event_id}))


def test_overrides_replace_price_reorder_point_and_active():
    p = Product(sku="soap", name="Soap", price="100.00", reorder_point="10")
    o = StoreProduct(store_id="s1", sku="soap", price="95.50", active=False)
    view = effective(p, o, "s1")
    assert (view["price"], view["reorder_point"], view["active"], view["overridden"]) == ("95.5", "10", False, ["price", "active"])
    assert effective(p, None, "s1")["price"] == "100"
    assert Store(store_id="s1", name="S").timezone == "Asia/Karachi"
