"""OFI measures against hand-computed cases."""

from __future__ import annotations

from features.order_flow import best_level_ofi, volume_ofi


def test_volume_ofi() -> None:
    # bid volume 8 -> 10 (+2), ask volume 9 -> 6 (-3): ofi = 2 - (-3) = 5
    assert volume_ofi(8, 9, 10, 6) == 5
    assert volume_ofi(8, 9, 8, 9) == 0
    # Only asks added: -(12 - 9) = -3
    assert volume_ofi(8, 9, 8, 12) == -3


def test_cks_same_prices_is_size_change() -> None:
    # Bid 100: 3 -> 5 gives +5 - 3 = +2 ; ask 102 unchanged at 1 gives -1 + 1 = 0
    assert best_level_ofi((100, 3), (102, 1), (100, 5), (102, 1)) == 2
    # Ask 102: 1 -> 4 gives -4 + 1 = -3
    assert best_level_ofi((100, 3), (102, 1), (100, 3), (102, 4)) == -3


def test_cks_price_moves() -> None:
    # Bid up 100 -> 101 (size 2): 1{101 >= 100} * 2 - 1{101 <= 100} * 3 = +2
    # Ask down 103 -> 102 (size 1): -1{102 <= 103} * 1 + 1{102 >= 103} * 4 = -1
    assert best_level_ofi((100, 3), (103, 4), (101, 2), (102, 1)) == 1
    # Bid down 100 -> 99 (size 7): 0 - 3 = -3 ; ask up 102 -> 103 (size 4): 0 + 1 = +1
    assert best_level_ofi((100, 3), (102, 1), (99, 7), (103, 4)) == -2


def test_cks_empty_sides() -> None:
    # A bid side appearing counts as +q (price from -inf), vanishing as -q.
    assert best_level_ofi(None, (102, 1), (100, 3), (102, 1)) == 3
    assert best_level_ofi((100, 3), (102, 1), None, (102, 1)) == -3
    # An ask side appearing counts as -q, vanishing as +q.
    assert best_level_ofi((100, 3), None, (100, 3), (102, 2)) == -2
    assert best_level_ofi((100, 3), (102, 2), (100, 3), None) == 2
    assert best_level_ofi(None, None, None, None) == 0
