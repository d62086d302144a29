"""The RocksDB value codec round-trips every field of a key's state."""
import pytest
from hypothesis import given, strategies as st

from domain.stock import Move, StockState
from streams.state import decode, encode

pytestmark = pytest.mark.unit

ints = st.integers(-(2**62), 2**62)
moves = st.dictionaries(st.uuids().map(str), st.builds(Move, ints, ints, st.text(max_size=16), ints), max_size=5)


@given(st.builds(StockState, st.none() | ints, st.text(max_size=36), ints, st.text(max_size=16), ints, ints, ints, st.none() | ints, moves, st.none() | ints))
def test_round_trip(state):
    assert decode(encode(state)) == state
