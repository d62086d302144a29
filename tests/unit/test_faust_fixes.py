"""A commit never passes an offset that was not acked (committed = the next offset to read)."""
from collections import defaultdict
from types import SimpleNamespace

import pytest
from intervaltree import IntervalTree

from streams.faust_fixes import _new_offset

pytestmark = pytest.mark.unit


def consumer(acked, committed):
    return SimpleNamespace(
        _acked=defaultdict(list, {"tp": list(acked)}), _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {"tp": committed}), _acked_index=defaultdict(set, {"tp": set(acked)}),
    )


@pytest.mark.parametrize("committed", [0, 5])
def test_a_hole_at_the_head_blocks_the_commit(committed):
    # Faust's own check lets these through: it skips committed == 0 and allows one missing offset
    assert _new_offset(consumer([committed + 1, committed + 2], committed), "tp") is None


def test_consecutive_acks_commit_up_to_the_first_hole():
    c = consumer([0, 1, 2, 4], 0)
    assert _new_offset(c, "tp") == 3
    assert c._acked["tp"] == [4]


def test_known_gaps_count_as_acked():
    c = consumer([0, 3], 0)
    c._gap["tp"].addi(1, 3)
    assert _new_offset(c, "tp") == 4
