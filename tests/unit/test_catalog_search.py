"""Product search: names in any language (Urdu, Hindi, Latin, Roman Urdu), by sound and with one
typo, names before sku prefixes, paging; the same ranks as the counter's search (web/src/search.js)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.catalog_search import Entry, SearchIndex, decode_cursor, fold, rank, search, sound, within_one
from schemas.catalog import Product

pytestmark = pytest.mark.unit

PRODUCTS = [
    Product(
        sku="rice-basmati-5kg",
        name="Basmati Rice 5kg",
        names={"ur": "باسمتی چاول", "hi": "बासमती चावल", "ur-Latn": "Basmati chawal"},
        barcodes=["8961000000011"],
        unit="kg",
    ),
    Product(
        sku="rice-sella",
        name="Sella Rice",
        names={"ur": "سیلا چاول", "hi": "सेला चावल", "ur-Latn": "Sella chawal"},
        barcodes=["8961000000028"],
    ),
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
        ("rice", ["rice-basmati-5kg", "rice-sella"]),
        ("RICE-SEL", ["rice-sella"]),  # case-insensitive
        ("chaawal", ["rice-basmati-5kg", "rice-sella"]),  # Roman Urdu (ur-Latn) by sound
        ("chaval", ["rice-basmati-5kg", "rice-sella"]),
        ("basmati chaawal", ["rice-basmati-5kg"]),
        ("chawl", ["rice-basmati-5kg", "rice-sella"]),  # one letter dropped
        ("basmtai", ["rice-basmati-5kg"]),  # two letters swapped
        ("tapul", ["tapal-danedar-190g"]),  # one letter changed
        ("8961", ["rice-basmati-5kg", "rice-sella"]),  # barcode prefix
        ("8964000000019", ["tapal-danedar-190g"]),  # exact barcode
        ("danedar", ["tapal-danedar-190g"]),
        ("tapal dane", ["tapal-danedar-190g"]),
        ("दाल", ["daal-chana"]),  # Hindi word at the end of the name
        ("دال", ["daal-chana"]),  # Urdu
        ("chana", ["daal-chana", "rice-basmati-5kg", "rice-sella"]),  # a name's start; then chava(l), one letter off
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


def test_ranking_exact_sku_then_names_then_sku_prefixes():
    entries = ENTRIES + [Entry.of(Product(sku="sella", name="Other"))]
    items, _ = search(entries, "sella", 10)
    assert items == ["sella", "rice-sella"]  # the exact sku before the name
    basmati = Entry.of(PRODUCTS[0])
    ranks = {q: rank(basmati, q) for q in ("rice-basmati-5kg", "8961000000011", "basmati rice 5kg", "basmati ri", "5kg basmati")}
    ranks |= {q: rank(basmati, q) for q in ("asmati", "baasmati", "basmti", "89610000")}
    assert list(ranks.values()) == [0, 0, 1, 2, 3, 4, 5, 6, 7], ranks
    assert rank(Entry.of(Product(sku="sella", name="Other")), "sel") == 7


def test_a_name_outranks_a_sku_prefix_unless_the_query_is_a_whole_sku_or_barcode():
    masala = Product(sku="chai-masala", name="Garam Masala", barcodes=["1234"])
    tea = Product(sku="tea-lipton", name="Lipton Chai", names={"ur-Latn": "lipton chaye 1234"})
    chai = Product(sku="x-chai", name="Chai")
    entries = [Entry.of(p) for p in (masala, tea, chai)]
    assert search(entries, "chai", 10)[0] == ["x-chai", "tea-lipton", "chai-masala"]  # name, word, sku prefix
    assert search(entries, "chai-masala", 10)[0] == ["chai-masala"]
    assert search(entries, "1234", 10)[0] == ["chai-masala", "tea-lipton"]  # the exact barcode first
    assert search(entries, "x-chai", 10)[0][0] == "x-chai"


def test_sounds_and_one_typo():
    assert len({sound(w) for w in ("chawal", "chaawal", "chaval")}) == 1
    assert sound("cheeni") == sound("chini") and sound("doodh") == sound("dudh") and sound("zeera") == sound("jeera")
    for a, b in [("chaval", "chavl"), ("chaval", "chavaal"), ("chaval", "chaval"), ("chaval", "cahval"), ("chaval", "chavak")]:
        assert within_one(a, b) and within_one(b, a), (a, b)
    for a, b in [("chaval", "chvl"), ("chaval", "cahvla"), ("abc", "bca"), ("chaval", "xhavak")]:
        assert not within_one(a, b), (a, b)
    assert rank(Entry.of(PRODUCTS[0]), "chaaw") == 5  # a heard start of three letters or more
    assert rank(Entry.of(PRODUCTS[0]), "cxa") is None  # no typo under four letters


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
    "chawal",
    "chaawal",
    "chavl",
    "cheeni",
    "chini",
    "basmti",
    "doodh",
    "dudhh",
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
    st.sampled_from(["", "  ", "!!", "rice", "RICE bas", "ba", "چاول", "كی", "चा", "5kg bas", "a", "1", "89", "-", "chawl", "basmatti"]),
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


# ---- the counter's search ranks as this one ----------------------------------------------------------

WEB_SEARCH = Path(__file__).resolve().parents[2] / "web" / "src" / "search.js"
NODE_RANKS = """
import { readFileSync } from 'node:fs';
const { entry, rank } = await import(process.argv[1]);
const { products, queries } = JSON.parse(readFileSync(0, 'utf8'));
console.log(JSON.stringify(products.map((p) => { const e = entry(p); return queries.map((q) => rank(e, q)); })));
"""


def typed(word: str, rng: random.Random) -> str:
    """``word`` as a hurried shopkeeper might type it: a letter doubled, dropped, changed or swapped."""
    i = rng.randrange(len(word))
    how = rng.randrange(5)
    if how == 0:
        return word[: i + 1] + word[i:]
    if how == 1 and len(word) > 1:
        return word[:i] + word[i + 1 :]
    if how == 2:
        return word[:i] + rng.choice("aeiouvwhkz") + word[i + 1 :]
    if how == 3 and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the counter's search")
def test_the_same_ranks_as_the_counters_search():
    rng = random.Random(29)
    words = [w for w in WORDS if w.isalpha()] + ["phool", "qeema", "sabun", "saboon", "chai", "chaye", "zeera", "jeera", "doodh", "atta"]
    products = [
        Product(
            sku=f"p{i}-" + rng.choice([w for w in words if w.isascii()]),
            name=" ".join(rng.sample(words, 2)),
            names={"ur-Latn": " ".join(rng.sample(words, 2))} if i % 2 else {},
            barcodes=[f"896{i:04d}"],
        )
        for i in range(60)
    ]
    queries = (
        [typed(rng.choice(words), rng) for _ in range(80)]
        + [p.sku for p in products[:5]]
        + ["896", "8960003", "p1", "chai sab", products[7].name]
    )
    payload = {"products": [p.model_dump(include={"sku", "name", "names", "barcodes"}) for p in products], "queries": queries}
    out = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_RANKS, WEB_SEARCH.as_uri()],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    theirs = json.loads(out.stdout)
    ours = [[rank(Entry.of(p), q) for q in queries] for p in products]
    differ = [
        (p.sku, q, o, t)
        for p, os, ts in zip(products, ours, theirs, strict=True)
        for q, o, t in zip(queries, os, ts, strict=True)
        if o != t
    ]
    assert differ == []
    assert len({r for row in ours for r in row}) == 9, "every rank, and no match, among the cases"
