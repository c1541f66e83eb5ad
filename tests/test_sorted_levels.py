"""The book side's sorted price list stays exactly the dict's keys, in order, whatever is set,
for both orientations (bids: best = highest; asks: best = lowest)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderbook.sorted_levels import SortedLevels

levels = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 3)), max_size=25)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), levels, st.lists(levels, max_size=12))
def test_prices_track_the_levels_through_any_sequence_of_updates(best_high, start, updates) -> None:  # type: ignore[no-untyped-def]
    side = SortedLevels(((p, q) for p, q in start if q), best_high=best_high)
    reference = {p: q for p, q in start if q}
    for update in updates:
        side.set_levels(update)
        for p, q in update:  # absolute quantities, 0 deletes (absent or not)
            if q:
                reference[p] = q
            else:
                reference.pop(p, None)
        ascending = sorted(reference)
        assert side == reference
        assert list(side) == side.keys() == ascending
        assert list(reversed(side)) == ascending[::-1]
        assert list(side.items()) == sorted(reference.items())
        assert list(reversed(side.items())) == sorted(reference.items(), reverse=True)
        assert side.values() == [reference[p] for p in ascending]
        best_first = ascending[::-1] if best_high else ascending
        assert side.best_prices(3) == best_first[:3]
        assert side.best() == ((best_first[0], reference[best_first[0]]) if reference else None)
        assert side.best_price() == (best_first[0] if reference else None)
        if reference:
            assert side.peekitem(-1) == max(reference.items())
            assert side.peekitem(0) == min(reference.items())
            assert side.peekitem(1 % len(ascending)) == sorted(reference.items())[1 % len(ascending)]
            assert side.peekitem(-2 % len(ascending) - len(ascending)) \
                == sorted(reference.items())[-2 % len(ascending) - len(ascending)]
        assert side.irange(10, 20) == [p for p in ascending if 10 <= p <= 20]
        assert side.copy() == reference and side.copy().best() == side.best()


def test_mutators_that_would_bypass_the_price_list_are_refused() -> None:
    side = SortedLevels([(5, 1), (7, 2)], best_high=False)
    for call in (lambda: side.pop(5), side.popitem, lambda: side.setdefault(9, 1),
                 lambda: side.update({9: 1})):
        with pytest.raises(TypeError, match="set_levels"):
            call()
    assert side.keys() == [5, 7] and dict(side) == {5: 1, 7: 2} and side.best() == (5, 1)
    side.clear()
    assert side.keys() == [] and not side and side.best() is None and side.best_prices(2) == []
