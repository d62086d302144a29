"""The exact-decimal check (schemas.types._exact) refuses exactly what digit counting refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from schemas.types import _exact

pytestmark = pytest.mark.unit


def _by_counting(value: Decimal, places: int, whole_digits: int) -> str | None:
    """The rule by digit counting: the error type pydantic's own constraints would raise, or None."""
    if not value.is_finite():
        return "finite_number"
    normal = value.normalize()
    if normal.as_tuple().exponent < -places:
        return "decimal_max_places"
    if abs(value) >= Decimal(10) ** whole_digits:
        return "decimal_whole_digits"
    return None


def _outcome(check, value: Decimal) -> str | None:
    try:
        check(value)
    except PydanticCustomError as exc:
        return exc.type
    return None


decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-(10**14), max_value=10**14, places=5),
    st.builds(lambda n, e: Decimal(n).scaleb(e), st.integers(-(10**20), 10**20), st.integers(-8, 14)),
)


@given(decimals)
def test_same_outcome_as_counting_digits(value):
    for places, whole in ((3, 12), (2, 13)):
        check = _exact(places, whole).func
        assert _outcome(check, value) == _by_counting(value, places, whole), (value, places)


@pytest.mark.parametrize(
    "text,error",
    [
        ("0.125", None),
        ("1.2500", None),
        ("1.2505", "decimal_max_places"),
        ("1E-30", "decimal_max_places"),
        ("1E+5", None),
        ("999999999999.999", None),
        ("1000000000000", "decimal_whole_digits"),
        ("1000000000000.0001", "decimal_max_places"),
        ("-0.001", None),
        ("0.1000000000000000000000000000001", "decimal_max_places"),
    ],
)
def test_examples(text, error):
    assert _outcome(_exact(3, 12).func, Decimal(text)) == error


# ---- the plain-string shortcut (schemas.types._plain_first) ----------------------------------

from typing import Annotated, get_args  # noqa: E402

from pydantic import TypeAdapter, ValidationError, WrapValidator  # noqa: E402

from schemas import types  # noqa: E402

DECIMAL_TYPES = {name: getattr(types, name) for name in ("Quantity", "Money", "PositiveQuantity", "NonNegativeQuantity", "NonZeroQuantity")}


def _without_shortcut(alias):
    base, *metadata = get_args(alias)
    kept = [m for m in metadata if not isinstance(m, WrapValidator)]
    assert len(kept) == len(metadata) - 1, "each decimal type has exactly one shortcut"
    return Annotated[(base, *kept)]


def _result(adapter: TypeAdapter, text: str, json: bool):
    try:
        value = adapter.validate_json(f'"{text}"') if json else adapter.validate_python(text)
    except ValidationError as exc:
        return [(e["type"], e["msg"], e["loc"]) for e in exc.errors()]
    return ("ok", str(value), value.as_tuple())  # str and digits too: 1.50 must stay 1.50


ADAPTERS = {name: (TypeAdapter(alias), TypeAdapter(_without_shortcut(alias))) for name, alias in DECIMAL_TYPES.items()}
decimal_texts = st.one_of(
    st.from_regex(r"\A-?[0-9]{1,14}(\.[0-9]{0,5})?\Z"),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(alphabet="-+.0123456789eE٣ _", max_size=16),
)


@given(decimal_texts)
def test_shortcut_changes_no_outcome(text):
    """Same value (and digits), or the same errors, with and without the shortcut, in both modes,
    the first time a text is seen and again (from the shortcut's memo of texts it accepted)."""
    for name, (fast, chain) in ADAPTERS.items():
        for json in (True, False):
            expected = _result(chain, text, json)
            assert _result(fast, text, json) == expected, (name, text, json)
            assert _result(fast, text, json) == expected, (name, text, json, "memo")


@pytest.mark.parametrize("text", ["0.125", "-2", "45.50", "0", "-0", "000123.100", "999999999999.999"])
def test_shortcut_examples_match(text):
    for name, (fast, chain) in ADAPTERS.items():
        assert _result(fast, text, True) == _result(chain, text, True), (name, text)


@pytest.mark.parametrize("text", ["1E1000000", "-1E1000000", "9.5E999999", "1E-1000000", "1.0000E-1000000"])
def test_exponents_beyond_the_default_context_are_refused_cleanly(text):
    """Found by the property test: abs() of 1E1000000 trapped decimal.Overflow (a 500, not a 422)."""
    for name, (fast, chain) in ADAPTERS.items():
        for json in (True, False):
            got = _result(fast, text, json)
            assert isinstance(got, list) and got, (name, text, json, got)
            assert got == _result(chain, text, json)
