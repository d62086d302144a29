"""The RocksDB value codec round-trips every field of a key's state."""
import pytest
from hypothesis import given, strategies as st

from domain.alerts import AlertState
from domain.stock import StockState
from streams.state import decode, encode

pytestmark = pytest.mark.unit

ints = st.integers(-(2**62), 2**62)
moves = st.dictionaries(st.uuids().map(str), st.tuples(ints, ints, st.text(max_size=16), ints).map(list), max_size=5)


alerts = st.builds(
    AlertState,
    st.dictionaries(st.sampled_from(["low_stock", "out_of_stock"]), st.uuids().map(str)),
    st.dictionaries(st.integers(0, 30000), ints),
    st.none() | st.integers(0, 30000),
    st.lists(st.lists(st.text(max_size=8), max_size=2), max_size=3),
)


@given(st.builds(StockState, st.none() | ints, st.text(max_size=36), ints, st.text(max_size=16), ints, ints, ints,
                 st.none() | ints, moves, st.none() | ints, alerts, ints, st.none() | ints))
def test_round_trip(state):
    assert decode(encode(state)) == state
