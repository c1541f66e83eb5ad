"""The cross-venue side of the runtime: every asset's markets across venues, once a second.

It follows the runtime's markets (at startup, and as markets start and stop), keeps the latest
24-hour statistics and mark prices the feeds deliver (``MarketStatsStore``), and on every frame
tick builds one ``AssetView`` frame per asset from the live books, which it publishes on the
hub under ``asset:<ASSET>`` (``WS /ws/asset/{asset}``).

All on the runtime's event loop, like the books it reads.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from features.cross_venue import VenueBook
from marketdata.events import MarketStats
from marketdata.markets import MarketId
from state.asset_view import AssetView
from state.market_stats import MarketStatsStore

if TYPE_CHECKING:
    from api.runtime import Runtime

log = logging.getLogger(__name__)

# Levels per side handed to the cross-venue analytics: enough for the 50 bps depth band and the
# arbitrage walk of any realistic size, bounded so a 46,000-level Coinbase book costs the same.
BOOK_LEVELS = 200


def asset_topic(asset: str) -> str:
    return f"asset:{asset}"


class CrossVenue:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stats = MarketStatsStore(runtime.clock)
        self.assets: dict[str, AssetView] = {}
        self._snapshot_cache: dict[str, tuple[int, str]] = {}
        runtime.on_engines_ready.append(self._refresh)
        runtime.on_market_started.append(lambda _key, _engine: self._refresh())
        runtime.on_market_stopped.append(self._forget)
        runtime.on_tick.append(self._on_tick)

    # ---- which markets belong to which asset --------------------------------------------------

    def _refresh(self) -> None:
        """Follow the runtime's markets; route every feed's statistics into the store."""
        for venue, feed in self.runtime.feeds.items():
            feed.on_stats = self._sink(venue)
        grouped: dict[str, list[str]] = {}
        for key in self.runtime.engines:
            grouped.setdefault(MarketId.parse(key).base, []).append(key)
        for asset, markets in grouped.items():
            view = self.assets.get(asset)
            if view is None:
                self.assets[asset] = AssetView(asset, markets, self.runtime.config)
            else:
                view.set_markets(markets)
        for asset in set(self.assets) - set(grouped):
            self._drop_asset(asset)

    def _forget(self, key: str) -> None:
        self.stats.forget(key)
        asset = MarketId.parse(key).base
        view = self.assets.get(asset)
        if view is None:
            return
        remaining = [m for m in view.markets if m != key]
        if remaining:
            view.set_markets(remaining)
        else:
            self._drop_asset(asset)

    def _drop_asset(self, asset: str) -> None:
        del self.assets[asset]
        self._snapshot_cache.pop(asset, None)
        self.runtime.hub.close(asset_topic(asset))

    def _sink(self, venue: str) -> Any:
        store = self.stats

        def on_stats(event: MarketStats) -> None:
            store.update(MarketId(venue, event.symbol).key, event)

        return on_stats

    # ---- once a second ------------------------------------------------------------------------

    def venue_books(self, markets: list[str]) -> list[VenueBook]:
        """Each market's top levels in floats with what the analytics need to compare them."""
        runtime, config = self.runtime, self.runtime.config
        books = []
        for key in markets:
            engine, state = runtime.engines.get(key), runtime.states.get(key)
            if engine is None or state is None:
                continue
            market = MarketId.parse(key)
            rate = usd_per_quote(market.quote, config.usdt_usd)
            ins, book = engine.instrument, engine.book
            live = engine.status() == "live" and rate is not None
            books.append(VenueBook(
                market=key, venue=market.venue, quote=market.quote,
                usd_per_quote=rate if rate is not None else 0.0,
                bids=[(ins.price(p), ins.qty(q)) for p, q in book.top_bids(BOOK_LEVELS)],
                asks=[(ins.price(p), ins.qty(q)) for p, q in book.top_asks(BOOK_LEVELS)],
                venue_ts_ms=state.book_venue_ms, live=live,
                taker_fee_bps=config.taker_fee_bps(market.venue)))
        return books

    def _on_tick(self, ts: float, now_ns: int) -> None:
        hub = self.runtime.hub
        for asset, view in self.assets.items():
            # An asset on one market has no pairs to track: its frame is only for viewers, so
            # many single-venue markets do not add to the once-a-second cut nobody watches.
            if len(view.markets) < 2 and not hub.client_count(asset_topic(asset)):
                continue
            try:
                frame = view.cut(ts, self.venue_books(view.markets), self.stats)
                encoded = orjson.dumps(frame).decode()
            except Exception:  # one asset's bug must not stop the others' frames
                log.exception("%s: could not build the cross-venue frame for %s", asset, ts)
                continue
            hub.publish(asset_topic(asset), encoded, int(ts * 1e9))

    def snapshot_text(self, asset: str) -> str:
        """``asset_snapshot`` (docs/frames.md), encoded once per tick however many connect."""
        ticks = self.runtime.frame_clock.ticks
        cached = self._snapshot_cache.get(asset)
        if cached is None or cached[0] != ticks:
            cached = (ticks, orjson.dumps(self.assets[asset].snapshot_message()).decode())
            self._snapshot_cache[asset] = cached
        return cached[1]


def usd_per_quote(quote: str, usdt_usd: float) -> float | None:
    """US dollars per unit of ``quote``: 1 for USD, the configured rate for USDT; None for a
    quote currency the view has no rate for (its market is shown, not compared)."""
    if quote == "USD":
        return 1.0
    if quote == "USDT":
        return usdt_usd
    return None
