"""Product search: names in any language (Urdu, Hindi, Latin), sku and barcode prefixes, paging."""
from __future__ import annotations

import pytest

from domain.catalog_search import Entry, decode_cursor, fold, rank, search
from schemas.catalog import Product

pytestmark = pytest.mark.unit

PRODUCTS = [
    Product(sku="rice-basmati-5kg", name="Basmati Rice 5kg", names={"ur": "باسمتی چاول", "hi": "बासमती चावल"},
            barcodes=["8961000000011"], unit="kg"),
    Product(sku="rice-sella", name="Sella Rice", names={"ur": "سیلا چاول", "hi": "सेला चावल"}, barcodes=["8961000000028"]),
    Product(sku="tapal-danedar-190g", name="Tapal Danedar 190g", names={"ur": "ٹپال دانے دار"}, barcodes=["8964000000019"]),
    Product(sku="daal-chana", name="Chana Daal", names={"ur": "چنے کی دال", "hi": "चना दाल"}),
    Product(sku="cafe-creme", name="Café Crème"),
]
ENTRIES = [Entry.of(p) for p in PRODUCTS]


def skus(query: str, limit: int = 50) -> list[str]:
    items, _ = search(ENTRIES, query, limit)
    return [p.sku for p in items]


@pytest.mark.parametrize("query, expected", [
    ("چاول", ["rice-basmati-5kg", "rice-sella"]),  # Urdu word in the middle of the name
    ("चावल", ["rice-basmati-5kg", "rice-sella"]),  # Hindi
    ("باسمتی", ["rice-basmati-5kg"]),
    ("बासमती चावल", ["rice-basmati-5kg"]),  # the whole Hindi name
    ("rice", ["rice-basmati-5kg", "rice-sella"]),  # sku prefix first
    ("RICE-SEL", ["rice-sella"]),  # case-insensitive sku prefix
    ("8961", ["rice-basmati-5kg", "rice-sella"]),  # barcode prefix
    ("8964000000019", ["tapal-danedar-190g"]),  # exact barcode
    ("danedar", ["tapal-danedar-190g"]),
    ("tapal dane", ["tapal-danedar-190g"]),
    ("दाल", ["daal-chana"]),  # Hindi word at the end of the name
    ("دال", ["daal-chana"]),  # Urdu
    ("chana", ["daal-chana"]),  # Latin word at the start of the name, not a sku prefix
    ("cafe", ["cafe-creme"]),
    ("CRÈME", ["cafe-creme"]),  # accents and case folded
    ("nothing-like-this", []),
])
def test_search_matches(query, expected):
    assert skus(query) == expected


def test_urdu_spelling_variants_match():
    # Arabic yeh/kaf typed on some keyboards are the Urdu letters
    assert fold("كي") == fold("کی")
    assert skus("چنے كی") == ["daal-chana"]


def test_ranking_exact_sku_before_prefix_before_names():
    entries = ENTRIES + [Entry.of(Product(sku="sella", name="Other"))]
    items, _ = search(entries, "sella", 10)
    assert [p.sku for p in items] == ["sella", "rice-sella"]
    assert rank(Entry.of(PRODUCTS[0]), "rice-basmati-5kg") == 0
    assert rank(Entry.of(PRODUCTS[0]), "rice-bas") == 1
    assert rank(Entry.of(PRODUCTS[0]), "basmati rice 5kg") == 2
    assert rank(Entry.of(PRODUCTS[0]), "basmati ri") == 3
    assert rank(Entry.of(PRODUCTS[0]), "5kg basmati") == 4
    assert rank(Entry.of(PRODUCTS[0]), "asmati") == 5


def test_pages_follow_each_other_without_repeats():
    many = [Entry.of(Product(sku=f"sku-{i:03d}", name=f"Soap {i}")) for i in range(25)]
    seen, cursor = [], None
    while True:
        items, cursor = search(many, "soap", 10, cursor)
        seen += [p.sku for p in items]
        if cursor is None:
            break
    assert seen == sorted(f"sku-{i:03d}" for i in range(25))


def test_empty_query_lists_everything_by_sku():
    assert skus("") == sorted(p.sku for p in PRODUCTS)


def test_bad_cursor_is_refused():
    with pytest.raises(ValueError):
        decode_cursor("!!!")
