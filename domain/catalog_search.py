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

``search`` ranks every entry it is given: the rule, as written. ``SearchIndex`` gives the same
answers without ranking every product. It finds the products each rule matches, rule by rule, and
stops once a page is full: sku and barcode prefixes by bisection in sorted lists; names by
``str.find`` over one string holding every folded name, each behind a newline (a name that is the
query is ``"\\n" + query + "\\n"`` in it, one that starts with it ``"\\n" + query``, a word that
starts with it ``"\\n"`` or ``" "`` + query). A product's rank is the first rule that found it. An
empty query lists the catalog straight from the sorted skus. Products stored since the index was
built are ranked one by one until there are enough of them to build it again.
"""

from __future__ import annotations

import base64
import heapq
import threading
import time
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, islice
from operator import attrgetter
from typing import NamedTuple

from schemas.catalog import Product

_DROP_MARKS = {*range(0x0300, 0x0370), *range(0x064B, 0x0660), 0x0670}  # Latin accents, Arabic harakat
_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",
        "\u0649": "\u06cc",  # Arabic yeh, alef maksura -> Farsi/Urdu yeh
        "\u0643": "\u06a9",  # Arabic kaf -> keheh
        "\u0647": "\u06c1",
        "\u06d5": "\u06c1",  # Arabic heh, ae -> heh goal
        "\u0901": "\u0902",  # Devanagari chandrabindu -> anusvara
        "\u0640": None,
        "\u200c": None,
        "\u200d": None,  # tatweel, zero-width (non-)joiner
    }
)


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
    """A product's search keys, built once when the product is stored (the product itself is not held)."""

    sku: str  # as stored: results are ordered by it
    key: str  # the sku case folded
    barcodes: tuple[str, ...]
    names: tuple[str, ...]  # folded

    @classmethod
    def of(cls, product: Product) -> Entry:
        names = tuple(n for n in (fold(product.name), *(fold(v) for v in product.names.values())) if n)
        barcodes = tuple(b.strip().casefold() for b in product.barcodes)
        key = product.sku.casefold()
        return cls(product.sku, product.sku if key == product.sku else key, barcodes, names)


class Query(NamedTuple):
    ident: str  # the query as typed, case folded: compared with skus and barcodes
    text: str  # folded: compared with names
    tokens: tuple[str, ...]

    @classmethod
    def of(cls, query: str) -> Query:
        ident = query.strip().casefold()
        text = fold(query) if ident else ""
        return cls(ident, text, tuple(text.split()))


def rank(entry: Entry, query: str | Query) -> int | None:
    """Rank of a product for a query (lower is better), None when it does not match."""
    q = query if isinstance(query, Query) else Query.of(query)
    ident = q.ident
    if not ident:
        return 0
    if entry.key == ident or ident in entry.barcodes:
        return 0
    if entry.key.startswith(ident) or any(b.startswith(ident) for b in entry.barcodes):
        return 1
    text = q.text
    if not text:
        return None
    names = entry.names
    if text in names:
        return 2
    if any(n.startswith(text) for n in names):
        return 3
    words = [w for n in names for w in n.split()]
    if all(any(w.startswith(t) for w in words) for t in q.tokens):
        return 4
    if any(text in n for n in names):
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


def _page(hits: Iterable[tuple[int, str]], limit: int, ordered: bool = False) -> tuple[list[str], str | None]:
    """The first ``limit`` of (rank, sku) hits in order (``ordered``: they come in order), and the
    next page's cursor."""
    best = list(islice(hits, limit + 1)) if ordered else heapq.nsmallest(limit + 1, hits)
    page = best[:limit]
    more = len(best) > limit
    return [sku for _, sku in page], (encode_cursor(*page[-1]) if more and page else None)


def search(entries: Iterable[Entry], query: str, limit: int, cursor: str | None = None) -> tuple[list[str], str | None]:
    """One page of matching skus, best first, and the cursor of the next page (None: last page),
    ranking every entry given."""
    after = decode_cursor(cursor) if cursor else None
    q = Query.of(query)
    hits = ((r, e.sku) for e in entries if (r := rank(e, q)) is not None)
    return _page((h for h in hits if after is None or h > after), limit)


# ---- the index ---------------------------------------------------------------------------------------


class _Segment:
    """Entries frozen at one moment, sorted by sku (an entry's position orders it), with sorted
    keys and barcodes (and each one's position), and every folded name in one string: entry by
    entry, each name behind a newline, the entry closed by one more (``starts``: where each begins).
    A newline is never inside a folded name (folding leaves single spaces between words)."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = sorted(entries, key=attrgetter("sku"))
        n = len(self.entries)
        self.skus = [e.sku for e in self.entries]
        self.keys, self.key_at = self._sorted([e.key for e in self.entries], range(n))
        codes = [(b, i) for i, e in enumerate(self.entries) for b in e.barcodes]
        self.codes, self.code_at = self._sorted([b for b, _ in codes], [i for _, i in codes])
        sections = ["\n" + "\n".join(e.names) + "\n" if e.names else "\n" for e in self.entries]
        self.starts = array("q", accumulate(map(len, sections), initial=0))
        self.names = "".join(sections)

    @staticmethod
    def _sorted(keys: list[str], at: Sequence[int]) -> tuple[list[str], array[int]]:
        order = sorted(range(len(keys)), key=keys.__getitem__)
        return [keys[j] for j in order], array("q", (at[j] for j in order))

    def __len__(self) -> int:
        return len(self.entries)

    @staticmethod
    def _prefixed(keys: list[str], at: array[int], prefix: str, exact: bool = False) -> set[int]:
        out, i = set(), bisect_left(keys, prefix)
        while i < len(keys) and (keys[i] == prefix if exact else keys[i].startswith(prefix)):
            out.add(at[i])
            i += 1
        return out

    def _holding(self, needle: str) -> set[int]:
        """Entries whose section of the names string holds ``needle``."""
        names, starts, n = self.names, self.starts, len(self.entries)
        out, pos = set(), names.find(needle)
        while pos != -1:
            i = bisect_right(starts, pos) - 1
            out.add(i)
            if i + 1 >= n:
                break
            pos = names.find(needle, starts[i + 1])
        return out

    def _words_starting(self, token: str) -> set[int]:
        return self._holding("\n" + token) | self._holding(" " + token)

    def rules(self, q: Query) -> Iterator[tuple[int, set[int]]]:
        """For each rank in order, the entries its rule matches (a lower rank's may be among them)."""
        yield 0, self._prefixed(self.keys, self.key_at, q.ident, exact=True) | self._prefixed(self.codes, self.code_at, q.ident, exact=True)
        yield 1, self._prefixed(self.keys, self.key_at, q.ident) | self._prefixed(self.codes, self.code_at, q.ident)
        if not q.text:
            return
        yield 2, self._holding("\n" + q.text + "\n")
        yield 3, self._holding("\n" + q.text)
        every: set[int] | None = None
        for token in sorted(q.tokens, key=len, reverse=True):  # the longest first: the fewest entries
            found = self._words_starting(token)
            every = found if every is None else every & found
            if not every:
                break
        yield 4, every or set()
        yield 5, self._holding(q.text)

    def listed_after(self, sku: str | None) -> Iterator[Entry]:
        """Every entry in sku order, from the first after ``sku``."""
        return islice(self.entries, 0 if sku is None else bisect_right(self.skus, sku), None)


class SearchIndex:
    """The catalog's search keys by sku, answering as ``search`` over them would.

    ``put`` may be called from any thread, ``search`` too (run it off the event loop: a broad
    query still goes through many products).
    """

    def __init__(self, rebuild_at: int = 2_000, rebuild_share: float = 0.125, quiet_s: float = 2.0) -> None:
        """The index is built again by the search that finds more than ``rebuild_at`` entries stored
        since it was, and either ``rebuild_share`` of the catalog or no store for ``quiet_s`` (an
        import or a start-up over)."""
        self._lock = threading.Lock()
        self._live: dict[str, Entry] = {}
        self._recent: dict[str, tuple[int, Entry]] = {}  # stored since the segment was built, with their version
        self._version = 0
        self._segment = _Segment(())
        self._rebuild_at, self._rebuild_share, self._quiet_s = rebuild_at, rebuild_share, quiet_s
        self._building = threading.Lock()
        self._put_at = 0.0

    def __len__(self) -> int:
        return len(self._live)

    def put(self, entry: Entry) -> None:
        with self._lock:
            self._version += 1
            self._live[entry.sku] = entry
            self._recent[entry.sku] = (self._version, entry)
            self._put_at = time.monotonic()

    def get(self, sku: str) -> Entry | None:
        return self._live.get(sku)

    @property
    def pending(self) -> int:
        """Entries stored since the index was built (ranked one by one until the next build)."""
        return len(self._recent)

    def _stale(self) -> bool:
        pending = len(self._recent)
        return pending > self._rebuild_at and (
            pending > len(self._segment) * self._rebuild_share or time.monotonic() - self._put_at >= self._quiet_s
        )

    def rebuild(self, if_stale: bool = False) -> None:
        """Build the segment again from every entry (outside the lock: puts and searches go on)."""
        with self._building:
            if if_stale and not self._stale():
                return  # built by another search meanwhile
            with self._lock:
                version, entries = self._version, list(self._live.values())
            segment = _Segment(entries)
            with self._lock:
                self._segment = segment
                self._recent = {sku: held for sku, held in self._recent.items() if held[0] > version}

    def search(self, query: str, limit: int, cursor: str | None = None) -> tuple[list[str], str | None]:
        after = decode_cursor(cursor) if cursor else None
        if self._stale():
            self.rebuild(if_stale=True)
        with self._lock:  # one moment's catalog: the segment, and what was stored since
            segment, recent = self._segment, {sku: e for sku, (_, e) in self._recent.items()}
        q = Query.of(query)
        if not q.ident:  # the whole catalog, rank 0, by sku
            if after is not None and after[0] > 0:
                return [], None
            start = after[1] if after is not None and after[0] == 0 else None
            listed = (e.sku for e in segment.listed_after(start) if e.sku not in recent)
            new_skus = sorted(sku for sku in recent if start is None or sku > start)
            return _page(((0, sku) for sku in heapq.merge(listed, new_skus)), limit, ordered=True)
        added = [(r, sku) for sku, e in recent.items() if (r := rank(e, q)) is not None and (after is None or (r, sku) > after)]
        hits: list[tuple[int, str]] = []
        seen: set[int] = set()
        first = 0 if after is None else bisect_right(segment.skus, after[1])  # the cursor's rank: only skus after its
        for r, matched in segment.rules(q):
            found = sorted(matched - seen)  # in sku order
            seen |= matched
            if after is not None and r < after[0]:
                continue
            taken = 0
            for i in found:
                if taken > limit:
                    break  # more of this rank cannot make the page
                sku = segment.skus[i]
                if sku in recent or (after is not None and r == after[0] and i < first):
                    continue  # stored again since (ranked among the recent), or on an earlier page
                hits.append((r, sku))
                taken += 1
            if len(hits) + sum(1 for a in added if a[0] <= r) > limit:
                break  # the page is full: every later rule ranks lower
        return _page(hits + added, limit)
