"""The API's answers: what each route of ``api/`` sends back, and the one shape of its errors.

Part of the one contract: the event, catalog, alert and webhook models are what the API accepts
and the wire carries; these are what a POS vendor, the web app or a contract test reads back.
Where an answer *is* a contract model (a ``Product``, a ``Store``, a webhook ``DeadLetter``), the
route declares that model and nothing here repeats it. Money and quantities are decimal strings,
instants RFC 3339, as everywhere in the contract.

The API's own error answers (4xx and 5xx, ``api/errors.py``, ``api/guard.py``) are one shape::

    {"error": "invalid_event", "detail": [{"index": 0, "field": "lines[0].quantity", "reason": "..."}]}
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from schemas.alerts import Alert, AlertAck, AlertKind
from schemas.auth import ANSWERS as AUTH_ANSWERS
from schemas.catalog import Product, Store, StoreProduct
from schemas.types import Quantity, Sku, StoreId, Timestamp
from schemas.webhooks import DeadLetter, MessageType

AlertState = Literal["active", "superseded", "acknowledged", "cleared", "replaced"]
Overridable = Literal["price", "reorder_point", "active"]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


# ---- errors ------------------------------------------------------------------------------------------


class Issue(_Answer):
    index: int | None = Field(description="Position of the event in a batch; null for one event or a request-level problem")
    field: str | None = Field(description="Path into the event or body (`lines[0].quantity`); null when the whole request is at fault")
    reason: str


class ErrorBody(_Answer):
    """Every 4xx and 5xx the API makes (stock lookups' worker errors are rewritten to it)."""

    error: str = Field(description="A stable code: invalid_event, not_found, broker_unavailable, ...")
    detail: list[Issue]


class IngestFailure(ErrorBody):
    """``POST /v1/events`` answered 503: which events Kafka acknowledged and which it did not.
    Re-sending the whole request is safe (event ids dedupe downstream)."""

    delivered: list[UUID] | None = Field(default=None, description="Event ids stored (broker_unavailable only)")
    failed: list[UUID] | None = Field(default=None, description="Event ids not stored (broker_unavailable only)")


# ---- events and health -------------------------------------------------------------------------------


class Accepted(_Answer):
    """``POST /v1/events``: every event was acknowledged by Kafka."""

    accepted: int = Field(description="How many events the request held")
    event_ids: list[UUID] = Field(description="In the order posted")
    token: str = Field(description="Pass as `after` to a stock lookup to read your own writes")


class Health(_Answer):
    status: Literal["ok", "unavailable", "starting"] = Field(
        description="ok (200); unavailable: no broker answers (503); starting: the views are still being read (503)"
    )
    broker: Literal["up", "down"]
    views: dict[str, bool] | None = Field(default=None, description="While starting: which views have caught up")


# ---- stock (answered by the stream workers) ------------------------------------------------------------


class StockItem(_Answer):
    store_id: StoreId
    sku: Sku
    on_hand: Quantity = Field(description="Base units on hand (may be negative: sold before it was received)")
    negative: bool
    last_count_at: Timestamp | None = Field(description="occurred_at of the last stock count")
    last_count_quantity: Quantity | None
    updated_at: Timestamp | None = Field(description="received_at of the last event applied")
    movements_since_count: int


class StockPage(_Answer):
    items: list[StockItem]
    next_cursor: Sku | None = Field(description="Pass as `cursor` for the next page; null on the last page")


# ---- alerts --------------------------------------------------------------------------------------------


class AlertWithState(Alert):
    """An alert as a store sees it: the message the stream raised plus where it stands now."""

    state: AlertState
    acknowledged: AlertAck | None = Field(description="The first acknowledgement, if any")
    cleared_at: Timestamp | None = Field(description="When stock rose back past the threshold")
    cleared_by: UUID | None = Field(description="alert_id of the AlertCleared message that ended it")
    acked_by: str | None = Field(
        default=None, description="Who acknowledged it (the token's name and id); null: not acknowledged, or by nobody named"
    )
    acked_at: Timestamp | None = Field(default=None, description="When it was acknowledged")


class AlertPage(_Answer):
    items: list[AlertWithState]
    next_cursor: int | None = Field(description="state=all: pass as `cursor` for older alerts; null on the last page")


class AckAnswer(_Answer):
    alert_id: UUID
    acknowledged: AlertAck = Field(description="The ack that stands (the first one)")
    already: bool = Field(description="true when the alert had been acknowledged before this request")


# ---- a store's lists: quick keys, reorder ---------------------------------------------------------------


class QuickKey(_Answer):
    sku: Sku
    name: str
    names: dict[str, str] = Field(description="The catalog's names in other languages, by code")
    unit: str = Field(description="The product's base unit")
    sold: int = Field(description="Sales (bills) that held it over the last 30 local days")


class QuickKeys(_Answer):
    """``GET /v1/stores/{store_id}/quick-keys``: the store's most sold products, most bills first;
    empty while the analytics process has no sales of the store (or does not answer)."""

    store_id: StoreId
    items: list[QuickKey]


class ReorderLine(_Answer):
    sku: Sku
    name: str
    names: dict[str, str]
    unit: str = Field(description="Base unit of on_hand, reorder_point and suggested")
    on_hand: Quantity
    reorder_point: Quantity = Field(description="The store's override, else the product's")
    suggested: Quantity = Field(description="Base units to order: whole packs of pack_unit (whole base units without a pack)")
    pack_unit: str | None = Field(description="The pack the suggestion is counted in (the product's largest); null: none")
    pack_size: Quantity | None = Field(description="Base units in one pack_unit")
    packs: int | None = Field(description="suggested / pack_size: how many packs to order")


class ReorderGroup(_Answer):
    supplier: str | None = Field(description="null: neither the catalog nor a purchase names one")
    source: Literal["catalog", "last_purchase"] | None = Field(description="Where the supplier came from")
    lines: list[ReorderLine]


class ReorderList(_Answer):
    """``GET /v1/stores/{store_id}/reorder``: products at or under their reorder point, by supplier
    (suppliers by name, the unnamed last; lines by sku). ``format=csv`` exports one row a line."""

    store_id: StoreId
    groups: list[ReorderGroup]
    suppliers_from_purchases: bool = Field(description="false: analytics did not answer, suppliers are the catalog's only")


# ---- catalog -------------------------------------------------------------------------------------------


class ProductPage(_Answer):
    items: list[Product] = Field(description="Best match first")
    next_cursor: str | None


class EffectiveProduct(Product):
    """A product as one store sees it: the store's overrides applied."""

    store_id: StoreId
    overridden: list[Overridable] = Field(description="Fields whose value came from the store's override")


class StorePage(_Answer):
    items: list[Store]
    next_cursor: StoreId | None


class ImportRowError(_Answer):
    line: int = Field(description="Line of the CSV file (the header is line 1)")
    sku: str | None
    reason: str


class ImportReport(_Answer):
    imported: int
    errors: list[ImportRowError] = Field(description="The first 1,000 rows refused, by line")
    more_errors: int | None = Field(default=None, description="Rows refused beyond those listed (absent when none)")


class UncataloguedSku(_Answer):
    sku: Sku
    events: int
    first_seen: Timestamp
    last_seen: Timestamp


class UncataloguedStore(_Answer):
    store_id: StoreId
    events: int
    first_seen: Timestamp
    last_seen: Timestamp
    unknown_skus: list[UncataloguedSku]


class CatalogCounts(_Answer):
    products: int
    stores: int
    overrides: int


class Uncatalogued(_Answer):
    stores: list[UncataloguedStore] = Field(description="Unregistered stores that sent events, over every API instance")
    counts: CatalogCounts


# ---- reports (answered by the analytics process) --------------------------------------------------------


class ReportParam(_Answer):
    name: str
    type: str = Field(description="ClickHouse type of the value")
    required: bool
    help: str


class ReportInfo(_Answer):
    name: str
    title: str
    store_scoped: bool = Field(description="Has a store_id parameter: /v1/stores/{store_id}/reports/{name} exists")
    params: list[ReportParam]


class ReportList(_Answer):
    reports: list[ReportInfo]


class ReportColumn(_Answer):
    name: str
    type: str = Field(description="ClickHouse type")


class ReportTable(_Answer):
    report: str
    params: dict[str, Any] = Field(description="Every parameter as resolved (defaults filled in)")
    columns: list[ReportColumn]
    rows: list[dict[str, Any]] = Field(description="One object a row, keyed by column name; decimals as strings")


# ---- webhooks ------------------------------------------------------------------------------------------


class WebhookOut(_Answer):
    """A registration as the API shows it: everything but the secret."""

    webhook_id: UUID
    url: AnyHttpUrl
    store_ids: list[StoreId] = Field(description="Only these stores; empty = all")
    kinds: list[AlertKind] = Field(description="Only these alert kinds; empty = all")
    types: list[MessageType]
    created_at: Timestamp


class WebhookCreated(WebhookOut):
    """The answer to a registration: the one answer that may carry a secret."""

    secret: str | None = Field(
        default=None, description="The signing secret the server made (when the body had none): shown here once, never again"
    )


class WebhookList(_Answer):
    items: list[WebhookOut]


class WebhookDeadLetters(_Answer):
    items: list[DeadLetter]


# Every model an answer of the API is (the contract models it sends back as they are included).
ANSWERS: tuple[type[BaseModel], ...] = (
    ErrorBody,
    IngestFailure,
    Accepted,
    Health,
    StockItem,
    StockPage,
    AlertWithState,
    AlertPage,
    AckAnswer,
    QuickKeys,
    ReorderList,
    Product,
    ProductPage,
    EffectiveProduct,
    Store,
    StorePage,
    StoreProduct,
    ImportReport,
    Uncatalogued,
    ReportList,
    ReportTable,
    WebhookOut,
    WebhookCreated,
    WebhookList,
    DeadLetter,
    WebhookDeadLetters,
    *AUTH_ANSWERS,  # tokens, credentials, pairing codes, the key set (schemas/auth.py)
)
