"""The futures sync rules, one by one, plus hypothesis properties of the book and coalescing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from data_ingestion.coalesce import coalesce
from marketdata.events import DepthDiff, DepthSnapshot
from orderbook.book import L2Book
from orderbook.sync import SPOT_RULES, BookSync, SyncState


def diff(U: int, u: int, pu: int, bids=(), asks=()) -> DepthDiff:  # noqa: N803
    return DepthDiff("BTCUSDT", U, u, pu, list(bids), list(asks), 0, 0)


def snapshot(last_id: int, bids=((100, 5),), asks=((101, 5),)) -> DepthSnapshot:
    return DepthSnapshot("BTCUSDT", last_id, list(bids), list(asks), 0, 0)


def make_sync() -> tuple[BookSync, list[int]]:
    requests: list[int] = []
    return BookSync("BTCUSDT", L2Book(), lambda: requests.append(1)), requests


def test_snapshot_is_requested_only_once_a_diff_is_buffered() -> None:
    sync, requests = make_sync()
    assert requests == []
    sync.on_diff(diff(10, 12, 9))
    assert requests == [1]
    sync.on_diff(diff(13, 15, 12))
    assert requests == [1]  # one request in flight at a time


def test_first_applied_diff_straddles_snapshot_and_older_ones_are_dropped() -> None:
    sync, _ = make_sync()
    sync.on_diff(diff(10, 12, 9, bids=[(99, 1)]))  # u < lastUpdateId: dropped
    sync.on_diff(diff(13, 20, 12, bids=[(100, 7)]))  # 13 <= 15 <= 20: first applied
    sync.on_diff(diff(21, 25, 20, asks=[(101, 0), (102, 3)]))
    sync.on_snapshot(snapshot(15))
    assert sync.state is SyncState.LIVE
    assert sync.last_applied_u == 25
    assert dict(sync.book.bids) == {100: 7}  # the dropped diff's 99 never arrived
    assert dict(sync.book.asks) == {102: 3}


def test_snapshot_older_than_buffer_is_fetched_again() -> None:
    sync, requests = make_sync()
    sync.on_diff(diff(30, 35, 29))
    sync.on_snapshot(snapshot(20))  # U=30 > 20: too old
    assert sync.state is SyncState.SYNCING
    assert sync.stats.stale_snapshots == 1
    assert len(requests) == 2
    sync.on_snapshot(snapshot(32))
    assert sync.state is SyncState.LIVE and sync.last_applied_u == 35


def test_snapshot_newer_than_buffer_waits_for_the_straddling_diff() -> None:
    sync, _ = make_sync()
    sync.on_diff(diff(10, 12, 9))
    sync.on_snapshot(snapshot(14))  # nothing buffered reaches 14 yet
    assert sync.state is SyncState.SYNCING
    sync.on_diff(diff(13, 16, 12, bids=[(100, 9)]))
    assert sync.state is SyncState.LIVE
    assert sync.book.bids[100] == 9


def test_pu_break_resyncs_and_keeps_the_breaking_diff() -> None:
    sync, requests = make_sync()
    sync.on_diff(diff(10, 20, 9))
    sync.on_snapshot(snapshot(15))
    sync.on_diff(diff(26, 30, 25))  # pu 25 != 20: lost 21..25
    assert sync.state is SyncState.RESYNCING
    assert sync.stats.gaps == 1 and sync.stats.resyncs == 1
    assert len(requests) == 2
    sync.on_snapshot(snapshot(28, bids=[(100, 1)]))
    assert sync.state is SyncState.LIVE and sync.last_applied_u == 30


def test_stale_duplicates_are_ignored() -> None:
    sync, _ = make_sync()
    sync.on_diff(diff(10, 20, 9))
    sync.on_snapshot(snapshot(15))
    sync.on_diff(diff(21, 22, 20, bids=[(100, 4)]))
    sync.on_diff(diff(21, 22, 20, bids=[(100, 99)]))  # the same event again
    sync.on_diff(diff(18, 20, 17, bids=[(100, 55)]))  # an old one
    assert sync.stats.duplicates == 2
    assert sync.book.bids[100] == 4 and sync.state is SyncState.LIVE


def test_reordered_pair_resyncs_to_the_right_book() -> None:
    sync, _ = make_sync()
    sync.on_diff(diff(10, 20, 9))
    sync.on_snapshot(snapshot(15))
    later, earlier = diff(24, 26, 23, bids=[(100, 2)]), diff(21, 23, 20, bids=[(100, 1)])
    sync.on_diff(later)
    sync.on_diff(earlier)
    assert sync.state is SyncState.RESYNCING
    sync.on_snapshot(snapshot(22, bids=[(100, 8)]))  # straddled by `earlier`
    assert sync.state is SyncState.LIVE
    assert sync.last_applied_u == 26 and sync.book.bids[100] == 2


def test_crossed_book_is_an_integrity_error() -> None:
    sync, requests = make_sync()
    sync.on_diff(diff(10, 20, 9))
    sync.on_snapshot(snapshot(15))
    sync.on_diff(diff(21, 22, 20, bids=[(105, 1)]))  # bid 105 >= ask 101
    assert sync.stats.integrity_errors == 1
    assert sync.state is SyncState.RESYNCING


def test_forced_resync_waits_for_a_new_diff_before_asking() -> None:
    sync, requests = make_sync()
    sync.on_diff(diff(10, 20, 9))
    sync.on_snapshot(snapshot(15))
    sync.force_resync("reconnect")
    assert sync.state is SyncState.RESYNCING and len(requests) == 1
    sync.on_diff(diff(40, 45, 39))
    assert len(requests) == 2


# ---- properties -------------------------------------------------------------------------

prices = st.integers(min_value=1, max_value=60)
qtys = st.integers(min_value=0, max_value=5)
level_lists = st.lists(st.tuples(prices, qtys), max_size=8)


@st.composite
def diff_streams(draw):  # type: ignore[no-untyped-def]
    """A contiguous stream of random diffs, with every update id accounted for."""
    n = draw(st.integers(min_value=1, max_value=25))
    out, prev = [], 100
    for _ in range(n):
        span = draw(st.integers(min_value=1, max_value=4))
        out.append(diff(prev + 1, prev + span, prev, draw(level_lists), draw(level_lists)))
        prev += span
    return out


@settings(max_examples=200, deadline=None)
@given(diff_streams())
def test_random_streams_never_leave_a_crossed_book_or_empty_level(stream) -> None:  # type: ignore[no-untyped-def]
    sync, _ = make_sync()
    for d in stream:
        sync.on_diff(d)
    sync.on_snapshot(snapshot(stream[0].first_update_id))
    book = sync.book
    assert all(q > 0 for q in book.bids.values()) and all(q > 0 for q in book.asks.values())
    if sync.state is SyncState.LIVE:
        assert not book.is_crossed()
    else:
        assert sync.stats.integrity_errors >= 1


@settings(max_examples=200, deadline=None)
@given(level_lists, level_lists)
def test_applying_the_same_absolute_update_twice_changes_nothing(bids, asks) -> None:  # type: ignore[no-untyped-def]
    book = L2Book()
    book.load([(p, 3) for p in range(1, 30)], [(p, 3) for p in range(31, 60)], 1)
    book.apply(bids, asks, 2)
    once = (dict(book.bids), dict(book.asks))
    book.apply(bids, asks, 2)
    assert (dict(book.bids), dict(book.asks)) == once


@st.composite
def uncrossable_streams(draw):  # type: ignore[no-untyped-def]
    """Contiguous diffs whose bids stay below 31 and asks above 30, so no state is crossed."""
    n = draw(st.integers(min_value=1, max_value=25))
    out, prev = [], 100
    side = st.lists(st.tuples(st.integers(1, 30), qtys), max_size=8)
    for _ in range(n):
        span = draw(st.integers(min_value=1, max_value=4))
        asks = [(p + 30, q) for p, q in draw(side)]
        out.append(diff(prev + 1, prev + span, prev, draw(side), asks))
        prev += span
    return out


@settings(max_examples=300, deadline=None)
@given(uncrossable_streams(), st.integers(min_value=0, max_value=30))
def test_coalescing_never_changes_the_resulting_book(stream, drop) -> None:  # type: ignore[no-untyped-def]
    def run(diffs: list[DepthDiff]) -> tuple[object, ...]:
        sync, _ = make_sync()
        sync.on_snapshot(snapshot(101, bids=[(1, 1)], asks=[(60, 1)]))
        for d in diffs:
            sync.on_diff(d)
        return (sync.state, sync.last_applied_u, dict(sync.book.bids), dict(sync.book.asks),
                sync.stats.gaps)

    # Sometimes lose one diff after the first: coalescing must keep that gap visible.
    kept = [d for i, d in enumerate(stream) if i == 0 or i != drop]
    merged = coalesce(kept)
    assert len(merged) <= len(kept)
    assert len(merged) == (2 if len(kept) < len(stream) and drop < len(stream) - 1 else 1)
    assert run(merged) [:2] == run(kept)[:2]
    assert run(merged)[2:4] == run(kept)[2:4]
    assert (run(merged)[4] > 0) == (run(kept)[4] > 0)


# ---- Binance Spot's rules (exchange-protocols.md 2.9): no pu, U chains to the previous u + 1 --

def spot_diff(U: int, u: int, bids=(), asks=()) -> DepthDiff:  # noqa: N803
    return DepthDiff("BTCUSDT", U, u, None, list(bids), list(asks), 0, 0)


def make_spot_sync() -> tuple[BookSync, list[int]]:
    requests: list[int] = []
    return BookSync("BTCUSDT", L2Book(), lambda: requests.append(1), rules=SPOT_RULES), requests


def test_spot_first_diff_may_start_right_after_the_snapshot_and_u_equal_to_it_is_covered() -> None:
    sync, _ = make_spot_sync()
    sync.on_diff(spot_diff(10, 15, bids=[(99, 1)]))  # u == lastUpdateId: already in the snapshot
    sync.on_diff(spot_diff(16, 18, bids=[(100, 7)]))  # U == lastUpdateId + 1: straddles
    sync.on_snapshot(snapshot(15))
    assert sync.state is SyncState.LIVE and sync.last_applied_u == 18
    assert dict(sync.book.bids) == {100: 7}  # 99 came before the snapshot, and is not in it
    # Futures' rule would have applied the u == 15 diff; spot's drops it.
    futures, _ = make_sync()
    futures.on_diff(diff(10, 15, 9, bids=[(99, 1)]))
    futures.on_diff(diff(16, 18, 15, bids=[(100, 7)]))
    futures.on_snapshot(snapshot(15))
    assert dict(futures.book.bids) == {99: 1, 100: 7}


def test_spot_snapshot_older_than_the_buffer_is_fetched_again() -> None:
    sync, requests = make_spot_sync()
    sync.on_diff(spot_diff(17, 20))
    sync.on_snapshot(snapshot(15))  # U = 17 > 15 + 1: updates 16 are missing
    assert sync.state is SyncState.SYNCING and sync.stats.stale_snapshots == 1
    assert requests == [1, 1]


def test_spot_chain_is_u_plus_one_and_a_hole_resyncs_that_symbol() -> None:
    sync, requests = make_spot_sync()
    sync.on_diff(spot_diff(14, 16))
    sync.on_snapshot(snapshot(15))
    sync.on_diff(spot_diff(17, 19, asks=[(101, 2)]))  # U == previous u + 1
    sync.on_diff(spot_diff(18, 21, asks=[(101, 3)]))  # overlaps the applied ids: still applied
    assert sync.state is SyncState.LIVE and sync.book.asks[101] == 3 and sync.stats.gaps == 0
    sync.on_diff(spot_diff(19, 21))  # nothing new: a stale duplicate
    assert sync.stats.duplicates == 1
    sync.on_diff(spot_diff(23, 25))  # 22 is missing
    assert sync.stats.gaps == 1 and sync.state is SyncState.RESYNCING
    assert len(requests) == 2  # asked again at once: the hole's diff is buffered


def test_spot_diffs_coalesce_while_contiguous_and_never_over_a_hole() -> None:
    run = [spot_diff(16, 18, bids=[(100, 1)]), spot_diff(19, 19, bids=[(100, 2), (99, 1)]),
           spot_diff(20, 22, asks=[(101, 5)]), spot_diff(24, 25, asks=[(101, 0)])]
    merged = coalesce(run)
    assert [(d.first_update_id, d.last_update_id) for d in merged] == [(16, 22), (24, 25)]
    assert dict(merged[0].bids) == {100: 2, 99: 1} and merged[0].prev_update_id is None
    sync, _ = make_spot_sync()
    sync.on_diff(merged[0])
    sync.on_snapshot(snapshot(15))
    sync.on_diff(merged[1])  # 23 never came: still a gap after coalescing
    assert sync.stats.gaps == 1
