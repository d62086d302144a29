"""Product search: by name in any language (Latin, Urdu, Hindi, ...), sku prefix or barcode prefix.

Text is folded before it is compared: Unicode NFKC, case folded, Latin accents and Arabic short
vowels dropped, the Arabic letters Urdu keyboards mix up (ي/ی, ك/ک, ه/ہ) and Hindi's chandrabindu /
anusvara made one, digits of every script made ASCII, zero-width joiners and tatweel removed, and
punctuation turned into spaces. Results are ranked, best first, then by sku:

0. the sku or a barcode is the query;          3. a name starts with the query;
1. the sku or a barcode starts with the query; 4. every query word starts a word of the names;
2. a name is the query;                        5. a name contains the query.

Pages are cut after ``limit`` results; the cursor names the last (rank, sku), so a page never
repeats or skips a product that was already ranked, even when the catalog changes in between.
"""
from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from schemas.catalog import Product

_DROP_MARKS = {*range(0x0300, 0x0370), *range(0x064B, 0x0660), 0x0670}  # Latin accents, Arabic harakat
_LETTERS = str.maketrans({
    "\u064a": "\u06cc", "\u0649": "\u06cc",  # Arabic yeh, alef maksura -> Farsi/Urdu yeh
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
    "\u0647": "\u06c1", "\u06d5": "\u06c1",  # Arabic heh, ae -> heh goal
    "\u0901": "\u0902",  # Devanagari chandrabindu -> anusvara
    "\u0640": None, "\u200c": None, "\u200d": None,  # tatweel, zero-width (non-)joiner
})


def fold(text: str) -> str:
    """One spelling of ``text`` for comparison (see the module docstring)."""
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if ord(ch) in _DROP_MARKS:
            continue
        out.append(ch)
    text = unicodedata.normalize("NFKC", "".join(out)).casefold().translate(_LETTERS)
    chars = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Nd":
            chars.append(str(unicodedata.digit(ch)))
        elif cat[0] in "LNM":
            chars.append(ch)
        else:
            chars.append(" ")
    return " ".join("".join(chars).split())


@dataclass(frozen=True, slots=True)
class Entry:
    """A product with its search keys, built once when the product is stored."""

    product: Product
    sku: str  # case folded
    barcodes: tuple[str, ...]
    names: tuple[str, ...]  # folded
    words: frozenset[str]

    @classmethod
    def of(cls, product: Product) -> "Entry":
        names = tuple(n for n in (fold(product.name), *(fold(v) for v in product.names.values())) if n)
        words = frozenset(w for n in names for w in n.split())
        barcodes = tuple(b.strip().casefold() for b in product.barcodes)
        return cls(product, product.sku.casefold(), barcodes, names, words)


def rank(entry: Entry, query: str) -> int | None:
    """Rank of a product for a query (lower is better), None when it does not match."""
    ident = query.strip().casefold()
    if not ident:
        return 0
    if entry.sku == ident or ident in entry.barcodes:
        return 0
    if entry.sku.startswith(ident) or any(b.startswith(ident) for b in entry.barcodes):
        return 1
    text = fold(query)
    if not text:
        return None
    if text in entry.names:
        return 2
    if any(n.startswith(text) for n in entry.names):
        return 3
    if all(any(w.startswith(t) for w in entry.words) for t in text.split()):
        return 4
    if any(text in n for n in entry.names):
        return 5
    return None


def encode_cursor(r: int, sku: str) -> str:
    return base64.urlsafe_b64encode(f"{r}:{sku}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        r, sku = raw.split(":", 1)
        return int(r), sku
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor this API gave out") from None


def search(entries: Iterable[Entry], query: str, limit: int, cursor: str | None = None) -> tuple[list[Product], str | None]:
    """One page of matching products, best first, and the cursor of the next page (None: last page)."""
    after = decode_cursor(cursor) if cursor else None
    hits = []
    for e in entries:
        r = rank(e, query)
        if r is not None and (after is None or (r, e.product.sku) > after):
            hits.append((r, e.product.sku, e.product))
    hits.sort(key=lambda h: (h[0], h[1]))
    page = hits[:limit]
    more = len(hits) > limit
    return [p for _, _, p in page], (encode_cursor(page[-1][0], page[-1][1]) if more and page else None)
