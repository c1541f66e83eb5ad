"""The book side's sorted price list stays exactly the dict's keys, in order, whatever is set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderbook.sorted_levels import SortedLevels

levels = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 3)), max_size=25)


@settings(max_examples=300, deadline=None)
@given(levels, st.lists(levels, max_size=12))
def test_prices_track_the_levels_through_any_sequence_of_updates(start, updates) -> None:  # type: ignore[no-untyped-def]
    side = SortedLevels((p, q) for p, q in start if q)
    reference = {p: q for p, q in start if q}
    for update in updates:
        side.set_levels(update)
        for p, q in update:  # absolute quantities, 0 deletes (absent or not)
            if q:
                reference[p] = q
            else:
                reference.pop(p, None)
        assert side == reference
        assert side.prices == sorted(reference) == list(side) == side.keys()
        assert list(side.items()) == sorted(reference.items())
        assert list(reversed(side.items())) == sorted(reference.items(), reverse=True)
        if reference:
            assert side.peekitem(-1) == max(reference.items())
            assert side.peekitem(0) == min(reference.items())
        assert side.irange(10, 20) == sorted(p for p in reference if 10 <= p <= 20)


def test_mutators_that_would_bypass_the_price_list_are_refused() -> None:
    side = SortedLevels([(5, 1), (7, 2)])
    for call in (lambda: side.pop(5), side.popitem, lambda: side.setdefault(9, 1),
                 lambda: side.update({9: 1})):
        with pytest.raises(TypeError, match="set_levels"):
            call()
    assert side.prices == [5, 7] and dict(side) == {5: 1, 7: 2}
    side.clear()
    assert side.prices == [] and not side
