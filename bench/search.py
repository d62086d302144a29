"""Product search and /health with a large catalog, during and after its import (issue 25).

``python -m bench.search [--products 100000] [--parts 1] [--out bench/results/] [--keep]``

Starts a local Kafka broker and ``bazaar api`` (no workers: the catalog routes need neither), writes
a generated catalog CSV (names in English, Urdu and Hindi, barcodes, categories, prices) and
imports it through ``POST /v1/products:import`` (``--parts N``: as N files, one after another).
While the import runs, and again for ``--search-s`` seconds once it is done, two client threads
ask at once: one ``GET /health`` every 20 ms, one product search after another (a mix of sku and
barcode prefixes, English, Urdu and Hindi words, a one-letter query, an empty one, no match).

Recorded as JSON (``bench/results/<time>-search.json`` and ``latest-search.json``): latency
p50/p99/max of /health and of search in each phase (and per query once loaded), the import's time
and rate, and the API's memory (VmRSS before and after the import, VmHWM: its peak).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

RESULTS_DIR = Path(__file__).resolve().parent / "results"

BRANDS = [
    "tapal",
    "lipton",
    "nestle",
    "olpers",
    "shan",
    "national",
    "knorr",
    "rafhan",
    "dalda",
    "habib",
    "sufi",
    "mezan",
    "kisan",
    "guard",
    "falak",
    "peek-freans",
    "lu",
    "bisconni",
    "candyland",
    "hilal",
]
ITEMS = [  # English, Urdu, Hindi
    ("basmati rice", "باسمتی چاول", "बासमती चावल"),
    ("sella rice", "سیلا چاول", "सेला चावल"),
    ("danedar tea", "دانے دار چائے", "दानेदार चाय"),
    ("green tea", "سبز چائے", "हरी चाय"),
    ("milk", "دودھ", "दूध"),
    ("yogurt", "دہی", "दही"),
    ("cooking oil", "کوکنگ آئل", "खाना पकाने का तेल"),
    ("ghee", "گھی", "घी"),
    ("chana daal", "چنے کی دال", "चना दाल"),
    ("masoor daal", "مسور کی دال", "मसूर दाल"),
    ("sugar", "چینی", "चीनी"),
    ("salt", "نمک", "नमक"),
    ("red chilli", "لال مرچ", "लाल मिर्च"),
    ("turmeric", "ہلدی", "हल्दी"),
    ("biscuits", "بسکٹ", "बिस्कुट"),
    ("soap", "صابن", "साबुन"),
    ("washing powder", "سرف", "कपड़े धोने का पाउडर"),
    ("flour", "آٹا", "आटा"),
    ("gram flour", "بیسن", "बेसन"),
    ("ketchup", "کیچپ", "केचप"),
]
SIZES = ["100g", "190g", "250g", "500g", "1kg", "2kg", "5kg", "250ml", "500ml", "1l", "1.5l", "12pcs"]
CATEGORIES = ["grocery", "dairy", "beverages", "spices", "household", "snacks"]
QUERIES = ["tapal", "8961000042", "basmati", "چاول", "चावल", "tapal dane", "a", "zzzz-nothing", "", "shan-ghee-004242"]


def write_catalog(path: Path, products: int, seed: int, first: int = 0) -> int:
    """A products CSV of ``products`` rows (skus ``first``..); returns its size in bytes."""
    rng = random.Random(seed + first)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["sku", "name", "name_ur", "name_hi", "barcodes", "category", "unit", "price", "reorder_point"])
        for i in range(first, first + products):
            brand = BRANDS[i % len(BRANDS)]
            en, ur, hi = ITEMS[(i // len(BRANDS)) % len(ITEMS)]
            size = SIZES[rng.randrange(len(SIZES))]
            sku = f"{brand}-{en.split()[-1]}-{i:06d}"
            out.writerow(
                [
                    sku,
                    f"{brand.title()} {en.title()} {size}",
                    f"{ur} {size}",
                    f"{hi} {size}",
                    f"896{i:010d}",
                    CATEGORIES[i % len(CATEGORIES)],
                    "piece",
                    f"{rng.randrange(50, 5000)}.{rng.randrange(100):02d}",
                    rng.randrange(0, 20),
                ]
            )
    return path.stat().st_size


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0}
    s = sorted(samples)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 1)

    return {"n": len(s), "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(s[-1] * 1000, 1)}


class Probe(threading.Thread):
    """Asks one thing again and again until stopped, recording (query, seconds, status) per answer."""

    def __init__(self, base: str, kind: str, pause_s: float, auth: httpx.Auth | None = None) -> None:
        super().__init__(name=f"probe-{kind}", daemon=True)
        self.base, self.kind, self.pause_s, self.auth = base, kind, pause_s, auth
        self.samples: list[tuple[str, float, int]] = []
        self.stop_flag = threading.Event()

    def mark(self) -> int:
        return len(self.samples)

    def run(self) -> None:
        i = 0
        with httpx.Client(base_url=self.base, timeout=120, auth=self.auth) as http:
            while not self.stop_flag.is_set():
                if self.kind == "health":
                    q, url, params = "", "/health", None
                else:
                    q = QUERIES[i % len(QUERIES)]
                    url, params = "/v1/products", {"q": q, "limit": 50}
                i += 1
                started = time.perf_counter()
                try:
                    status = http.get(url, params=params).status_code
                except httpx.HTTPError:
                    status = 0
                self.samples.append((q, time.perf_counter() - started, status))
                self.stop_flag.wait(self.pause_s)


def summary(samples: list[tuple[str, float, int]], per_query: bool = False) -> dict:
    out = percentiles([s for _, s, _ in samples])
    out["not_200"] = sum(1 for _, _, status in samples if status != 200)
    if per_query:
        out["queries"] = {q: percentiles([s for qq, s, _ in samples if qq == q]) for q in QUERIES}
    return out


def run(args: argparse.Namespace) -> dict:
    from bazaar_core.client_auth import KeyAuth
    from bazaar_core.kafka.admin import ensure_topics
    from bazaar_core.kafka.local import LocalKafka
    from bazaar_core.kafka.topics import topic_configs, topic_specs
    from bazaar_core.settings import Settings, get_settings
    from bazaar_core.supervisor import Child
    from bench import auth, report
    from bench.procs import free_ports, proc_status, settings_env

    root = Path(tempfile.mkdtemp(prefix="bazaar-bench-search-"))
    defaults = get_settings()
    port, controller, api_port = free_ports(3)
    settings = Settings(
        data_dir=root,
        kafka_bootstrap=f"127.0.0.1:{port}",
        kafka_controller_port=controller,
        kafka_cache_dir=defaults.kafka_cache_dir,
        kafka_version=defaults.kafka_version,
        api_port=api_port,
        topic_prefix="bench-search",
        log_level="WARNING",
    )
    base = f"http://127.0.0.1:{api_port}"
    files = []
    per_part = -(-args.products // args.parts)
    for part in range(args.parts):
        n = min(per_part, args.products - part * per_part)
        path = root / f"catalog-{part}.csv"
        files.append((path, write_catalog(path, n, args.seed, first=part * per_part)))
    out: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "products": args.products,
        "parts": args.parts,
        "csv_bytes": sum(size for _, size in files),
        "machine": report.machine(),
        "versions": report.versions(settings.kafka_version),
        "git": report.git_state(),
    }
    print(
        f"[bench] search: {args.products:,} products in {args.parts} file(s), {out['csv_bytes'] / 1e6:.1f} MB; work dir {root}", flush=True
    )
    with LocalKafka(settings):
        ensure_topics(settings, topic_specs(settings), topic_configs(settings))
        key = auth.admin_key(settings)  # bazaar auth init, as `bazaar up` runs it: the client is the admin
        client_auth = KeyAuth(base, key) if key else None
        api = Child.bazaar("api", ["api"], settings_env(settings), root / "logs", f"{base}/health")
        api.start()
        try:
            api.wait_healthy(timeout=120)
            pid = api.proc.pid
            out["api_rss_mb_before"] = round(proc_status(pid)["rss_kb"] / 1024, 1)
            health, search = Probe(base, "health", 0.02), Probe(base, "search", 0.0, client_auth)
            health.start()
            search.start()
            marks = (health.mark(), search.mark())
            started = time.monotonic()
            imported, errors = 0, 0
            with httpx.Client(base_url=base, timeout=600, auth=client_auth) as http:
                for path, _ in files:
                    with open(path, "rb") as body:
                        r = http.post("/v1/products:import", content=body, headers={"Content-Type": "text/csv"})
                    if r.status_code != 200:
                        raise SystemExit(f"import refused: {r.status_code} {r.text[:500]}")
                    imported += r.json()["imported"]
                    errors += len(r.json()["errors"])
            import_s = time.monotonic() - started
            during = (health.samples[marks[0] : health.mark()], search.samples[marks[1] : search.mark()])
            out["import"] = {
                "seconds": round(import_s, 2),
                "imported": imported,
                "errors": errors,
                "products_per_s": round(imported / import_s),
                "api_rss_mb_after": round(proc_status(pid)["rss_kb"] / 1024, 1),
            }
            out["during_import"] = {"health": summary(during[0]), "search": summary(during[1])}
            marks = (health.mark(), search.mark())
            time.sleep(args.search_s)
            after = (health.samples[marks[0] : health.mark()], search.samples[marks[1] : search.mark()])
            out["loaded"] = {"health": summary(after[0]), "search": summary(after[1], per_query=True)}
            health.stop_flag.set()
            search.stop_flag.set()
            health.join()
            search.join()
            status = proc_status(pid)
            out["api_rss_mb_end"] = round(status["rss_kb"] / 1024, 1)
            out["api_hwm_mb"] = round(status["hwm_kb"] / 1024, 1)
        finally:
            api.stop()
    if args.keep:
        print(f"[bench] work dir kept: {root}", flush=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--parts", type=int, default=1, help="import the catalog as this many files, one after another")
    parser.add_argument("--search-s", type=float, default=20.0, help="seconds of searching once the catalog is loaded")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep the work dir (broker data, API log, CSV files)")
    args = parser.parse_args()
    result = run(args)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for name in (f"{stamp}-search.json", "latest-search.json"):
        (args.out / name).write_text(text + "\n")
    brief = {k: result[k] for k in ("import", "during_import", "api_rss_mb_before", "api_rss_mb_end", "api_hwm_mb")}
    brief["loaded"] = {
        "health": result["loaded"]["health"],
        "search": {k: v for k, v in result["loaded"]["search"].items() if k != "queries"},
    }
    print(json.dumps(brief, indent=2), flush=True)
    print(f"[bench] results: {args.out / f'{stamp}-search.json'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
