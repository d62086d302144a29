"""Field types shared by the event models: exact decimals, identifiers, RFC 3339 times."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from functools import lru_cache
from typing import Annotated, Any, cast

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, PlainSerializer, WrapValidator
from pydantic_core import PydanticCustomError

MAX_LINES = 200

# Identifiers end up in Kafka keys and state keys ("store|sku"), so they are kept to a safe alphabet.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
StoreId = Annotated[str, Field(pattern=ID_PATTERN, description="Store identifier (letters, digits, . _ : -)")]
Sku = Annotated[str, Field(pattern=ID_PATTERN, description="Stock keeping unit (letters, digits, . _ : -)")]
TerminalId = Annotated[str, Field(min_length=1, max_length=64)]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_only(value: Any) -> Any:
    """Accept RFC 3339 strings with an offset (or datetimes that carry one); refuse epoch numbers."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with a UTC offset, e.g. 2026-11-22T09:30:00+05:00")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]

# An event's time lies between EARLIEST and the server's clock plus the allowed skew of a terminal's
# clock, so that every date computation downstream (store-local days, partitions, reports) is
# defined for it: datetime arithmetic overflows near years 1 and 9999.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_clock_skew = timedelta(days=1)


def set_clock_skew(seconds: float) -> None:
    """How far ahead of the server's clock a terminal's ``occurred_at`` may be (BAZAAR_CLOCK_SKEW_S)."""
    global _clock_skew
    _clock_skew = timedelta(seconds=seconds)


def latest_accepted(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + _clock_skew


def _in_range(value: datetime) -> datetime:
    if value < EARLIEST:
        raise PydanticCustomError("time_too_early", "must be on or after 2000-01-01T00:00:00Z")
    if value > latest_accepted():
        raise PydanticCustomError(
            "time_in_future",
            "must not be later than the server's clock plus {skew_s} s (check the terminal's clock)",
            {"skew_s": int(_clock_skew.total_seconds())},
        )
    return value


EventTime = Annotated[
    Timestamp,
    AfterValidator(_in_range),
    Field(
        description="RFC 3339 with offset, between 2000-01-01T00:00:00Z and the server's clock"
        " plus a clock-skew allowance (1 day by default)"
    ),
]


def _no_float(value: Any) -> Any:
    """Floats are refused unless they came from JSON numbers the API parsed as Decimal already;
    strings are plain decimals (Python's Decimal would also read "1_000" and " 5 ")."""
    if isinstance(value, bool):
        raise ValueError("must be a decimal number or a decimal string")
    if isinstance(value, float):
        raise ValueError('must be exact: send a decimal string such as "0.125"')
    if isinstance(value, str) and _NOT_PLAIN.search(value):
        raise ValueError('must be a plain decimal string: no spaces, underscores or grouping, e.g. "1000" or "0.125"')
    return value


_NOT_PLAIN = re.compile(r"[\s_]")


@lru_cache(maxsize=65_536)  # equal decimals (1.5, 1.50) print the same: prices and quantities repeat
def decimal_text(value: Decimal) -> str:
    """A decimal as the contract writes it: no exponent, no trailing zeros, zero as "0"."""
    return format(value.normalize(), "f") if value else "0"


_DecimalOut = PlainSerializer(decimal_text, return_type=str, when_used="json")


def _too_many_places(places: int) -> PydanticCustomError:
    return PydanticCustomError(
        "decimal_max_places", "Decimal input should have no more than {decimal_places} decimal places", {"decimal_places": places}
    )


# any exponent a parsed decimal can have: normalizing "9E999999" must not trap Overflow
_UNBOUNDED = Context(Emax=MAX_EMAX, Emin=MIN_EMIN)


def _exact(places: int, whole_digits: int) -> AfterValidator:
    """One cheap check instead of pydantic's digit counting (this runs for every line, twice)."""
    limit = Decimal(10) ** whole_digits
    step = Decimal(1).scaleb(-places)  # 0.001 for 3 places

    def too_many_places(value: Decimal) -> bool:  # trailing zeros do not count: 1.2500 has 2
        # (only called for finite values: the exponent is an int, not "n", "N" or "F")
        return cast(int, value.as_tuple().exponent) < -places and cast(int, value.normalize(_UNBOUNDED).as_tuple().exponent) < -places

    def check(value: Decimal) -> Decimal:
        # the same error types and context pydantic's own constraints raise, in the same order
        if not value.is_finite():
            raise PydanticCustomError("finite_number", "Input should be a finite number")
        if value.copy_abs() < limit:  # (exact: abs() would round and trap Overflow for "1E1000000")
            # in range, so quantize is exact (at most 16 digits): equal unless digits were cut off
            if value != value.quantize(step):
                raise _too_many_places(places)
            return value
        if too_many_places(value):
            raise _too_many_places(places)
        raise PydanticCustomError(
            "decimal_whole_digits",
            "Decimal input should have no more than {whole_digits} digits before the decimal point",
            {"whole_digits": whole_digits},
        )

    return AfterValidator(check)


def _plain_first(places: int, whole_digits: int, negative: bool, rule: Callable[[Decimal], bool] | None = None) -> WrapValidator:
    """A shortcut around the whole chain for the common input, a plain decimal string ("0.125",
    "-2", "45.50"): such a string has at most ``whole_digits`` digits before the point and
    ``places`` after it by its very shape, so the chain would accept it and return
    ``Decimal(text)``; that is returned directly when ``rule`` (the sign) holds too. Everything
    else -- numbers, exponents, too many digits, a failing sign -- goes through the chain, which
    alone words the errors. (Every line of every event has one or two decimals, validated in the
    API and again in the worker: the chain is four calls into Python for each.)"""
    sign = "-?" if negative else ""
    plain = re.compile(rf"{sign}[0-9]{{1,{whole_digits}}}(?:\.[0-9]{{1,{places}}})?").fullmatch

    longest = negative + whole_digits + 1 + places  # longer texts are never plain (and never memoised)

    @lru_cache(maxsize=16_384)  # quantities and prices repeat: a hit costs less than the match alone
    def accepted(text: str) -> Decimal | None:
        if plain(text):
            number = Decimal(text)  # (immutable: one object can serve every event that sent this text)
            if rule is None or rule(number):
                return number
        return None

    def validate(value: Any, chain: Any) -> Decimal:
        if value.__class__ is str and len(value) <= longest:
            number = accepted(value)
            if number is not None:
                return number
        checked: Decimal = chain(value)
        return checked

    return WrapValidator(validate)


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _non_zero(value: Decimal) -> Decimal:
    if value == 0:
        raise ValueError("must not be 0")
    return value


# Quantities: up to 3 decimal places (grams of a kg item), money: up to 2 (paisa).
_QUANTITY = (BeforeValidator(_no_float), _exact(3, 12), Field(description="Exact decimal, at most 3 decimal places (string or number)"))
Quantity = Annotated[Decimal, *_QUANTITY, _plain_first(3, 12, True), _DecimalOut]
Money = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    _exact(2, 13),
    Field(ge=0, description="Exact decimal, at most 2 decimal places (string or number)"),
    _plain_first(2, 13, False),
    _DecimalOut,
]
PositiveQuantity = Annotated[Decimal, *_QUANTITY, AfterValidator(_positive), _plain_first(3, 12, False, lambda d: d > 0), _DecimalOut]
NonNegativeQuantity = Annotated[Decimal, *_QUANTITY, AfterValidator(_non_negative), _plain_first(3, 12, False), _DecimalOut]
NonZeroQuantity = Annotated[Decimal, *_QUANTITY, AfterValidator(_non_zero), _plain_first(3, 12, True, lambda d: d != 0), _DecimalOut]
