"""The RocksDB value codec round-trips every field of a key's state."""

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.alerts import AlertState
from domain.stock import StockState
from streams.codec import decode, encode

pytestmark = pytest.mark.unit

ints = st.integers(-(2**62), 2**62)
moves = st.dictionaries(
    st.uuids().map(str),
    st.tuples(ints, ints, st.text(max_size=16), ints, ints).map(list) | st.tuples(ints, ints, st.text(max_size=16), ints).map(list),
    max_size=5,
)  # (4 items: stored before receive times)


alerts = st.builds(
    AlertState,
    st.dictionaries(st.sampled_from(["low_stock", "out_of_stock"]), st.uuids().map(str)),
    st.dictionaries(st.integers(0, 30000), ints),
    st.none() | st.integers(0, 30000),
    st.lists(st.lists(st.text(max_size=8), max_size=2), max_size=3),
)


@given(
    st.builds(
        StockState,
        st.none() | ints,
        st.text(max_size=36),
        ints,
        st.text(max_size=16),
        ints,
        ints,
        ints,
        st.none() | ints,
        moves,
        st.none() | ints,
        alerts,
        ints,
        st.none() | ints,
        st.none() | ints,
    )
)
def test_round_trip(state):
    assert decode(encode(state)) == state


def test_a_value_written_before_the_horizon_was_kept_reads_as_it_did():
    # the previous layout: a 12-field header (no horizon), movements of four items (no receive time)
    old = b'[100,"c1",5000,"d",0,5000,-700,400,900,[{},[],null,[]],-1000,600]\n{"e1":[600,-1000,"x",5000]}'
    state = decode(old)
    assert state.horizon is None and state.folded_until == 400 and state.on_hand == 5000 - 700 - 1000
    assert dict(state.moves) == {"e1": [600, -1000, "x", 5000]}
    assert decode(encode(state)) == state and len(orjson.loads(encode(state).split(b"\n")[0])) == 13


# One sample value per stored layout (streams.codec): each must keep reading as the same state.
LAYOUT_SAMPLES = {
    "LAYOUT_1_ONE_ARRAY": b'[100,"c1",5000,"d",0,5000,-700,400,900,{"e1":[600,-1000,"x",5000]},[{},[],null,[]],-1000,600]',
    "LAYOUT_2_TWO_LINES": b'[100,"c1",5000,"d",0,5000,-700,400,900,[{},[],null,[]],-1000,600]\n{"e1":[600,-1000,"x",5000]}',
    "LAYOUT_3_TWO_LINES_HORIZON": b'[100,"c1",5000,"d",0,5000,-700,400,900,[{},[],null,[]],-1000,600,450]\n{"e1":[600,-1000,"x",5000,650]}',
}


@pytest.mark.parametrize("layout", sorted(LAYOUT_SAMPLES))
def test_every_inline_layout_reads_and_is_written_back_in_the_current_one(layout):
    from streams import codec

    assert hasattr(codec, layout)
    state = decode(LAYOUT_SAMPLES[layout])
    assert (state.count_at, state.count_id, state.base, state.folded_until, state.on_hand) == (100, "c1", -700, 400, 5000 - 700 - 1000)
    assert list(state.moves) == ["e1"]
    current = encode(state)
    header, moves = current.split(b"\n")
    assert len(orjson.loads(header)) == 13 and "e1" in orjson.loads(moves)  # LAYOUT_CURRENT: two lines, 13 fields
    assert decode(current) == state


def test_the_spilled_layout_reads_its_movements_from_their_own_keys(tmp_path):
    import rocksdict

    from streams import codec

    assert codec.LAYOUT_CURRENT != codec.LAYOUT_4_SPILLED  # read only: written back inline (BatchStates.flush)
    db = rocksdict.Rdict(str(tmp_path / "db"), options=rocksdict.Options(raw_mode=True))
    db[codec.moves_prefix(b"s1|rice") + b"e1"] = b'[600,-1000,"x",5000,650]'
    value = b'[100,"c1",5000,"d",0,5000,-700,400,900,[{},[],null,[]],-1000,600,450,1]'
    state = decode(value, db, b"s1|rice")
    assert isinstance(state.moves, codec.KeyMoves) and dict(state.moves) == {"e1": [600, -1000, "x", 5000, 650]}
    assert state.on_hand == 5000 - 700 - 1000
    db.close()
