"""Product search: names in any language (Urdu, Hindi, Latin), sku and barcode prefixes, paging."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.catalog_search import Entry, SearchIndex, decode_cursor, fold, rank, search
from schemas.catalog import Product

pytestmark = pytest.mark.unit

PRODUCTS = [
    Product(
        sku="rice-basmati-5kg",
        name="Basmati Rice 5kg",
        names={"ur": "باسمتی چاول", "hi": "बासमती चावल"},
        barcodes=["8961000000011"],
        unit="kg",
    ),
    Product(sku="rice-sella", name="Sella Rice", names={"ur": "سیلا چاول", "hi": "सेला चावल"}, barcodes=["8961000000028"]),
    Product(sku="tapal-danedar-190g", name="Tapal Danedar 190g", names={"ur": "ٹپال دانے دار"}, barcodes=["8964000000019"]),
    Product(sku="daal-chana", name="Chana Daal", names={"ur": "چنے کی دال", "hi": "चना दाल"}),
    Product(sku="cafe-creme", name="Café Crème"),
]
ENTRIES = [Entry.of(p) for p in PRODUCTS]


def skus(query: str, limit: int = 50) -> list[str]:
    items, _ = search(ENTRIES, query, limit)
    return items


@pytest.mark.parametrize(
    "query, expected",
    [
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
    ],
)
def test_search_matches(query, expected):
    assert skus(query) == expected


def test_urdu_spelling_variants_match():
    # Arabic yeh/kaf typed on some keyboards are the Urdu letters
    assert fold("كي") == fold("کی")
    assert skus("چنے كی") == ["daal-chana"]


def test_ranking_exact_sku_before_prefix_before_names():
    entries = ENTRIES + [Entry.of(Product(sku="sella", name="Other"))]
    items, _ = search(entries, "sella", 10)
    assert items == ["sella", "rice-sella"]
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
        seen += items
        if cursor is None:
            break
    assert seen == sorted(f"sku-{i:03d}" for i in range(25))


def test_empty_query_lists_everything_by_sku():
    assert skus("") == sorted(p.sku for p in PRODUCTS)


def test_bad_cursor_is_refused():
    with pytest.raises(ValueError):
        decode_cursor("!!!")


# ---- the index answers as the scan -------------------------------------------------------------------

WORDS = [
    "rice",
    "Rice",
    "basmati",
    "bas",
    "sella",
    "tea",
    "té",
    "chai",
    "چاول",
    "چائے",
    "كي",
    "کی",
    "चावल",
    "चाय",
    "5kg",
    "١٢",
    "a",
    "ab",
    "dal-chana",
    "x.y",
]
SKUS = st.builds(str.__add__, st.sampled_from("abAB1"), st.text(alphabet="abAB-1.:", max_size=4))
PRODUCTS_ST = st.builds(
    lambda sku, name, others, barcodes: Product(sku=sku, name=name, names=dict(zip(("ur", "hi"), others)), barcodes=barcodes),
    SKUS,
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(" ".join), max_size=2),
    st.lists(st.text(alphabet="8961", min_size=1, max_size=4), max_size=2),
)
QUERIES = st.one_of(
    st.sampled_from(["", "  ", "!!", "rice", "RICE bas", "ba", "چاول", "كی", "चा", "5kg bas", "a", "1", "89", "-"]),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    st.text(alphabet="abAB-1.: té", max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(st.one_of(st.tuples(st.just("put"), PRODUCTS_ST), st.tuples(st.just("search"), QUERIES)), max_size=40),
    rebuild_at=st.integers(0, 6),
    limit=st.integers(1, 4),
)
def test_the_index_answers_as_the_scan_of_every_entry(steps, rebuild_at, limit):
    index = SearchIndex(rebuild_at=rebuild_at, rebuild_share=0.5)
    live: dict[str, Entry] = {}
    for kind, value in steps + [("search", q) for q in ("", "rice", "a")]:
        if kind == "put":
            live[value.sku] = Entry.of(value)
            index.put(live[value.sku])
            continue
        cursor, pages = None, 0
        while True:  # every page, following the cursor
            expected = search(live.values(), value, limit, cursor)
            assert index.search(value, limit, cursor) == expected, (value, cursor)
            cursor, pages = expected[1], pages + 1
            if cursor is None:
                break
        assert pages <= len(live) // limit + 1


def test_the_index_after_a_rebuild_and_a_replaced_product():
    index = SearchIndex(rebuild_at=100)
    for p in PRODUCTS:
        index.put(Entry.of(p))
    index.rebuild()  # every product in the segment; the next put stays recent (under rebuild_at)
    index.put(Entry.of(Product(sku="rice-sella", name="Renamed", barcodes=["1"])))
    assert index.search("sella", 10) == ([], None)  # the old name no longer counts
    assert index.search("rice-s", 10) == (["rice-sella"], None)
    assert index.search("renamed", 10) == (["rice-sella"], None)
    first, cursor = index.search("", 2)
    rest, end = index.search("", 10, cursor)
    assert first + rest == sorted(p.sku for p in PRODUCTS) and end is None
    assert index.search("rice", 10) == search(index._live.values(), "rice", 10)
