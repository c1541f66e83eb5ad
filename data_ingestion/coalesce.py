"""Lossless coalescing of queued depth diffs, for bursts the book engine cannot keep up with.

Quantities are absolute, so a run of *contiguous* diffs (each one's ``pu`` is the previous one's
``u``; on venues without ``pu``, such as Binance Spot, its ``U`` is the previous ``u + 1``) is
equivalent to one diff holding, per price level, the latest quantity, with the first ``U`` and
``pu`` and the last ``u``. Dropping intermediate diffs instead would corrupt the book. A break in
the chain is never merged over: the gap must stay visible to the sync machine.
"""

from __future__ import annotations

from collections.abc import Sequence

from marketdata.events import DepthDiff, Level


def coalesce(diffs: Sequence[DepthDiff]) -> list[DepthDiff]:
    """Merge every maximal contiguous run of ``diffs`` (same symbol, arrival order) into one."""
    merged: list[DepthDiff] = []
    run: list[DepthDiff] = []
    for diff in diffs:
        if run and not _continues(run[-1], diff):
            merged.append(_merge(run))
            run = []
        run.append(diff)
    if run:
        merged.append(_merge(run))
    return merged


def _continues(previous: DepthDiff, diff: DepthDiff) -> bool:
    if diff.symbol != previous.symbol:
        return False
    if diff.prev_update_id is not None:
        return diff.prev_update_id == previous.last_update_id
    return diff.first_update_id == previous.last_update_id + 1


def _merge(run: list[DepthDiff]) -> DepthDiff:
    if len(run) == 1:
        return run[0]
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for diff in run:
        bids.update(diff.bids)
        asks.update(diff.asks)
    first, last = run[0], run[-1]
    return DepthDiff(
        symbol=first.symbol,
        first_update_id=first.first_update_id,
        last_update_id=last.last_update_id,
        prev_update_id=first.prev_update_id,
        bids=_items(bids),
        asks=_items(asks),
        exchange_ts_ms=last.exchange_ts_ms,
        receive_ts_ns=last.receive_ts_ns,
    )


def _items(levels: dict[int, int]) -> list[Level]:
    return list(levels.items())
