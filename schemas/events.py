"""Version 1 of the POS event contract, one pydantic model per event type.

Every event carries a terminal-made ``event_id`` (the idempotency key), the store, the terminal,
the terminal's clock (``occurred_at``) and 1 to 200 lines. The server adds ``received_at``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from schemas.types import (
    MAX_LINES,
    EventTime,
    Money,
    NonNegativeQuantity,
    NonZeroQuantity,
    PositiveQuantity,
    Quantity,
    Sku,
    StoreId,
    TerminalId,
)

ADJUSTMENT_REASONS = ("damage", "expiry", "theft", "own_use", "correction")
AdjustmentReason = Literal["damage", "expiry", "theft", "own_use", "correction"]
RETURN_REASONS = ("customer_return", "void")
ReturnReason = Literal["customer_return", "void"]

# Bounds a real shop never reaches, so a fat finger or a scanner's digits in a quantity box are
# refused: a line's quantity in the product's base unit, and money per unit.
MAX_LINE_QUANTITY = Decimal(1_000_000)
MAX_UNIT_MONEY = Decimal(10_000_000)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _unit_money(value: Decimal) -> Decimal:
    if value > MAX_UNIT_MONEY:
        raise ValueError(f"must be at most {MAX_UNIT_MONEY} a unit")
    return value


UnitMoney = Annotated[
    Money,
    AfterValidator(_unit_money),
    Field(
        description=f"Exact decimal, at most 2 decimal places (string or number); money per unit, at most {MAX_UNIT_MONEY}",
        json_schema_extra={"maximum": int(MAX_UNIT_MONEY)},
    ),
]


def quantity_issue(quantity: Decimal, unit: str | None) -> str | None:
    """Why a line's base quantity is out of bounds (None: it is not)."""
    if quantity.copy_abs() > MAX_LINE_QUANTITY:
        return f"{quantity}{' ' + unit if unit else ''} is more than {MAX_LINE_QUANTITY} (base units a line)"
    return None


class _Line(_Model):
    """A line whose quantity, when it is in the product's base unit (no ``unit``, or converted by the
    server), is at most MAX_LINE_QUANTITY; the API checks a line it converts after converting it."""

    @model_validator(mode="after")
    def _bounded(self) -> _Line:
        unit = getattr(self, "unit", None)
        if unit is None or getattr(self, "entered_unit", None) is not None:
            why = quantity_issue(getattr(self, "quantity"), unit)  # noqa: B009  (every line has one)
            if why is not None:
                raise ValueError(f"quantity: {why}")
        return self


# ---- lines -------------------------------------------------------------------------------------

# Pack and measure units on a line: the API converts to the product's base unit before producing.
LineUnit = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=24,
        description=(
            "Unit of `quantity` when it is not the product's base unit: a pack (carton, dozen) or a measure "
            "(g, kg, ml, litre); the API converts to the base unit"
        ),
    ),
]
EnteredQuantity = Annotated[
    Quantity | None,
    Field(description=("Set by the server when it converted the line: the quantity as entered, in `entered_unit`; ignored on input")),
]
EnteredUnit = Annotated[
    str | None, Field(max_length=24, description=("Set by the server when it converted the line: the unit as entered; ignored on input"))
]


class SaleLine(_Line):
    sku: Sku
    quantity: PositiveQuantity = Field(description="Units (or kg, litres) sold; leaves stock")
    unit_price: UnitMoney
    unit: LineUnit = None
    entered_quantity: EnteredQuantity = None
    entered_unit: EnteredUnit = None


class PurchaseLine(_Line):
    sku: Sku
    quantity: PositiveQuantity = Field(description="Units received; arrives in stock")
    unit_cost: UnitMoney
    unit: LineUnit = None
    entered_quantity: EnteredQuantity = None
    entered_unit: EnteredUnit = None


class ReturnLine(_Line):
    sku: Sku
    quantity: PositiveQuantity = Field(description="Units a customer brought back; arrive back in stock")
    unit_price: UnitMoney | None = Field(default=None, description="Refund per unit, if any")
    unit: LineUnit = None
    entered_quantity: EnteredQuantity = None
    entered_unit: EnteredUnit = None


class AdjustmentLine(_Line):
    sku: Sku
    quantity: NonZeroQuantity = Field(description="Signed change to on-hand; negative for every reason but correction")
    reason: AdjustmentReason | None = Field(default=None, description="Overrides the event's reason for this line")
    unit: LineUnit = None
    entered_quantity: EnteredQuantity = None
    entered_unit: EnteredUnit = None


class CountLine(_Line):
    sku: Sku
    quantity: NonNegativeQuantity = Field(description="On-hand found by the physical count, as of occurred_at")
    unit: LineUnit = None
    entered_quantity: EnteredQuantity = None
    entered_unit: EnteredUnit = None


class TransferLine(_Line):
    sku: Sku
    quantity: PositiveQuantity = Field(description="Units leaving store_id and arriving at to_store_id")
    unit: LineUnit = None
    entered_quantity: EnteredQuantity = None
    entered_unit: EnteredUnit = None


# ---- events ------------------------------------------------------------------------------------


class _EventBase(_Model):
    v: Literal[1] = 1
    event_id: UUID = Field(description="Made by the terminal; the idempotency key of the event")
    store_id: StoreId
    terminal_id: TerminalId
    occurred_at: EventTime = Field(
        description=("Terminal clock, RFC 3339 with offset; from 2000-01-01T00:00:00Z to the server's clock plus its clock-skew allowance")
    )
    received_at: EventTime | None = Field(default=None, description="Set by the server; ignored on input")
    actor: str | None = Field(default=None, max_length=64, description="Cashier or user who recorded it")
    note: str | None = Field(default=None, max_length=500)


_L = TypeVar("_L")
_Lines = Annotated[list[_L], Field(min_length=1, max_length=MAX_LINES)]  # _Lines[SaleLine]: 1 to MAX_LINES lines


class Sale(_EventBase):
    type: Literal["sale"]
    lines: _Lines[SaleLine]


class Purchase(_EventBase):
    type: Literal["purchase"]
    supplier: str = Field(min_length=1, max_length=120)
    lines: _Lines[PurchaseLine]


class Return(_EventBase):
    """Goods coming back: a customer's return (its lines go back into stock), or the void of a sale
    recorded by mistake (reason void, naming the sale in original_event_id): the sale's stock is
    restored as the sale took it, once, and the sale leaves the day's sales."""

    type: Literal["return"]
    original_event_id: UUID | None = Field(default=None, description="The sale this returns or voids (required for a void)")
    reason: ReturnReason | None = Field(
        default=None,
        description="customer_return (absent: the default) or void: the sale was recorded by mistake and is undone whole",
    )
    lines: _Lines[ReturnLine]

    @model_validator(mode="after")
    def _void_names_its_sale(self) -> Return:
        if self.reason == "void" and self.original_event_id is None:
            raise ValueError("original_event_id: required for a void (the event id of the sale it voids)")
        return self

    @property
    def is_void(self) -> bool:
        return self.reason == "void"


class Adjustment(_EventBase):
    type: Literal["adjustment"]
    reason: AdjustmentReason | None = Field(default=None, description="Reason for every line without its own")
    lines: _Lines[AdjustmentLine]

    @model_validator(mode="after")
    def _signs_follow_reasons(self) -> Adjustment:
        for i, line in enumerate(self.lines):
            reason = line.reason or self.reason
            if reason is None:
                raise ValueError(f"lines[{i}].reason: required (on the line or the event)")
            if reason != "correction" and line.quantity > 0:
                raise ValueError(f"lines[{i}].quantity: must be negative for reason {reason!r} (only a correction may add stock)")
        return self

    def reason_of(self, line: AdjustmentLine) -> str:
        return line.reason or self.reason or "correction"


class Count(_EventBase):
    type: Literal["count"]
    lines: _Lines[CountLine]


class Transfer(_EventBase):
    type: Literal["transfer"]
    to_store_id: StoreId
    lines: _Lines[TransferLine]

    @model_validator(mode="after")
    def _different_stores(self) -> Transfer:
        if self.to_store_id == self.store_id:
            raise ValueError("to_store_id: must differ from store_id")
        return self


Event = Annotated[Sale | Purchase | Return | Adjustment | Count | Transfer, Field(discriminator="type")]
EventAdapter: TypeAdapter[Event] = TypeAdapter(Event)
Line = SaleLine | PurchaseLine | ReturnLine | AdjustmentLine | CountLine | TransferLine  # a line of any event
EVENT_TYPES = ("sale", "purchase", "return", "adjustment", "count", "transfer")


class EventBatch(_Model):
    """Body of ``POST /v1/events`` with several events."""

    events: list[Event] = Field(min_length=1, max_length=500)


def loads_exact(body: bytes | str) -> Any:
    """Parse JSON keeping every number exact (JSON numbers become Decimal, never float)."""
    return json.loads(body, parse_float=Decimal)


def to_wire(event: Event) -> bytes:
    """The bytes written to Kafka: the model's JSON, decimals as strings."""
    return event.model_dump_json(exclude_none=True).encode()


def from_wire(data: bytes) -> Event:
    return EventAdapter.validate_json(data)
