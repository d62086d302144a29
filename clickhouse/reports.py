"""The reports: SQL files in ``sql/`` with ``{name:Type}`` query parameters, and what each parameter
means, defaults to and accepts. ``run`` resolves parameters and returns a ``Table``.

A store's day is its local day (its catalog time zone, UTC for a store the catalog does not know);
instants are UTC. Parameters and their resolved values are always echoed back with the rows.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clickhouse import metrics
from clickhouse.client import Database
from clickhouse.errors import BadParameter, UnknownReport

SQL_DIR = Path(__file__).parent / "sql"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
UTC = UTC
END_OF_TIME = datetime(2299, 12, 31, 23, 59, 59, tzinfo=UTC)  # DateTime64's last day
START_OF_TIME = datetime(1970, 1, 1, tzinfo=UTC)

# parameter kind -> the ClickHouse type its placeholder must use
TYPES = {
    "store": "String",
    "sku": "String",
    "date": "Date",
    "time": "DateTime64(6, 'UTC')",
    "count": "UInt32",
    "quantity": "Decimal(18, 3)",
    "stores": "Array(String)",
}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    help: str
    default: Callable[[dict[str, Any]], Any] | None = None  # gets the values resolved before it; None: required
    minimum: int = 0
    maximum: int = 100_000

    @property
    def required(self) -> bool:
        return self.default is None

    def parse(self, text: str) -> Any:
        try:
            return _PARSERS[self.kind](self, text.strip())
        except (ValueError, InvalidOperation, OverflowError) as exc:  # (an offset that leaves years 1..9999)
            raise BadParameter(self.name, str(exc) or "invalid value") from None


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    params: tuple[Param, ...]
    store_scoped: bool = True  # has a store_id parameter, so /v1/stores/{store_id}/reports/<name> exists
    columns_help: str = ""

    @property
    def path(self) -> Path:
        return SQL_DIR / f"{self.name}.sql"

    @property
    def sql(self) -> str:
        return self.path.read_text()

    def describe(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "store_scoped": self.store_scoped,
            "params": [{"name": p.name, "type": TYPES[p.kind], "required": p.required, "help": p.help} for p in self.params],
        }


@dataclass
class Table:
    report: str
    params: dict[str, Any]
    columns: list[str]
    types: list[str]
    rows: list[tuple] = field(default_factory=list)


# ---- parameters ---------------------------------------------------------------------------------


def _parse_id(p: Param, text: str) -> str:
    if text == "" and p.kind == "store" and not p.required:
        return ""
    if not _ID.match(text):
        raise ValueError("letters, digits and . _ : - (up to 64)")
    return text


def _parse_stores(p: Param, text: str) -> list[str]:
    stores = [s.strip() for s in text.split(",") if s.strip()]
    if len(stores) > p.maximum:
        raise ValueError(f"at most {p.maximum} stores")
    for s in stores:
        if not _ID.match(s):
            raise ValueError(f"{s[:70]!r}: store ids are letters, digits and . _ : - (up to 64)")
    return stores


def _parse_time(p: Param, text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("z", "Z"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # an instant without an offset is read as UTC
    value = value.astimezone(UTC)
    if not START_OF_TIME <= value <= END_OF_TIME:
        raise ValueError("out of range (1970 to 2299)")
    return value


def _parse_date(p: Param, text: str) -> date:
    value = date.fromisoformat(text)
    if not START_OF_TIME.date() <= value <= END_OF_TIME.date():  # a day's bounds must stay inside DateTime64's
        raise ValueError("out of range (1970 to 2299)")
    return value


def _parse_count(p: Param, text: str) -> int:
    value = int(text)
    if not p.minimum <= value <= p.maximum:
        raise ValueError(f"must be between {p.minimum} and {p.maximum}")
    return value


def _parse_quantity(p: Param, text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite() or value != value.quantize(Decimal("0.001")):
        raise ValueError("a decimal with at most 3 places")
    return value


_PARSERS: dict[str, Callable[[Param, str], Any]] = {
    "store": _parse_id,
    "sku": _parse_id,
    "date": lambda p, text: _parse_date(p, text),
    "time": _parse_time,
    "count": _parse_count,
    "quantity": _parse_quantity,
    "stores": _parse_stores,
}


def _now(_: dict) -> datetime:
    return datetime.now(UTC)


def utc_today(store_id: str) -> date:  # noqa: ARG001  (the day of a store the catalog does not know)
    return datetime.now(UTC).date()


def _local_today(_: dict) -> date:
    """Marks the default "today where the store is": ``resolve`` asks its ``today`` for it."""
    raise AssertionError("resolved by resolve(today=...)")


def local_today(timezones: list[str | None], now: datetime | None = None) -> date:
    """Today in the latest of these IANA time zones (None or unknown: UTC, as the SQL reads a store
    without one), so the day that is today for each of them is included."""
    now = now or datetime.now(UTC)
    days = []
    for name in timezones or [None]:
        try:
            zone = ZoneInfo(name) if name else UTC
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
        days.append(now.astimezone(zone).date())
    return max(days)


STORE_ALL = Param("store_id", "store", "store id ('' or absent: every store)", default=lambda v: "")
STORE_ONE = Param("store_id", "store", "store id")
# Every report over every store takes a scope: a store-scoped caller asking for every store gets its
# own (the analytics pages set it from the caller's token; a caller may narrow it, never widen it).
SCOPE = Param(
    "scope",
    "stores",
    "only these stores, comma-separated (absent: every store the caller may see)",
    default=lambda v: [],
    maximum=100_000,
)
AT = Param("at", "time", "as of this instant (RFC 3339; default now)", default=_now)
DAY_TO = Param(
    "to",
    "date",
    "last local day, inclusive (default: today where the store is; for every store, the latest store's today)",
    default=_local_today,
)
DAY_FROM = Param("from", "date", "first local day (default 6 days before `to`)", default=lambda v: v["to"] - timedelta(days=6))

REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "daily_sales",
            "Daily sales per store: bills, units, revenue (voided sales left out), cost of goods and gross margin at"
            " moving-average cost, voids, customer returns, refunds and net revenue, by the store's local day",
            (STORE_ALL, SCOPE, DAY_TO, DAY_FROM),
        ),
        Report(
            "top_sellers",
            "Top sellers by net revenue over local days (voided sales left out, customer returns netted)",
            (
                STORE_ALL,
                SCOPE,
                DAY_TO,
                DAY_FROM,
                Param("limit", "count", "how many (default 10)", default=lambda v: 10, minimum=1, maximum=10_000),
            ),
        ),
        Report(
            "slow_movers",
            "Slow movers and dead stock: stock on hand and no sale in the last N days (or never)",
            (
                STORE_ALL,
                SCOPE,
                AT,
                Param("days", "count", "days without a sale (default 30)", default=lambda v: 30, minimum=1, maximum=3650),
            ),
        ),
        Report(
            "stock_valuation",
            "Stock at cost per product: on-hand x moving-average cost (catalog cost when nothing was bought)",
            (STORE_ALL, SCOPE, AT),
        ),
        Report("stock_valuation_by_store", "Stock at cost per store", (STORE_ALL, SCOPE, AT)),
        Report(
            "stock_outs",
            "Stock-outs: when and how long each product was at or below zero",
            (
                STORE_ALL,
                SCOPE,
                Param("to", "time", "periods that began before this instant (default now); open periods run to it", default=_now),
                Param(
                    "from",
                    "time",
                    "periods still running after this instant (default 7 days before `to`)",
                    default=lambda v: v["to"] - timedelta(days=7),
                ),
            ),
        ),
        Report(
            "days_of_cover",
            "Days of cover: on-hand / average daily units sold over a window",
            (STORE_ALL, SCOPE, AT, Param("days", "count", "window in days (default 14)", default=lambda v: 14, minimum=1, maximum=3650)),
        ),
        Report(
            "low_stock",
            "Low stock: products at or below their reorder point",
            (
                STORE_ALL,
                SCOPE,
                AT,
                Param("threshold", "quantity", "reorder point for products without one (default 0)", default=lambda v: Decimal(0)),
            ),
        ),
        Report("stock_as_of", "The stock of a store as of any past instant", (STORE_ONE, AT)),
        Report(
            "voids",
            "The voids of a local day: the sale each undid, when, who, the amount, applied or flagged",
            (STORE_ONE, Param("date", "date", "the local day (default: today where the store is)", default=_local_today)),
        ),
        Report("last_suppliers", "The supplier of each product's last purchase at a store", (STORE_ONE,)),
        Report(
            "movement_history",
            "The movement history of one product in one store, with the stock after each",
            (
                STORE_ONE,
                Param("sku", "sku", "stock keeping unit"),
                Param("from", "time", "from this instant (default: the beginning)", default=lambda v: START_OF_TIME),
                Param("to", "time", "up to this instant (default: the end)", default=lambda v: END_OF_TIME),
            ),
        ),
    )
}


def get(name: str) -> Report:
    report = REPORTS.get(name)
    if report is None:
        raise UnknownReport(f"no report {name!r}; reports: {', '.join(sorted(REPORTS))}")
    return report


def resolve(report: Report, given: Mapping[str, str], today: Callable[[str], date] = utc_today) -> dict[str, Any]:
    """Parse the given values and fill in defaults; raises BadParameter. ``today(store_id)``: the local
    date that is today for that store ('' = every store: the latest of their todays), from the
    catalog's time zones (``store_today``); without a catalog, UTC's."""
    values: dict[str, Any] = {}
    for p in report.params:
        text = given.get(p.name)
        if text is not None and (text != "" or p.kind == "store"):
            values[p.name] = p.parse(text)
        elif p.default is None:  # required
            raise BadParameter(p.name, "required")
        elif p.default is _local_today:
            values[p.name] = today(values.get("store_id", ""))
        else:
            values[p.name] = p.default(values)
        if p.kind == "store" and p.required and values[p.name] == "":
            raise BadParameter(p.name, "required")
    return values


def store_today(db: Database, store_id: str) -> date:
    """Today where ``store_id`` is (its catalog time zone; UTC if the catalog does not know it), or for
    '' the latest today of every store the catalog knows and of UTC."""
    if store_id:
        rows = db.query("SELECT timezone FROM stores_current WHERE store_id = {s:String}", parameters={"s": store_id}).result_rows
        return local_today([rows[0][0] if rows else None])
    rows = db.query("SELECT DISTINCT timezone FROM stores_current").result_rows
    return local_today([None, *(r[0] for r in rows)])


def bind(values: dict[str, Any]) -> dict[str, Any]:
    """Values as clickhouse-connect binds them to {name:Type} placeholders."""
    out = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        out[name] = value
    return out


def run(db: Database, report: Report, values: dict[str, Any]) -> Table:
    started = time.perf_counter()
    params = bind(values)
    result = db.query(report.sql, parameters=params)
    columns, types = list(result.column_names), [t.name for t in result.column_types]
    if not columns:  # chDB sends no header for an empty result: ask for the columns
        described = db.query(f"DESCRIBE ({report.sql})", parameters=params).result_rows
        columns, types = [r[0] for r in described], [r[1] for r in described]
    metrics.REPORT_SECONDS.labels(report.name).observe(time.perf_counter() - started)
    return Table(report.name, values, columns, types, list(result.result_rows))


def placeholders(sql: str) -> dict[str, str]:
    """name -> ClickHouse type of every {name:Type} in the SQL."""
    out: dict[str, str] = {}
    for name, type_ in PLACEHOLDER.findall(sql):
        out[name] = type_.strip()
    return out
