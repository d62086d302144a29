"""A commit never passes an offset that was not acked (committed = the next offset to read)."""
from collections import defaultdict, namedtuple
from types import SimpleNamespace

import pytest
from intervaltree import IntervalTree

from streams import faust_fixes
from streams.faust_fixes import _new_offset

pytestmark = pytest.mark.unit


TP = namedtuple("TP", "topic partition")("events", 0)


def consumer(acked, committed):
    return SimpleNamespace(
        _acked=defaultdict(list, {TP: list(acked)}), _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {TP: committed}), _acked_index=defaultdict(set, {TP: set(acked)}),
    )


@pytest.mark.parametrize("committed", [0, 5])
def test_a_hole_at_the_head_blocks_the_commit(committed):
    # Faust's own check lets these through: it skips committed == 0 and allows one missing offset
    assert _new_offset(consumer([committed + 1, committed + 2], committed), TP) is None


def test_consecutive_acks_commit_up_to_the_first_hole():
    c = consumer([0, 1, 2, 4], 0)
    assert _new_offset(c, TP) == 3
    assert c._acked[TP] == [4]


def test_known_gaps_count_as_acked():
    c = consumer([0, 3], 0)
    c._gap[TP].addi(1, 3)
    assert _new_offset(c, TP) == 4


def test_a_group_with_no_commit_starts_at_zero_on_a_full_history_topic(monkeypatch):
    monkeypatch.setattr(faust_fixes, "_FULL_HISTORY", {"events"})
    assert _new_offset(consumer([1, 2], None), TP) is None
    assert _new_offset(consumer([0, 1], None), TP) == 2
