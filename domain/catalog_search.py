"""Product search: by name in any language (Latin, Urdu, Hindi, Roman Urdu ``ur-Latn``, Hinglish
``hi-Latn``, ...), by sound and with one typo, by sku or barcode. The counter's rules
(``web/src/search.js``): what a POS asking the API finds is what the counter finds offline.

Text is folded before it is compared: Unicode NFKC, case folded, Latin accents and Arabic short
vowels dropped, the Arabic letters Urdu keyboards mix up (ي/ی, ك/ک, ه/ہ) and Hindi's chandrabindu /
anusvara made one, digits of every script made ASCII, zero-width joiners and tatweel removed, and
punctuation turned into spaces. Words are also heard (``sound``): the spellings of Roman Urdu and
Hinglish (chawal, chaawal, chaval) come out the same. Results are ranked, best first, then by sku:

0. the sku or a barcode is the query;            4. a name contains the query;
1. a name is the query;                          5. every query word sounds like (the start of)
2. a name starts with the query;                    a word of the names;
3. every query word starts a word of the names;  6. the same, or one letter off (``within_one``);
7. the sku or a barcode starts with the query.

So a name outranks a sku prefix ("chai" finds tea before a sku starting "chai..."), unless the
query is a whole sku or barcode.

Pages are cut after ``limit`` results; the cursor names the last (rank, sku), so a page never
repeats or skips a product that was already ranked, even when the catalog changes in between.

``search`` ranks every entry it is given: the rule, as written. ``SearchIndex`` gives the same
answers without ranking every product. It finds the products each rule matches, rule by rule, and
stops once a page is full: sku and barcode prefixes by bisection in sorted lists; names by
``str.find`` over one string holding every folded name, each behind a newline (a name that is the
query is ``"\\n" + query + "\\n"`` in it, one that starts with it ``"\\n" + query``, a word that
starts with it ``"\\n"`` or ``" "`` + query); sounds by bisection in the sorted distinct heard
words, and one typo by comparing the query word with those of about its length (and with the
starts of longer ones). A product's rank is the first rule that found it. An empty query lists the
catalog straight from the sorted skus. Products stored since the index was built are ranked one by
one until there are enough of them to build it again.
"""

from __future__ import annotations

import base64
import heapq
import re
import sys
import threading
import time
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
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


_HEARD = (
    (re.compile("ph"), "f"),
    (re.compile("w"), "v"),
    (re.compile("q"), "k"),
    (re.compile("c(?!h)"), "k"),
    (re.compile("z"), "j"),
    (re.compile("ee|ea|ie"), "i"),
    (re.compile("oo|ou"), "u"),
    (re.compile("y"), "i"),
    (re.compile(r"(.)\1+"), r"\1"),  # a letter written twice is heard once
)


@lru_cache(maxsize=1 << 16)  # a catalog's words recur: an import hears each one once
def sound(word: str) -> str:
    """One spelling of a folded word as shopkeepers type it in Roman Urdu or Hinglish: chawal,
    chaawal and chaval, cheeni and chini, doodh and dudh, zeera and jeera come out the same."""
    for pattern, heard in _HEARD:
        word = pattern.sub(heard, word)
    return word


def within_one(a: str, b: str) -> bool:
    """Whether a and b differ by at most one letter inserted, dropped, changed or swapped."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < la and i < lb and a[i] == b[i]:
        i += 1
    if la == lb:
        return a[i + 1 :] == b[i + 1 :] or (
            a[i : i + 1] == b[i + 1 : i + 2] and a[i + 1 : i + 2] == b[i : i + 1] and a[i + 2 :] == b[i + 2 :]
        )
    return a[i + 1 :] == b[i:] if la > lb else b[i + 1 :] == a[i:]


def _by_sound(heard: str, sounds: Iterable[str]) -> bool:
    return any(w == heard or (len(heard) >= 3 and w.startswith(heard)) for w in sounds)


def _by_typo(heard: str, sounds: Iterable[str]) -> bool:
    n = len(heard)
    return n >= 4 and any(within_one(heard, w) or (n >= 5 and len(w) > n and within_one(heard, w[:n])) for w in sounds)


@dataclass(frozen=True, slots=True)
class Entry:
    """A product's search keys, built once when the product is stored (the product itself is not held)."""

    sku: str  # as stored: results are ordered by it
    key: str  # the sku case folded
    barcodes: tuple[str, ...]
    names: tuple[str, ...]  # folded
    sounds: tuple[str, ...]  # each word of the names, heard (interned: most recur across the catalog)

    @classmethod
    def of(cls, product: Product) -> Entry:
        names = tuple(n for n in (fold(product.name), *(fold(v) for v in product.names.values())) if n)
        barcodes = tuple(b.strip().casefold() for b in product.barcodes)
        key = product.sku.casefold()
        sounds = tuple(sorted({sys.intern(sound(w)) for n in names for w in n.split()}))
        return cls(product.sku, product.sku if key == product.sku else key, barcodes, names, sounds)


class Query(NamedTuple):
    ident: str  # the query as typed, case folded: compared with skus and barcodes
    text: str  # folded: compared with names
    tokens: tuple[str, ...]
    heard: tuple[str, ...]  # each token, heard

    @classmethod
    def of(cls, query: str) -> Query:
        ident = query.strip().casefold()
        text = fold(query) if ident else ""
        tokens = tuple(text.split())
        return cls(ident, text, tokens, tuple(sound(t) for t in tokens))


def rank(entry: Entry, query: str | Query) -> int | None:
    """Rank of a product for a query (lower is better), None when it does not match."""
    q = query if isinstance(query, Query) else Query.of(query)
    ident = q.ident
    if not ident:
        return 0
    if entry.key == ident or ident in entry.barcodes:
        return 0
    text = q.text
    if text:
        names = entry.names
        if text in names:
            return 1
        if any(n.startswith(text) for n in names):
            return 2
        words = [w for n in names for w in n.split()]
        if all(any(w.startswith(t) for w in words) for t in q.tokens):
            return 3
        if any(text in n for n in names):
            return 4
        sounds = entry.sounds
        if all(_by_sound(h, sounds) for h in q.heard):
            return 5
        if all(_by_sound(h, sounds) or _by_typo(h, sounds) for h in q.heard):
            return 6
    if entry.key.startswith(ident) or any(b.startswith(ident) for b in entry.barcodes):
        return 7
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
        heard: dict[str, list[int]] = {}
        for i, e in enumerate(self.entries):
            for w in e.sounds:
                heard.setdefault(w, []).append(i)
        self.sounds = sorted(heard)  # every heard word once, with the entries that have it
        self.sound_at = [array("q", heard[w]) for w in self.sounds]
        self.sounds_by_len: dict[int, list[int]] = {}  # positions in ``sounds`` by word length
        for j, w in enumerate(self.sounds):
            self.sounds_by_len.setdefault(len(w), []).append(j)

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

    def _sounding(self, heard: str) -> set[int]:
        """Entries with a heard word that is ``heard``, or starts with it (three letters or more)."""
        sounds = self.sounds
        out: set[int] = set()
        j = bisect_left(sounds, heard)
        while j < len(sounds) and (sounds[j] == heard if len(heard) < 3 else sounds[j].startswith(heard)):
            out.update(self.sound_at[j])
            j += 1
        return out

    def _one_off(self, heard: str) -> set[int]:
        """Entries with a heard word one letter off ``heard``, or starting one letter off it (the
        rule's lengths: four letters or more, starts from five)."""
        n, sounds = len(heard), self.sounds
        out: set[int] = set()
        if n < 4:
            return out
        for length, at in self.sounds_by_len.items():
            whole, start = abs(length - n) <= 1, n >= 5 and length > n
            if not (whole or start):
                continue
            for j in at:
                w = sounds[j]
                if (whole and within_one(heard, w)) or (start and within_one(heard, w[:n])):
                    out.update(self.sound_at[j])
        return out

    @staticmethod
    def _every(tokens: Iterable[str], find: Callable[[str], set[int]]) -> set[int]:
        """Entries ``find`` finds for every token (the longest first: the fewest entries)."""
        every: set[int] | None = None
        for token in sorted(tokens, key=len, reverse=True):
            found = find(token)
            every = found if every is None else every & found
            if not every:
                break
        return every or set()

    def rules(self, q: Query) -> Iterator[tuple[int, set[int]]]:
        """For each rank in order, the entries its rule matches (a lower rank's may be among them)."""
        yield 0, self._prefixed(self.keys, self.key_at, q.ident, exact=True) | self._prefixed(self.codes, self.code_at, q.ident, exact=True)
        if q.text:
            yield 1, self._holding("\n" + q.text + "\n")
            yield 2, self._holding("\n" + q.text)
            yield 3, self._every(q.tokens, self._words_starting)
            yield 4, self._holding(q.text)
            sounding: dict[str, set[int]] = {}
            yield 5, self._every(q.heard, lambda h: sounding.setdefault(h, self._sounding(h)))
            yield 6, self._every(q.heard, lambda h: (sounding[h] if h in sounding else self._sounding(h)) | self._one_off(h))
        yield 7, self._prefixed(self.keys, self.key_at, q.ident) | self._prefixed(self.codes, self.code_at, q.ident)

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
