"""The generated events of a run, the Kafka messages they become, and the exactness checks.

Messages are made exactly as the API makes them (``api.ingest``: validate, stamp ``received_at``,
digest header, transfer in-legs), so a pre-loaded topic holds what ``POST /v1/events`` would write.
Expected stock always comes from the generator's own bookkeeping (``Generator.expected()``).
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from api import ingest
from bazaar_core.loadgen.generator import GenConfig, Generator, _milli, wire_body

Item = tuple[bytes, bytes, list]


@dataclass
class Dataset:
    name: str
    gen: Generator
    bodies: list[dict]
    expected: dict[str, int] = field(default_factory=dict)
    messages: list[Item] = field(default_factory=list)

    @property
    def events(self) -> int:
        return len(self.bodies)

    @property
    def stores(self) -> list[str]:
        return self.gen.stores

    def by_store(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, milli in self.expected.items():
            store, sku = key.split("|", 1)
            out.setdefault(store, {})[sku] = milli
        return out


def generate(name: str, config: GenConfig, *, messages: bool = True) -> Dataset:
    """Generate the events (by default each store starts with an opening stock count of every sku)
    and, unless ``messages=False``, the Kafka messages the API would write for them."""
    started = time.monotonic()
    gen = Generator(config)
    bodies = [wire_body(b) for b in gen.events()]
    data = Dataset(name, gen, bodies, gen.expected())
    if messages:
        data.messages = to_messages(bodies)
    print(
        f"[bench] data {name}: {data.events:,} events, {len(data.messages):,} messages, {len(data.expected):,} keys "
        f"({time.monotonic() - started:.1f} s)",
        flush=True,
    )
    return data


def to_messages(bodies: list[dict], chunk: int = 500) -> list[Item]:
    """The Kafka messages ``POST /v1/events`` would write for these bodies, in order."""
    out: list[Item] = []
    now = datetime.now(UTC)
    for i in range(0, len(bodies), chunk):
        events = ingest.parse_events(orjson.dumps({"events": bodies[i : i + chunk]}), chunk)
        items, _owners = ingest.messages(ingest.stamp(events, now))
        out.extend(items)
    return out


def save_messages(items: list[Item], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(items, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_messages(path: str | Path) -> list[Item]:
    with open(path, "rb") as f:
        return pickle.load(f)


def save_bodies(bodies: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(bodies))
    return path


# ---- exactness ----------------------------------------------------------------------------------


def compare(expected: dict[str, int], got: dict[str, int], sample: list[str] | None = None) -> dict:
    """Every key of ``expected`` (or of ``sample``) against ``got``; extra keys count as differences
    when every key is checked. ``exact`` is True only when nothing differs."""
    keys = sample if sample is not None else list(expected)
    wrong = [k for k in keys if got.get(k) != expected.get(k)]
    extra = [] if sample is not None else [k for k in got if k not in expected]
    examples = [{"key": k, "expected": expected.get(k), "got": got.get(k)} for k in (wrong + extra)[:5]]
    return {
        "exact": not wrong and not extra and len(keys) > 0,
        "checked_keys": len(keys),
        "differences": len(wrong) + len(extra),
        "examples": examples,
    }


def worker_stock(base_url: str, stores: list[str], timeout: float = 60.0, headers: dict[str, str] | None = None) -> dict[str, int]:
    """Every (store, sku) the workers hold for these stores, via the worker's routed listing pages
    (``headers``: the access token they want)."""
    got: dict[str, int] = {}
    with httpx.Client(base_url=base_url, timeout=timeout, headers=headers) as http:
        for store in stores:
            cursor = None
            while True:
                params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                resp = _get_retrying(http, f"/stock/{store}", params, timeout)
                page = resp.json()
                for item in page["items"]:
                    got[f"{store}|{item['sku']}"] = _milli(item["on_hand"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
    return got


def _get_retrying(http: httpx.Client, path: str, params: dict, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            resp = http.get(path, params=params)
            if resp.status_code == 200:
                return resp
            detail = f"{resp.status_code} {resp.text[:200]}"
        except httpx.HTTPError as exc:
            detail = repr(exc)
        if time.monotonic() > deadline:
            raise RuntimeError(f"GET {path}: {detail}")
        time.sleep(0.2)
