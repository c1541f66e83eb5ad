"""One asset across its markets: the ``asset_frame`` of docs/frames.md, once a second.

The analytics are ``features.cross_venue``'s pure functions; this class keeps what lives across
seconds (the opportunity tracker, a bounded history for the basis chart) and shapes the frame.
Each book is converted to USD once per second and shared by every analytic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from config import Config
from features.cross_venue import ArbQuote, Basis, OpportunityTracker, UsdBook, VenueBook, basis
from features.cross_venue.arbitrage import arbitrage_usd
from features.cross_venue.consolidated import MarketTop, consolidate_usd
from features.cross_venue.depth_curve import merged_depth_curve_usd
from features.cross_venue.venue_book import to_usd
from marketdata.markets import BINANCE_SPOT, BINANCE_USDM, COINBASE, MarketId
from state.market_stats import MarketStatsStore

RECENT_IN_FRAME = 20  # ended opportunities carried by each frame (GET /arbitrage has them all)
RECENT_KEPT = 100
# Where the basis takes its spot side from, in order of preference.
_SPOT_VENUES = (BINANCE_SPOT, COINBASE)


class AssetView:
    def __init__(self, asset: str, markets: Sequence[str], config: Config) -> None:
        self.asset = asset
        self.markets = list(markets)
        self._config = config
        self.tracker = OpportunityTracker(config.max_skew_ms, recent=RECENT_KEPT)
        self._history: deque[dict[str, Any]] = deque(maxlen=config.history_seconds)
        self._pairs: list[ArbQuote] = []
        self._latest: dict[str, Any] | None = None
        self._venue_ms = 0  # the newest venue time seen: opportunity times never go back

    def set_markets(self, markets: Sequence[str]) -> None:
        self.markets = list(markets)

    def cut(self, ts: float, books: Sequence[VenueBook],
            stats: MarketStatsStore) -> dict[str, Any]:
        """This second's ``asset_frame``; also advances the opportunity tracker."""
        usd = [to_usd(b) for b in books]
        consolidated = consolidate_usd(usd)
        live = [b for b in usd if b.book.live]
        self._pairs = [arbitrage_usd(a, b) for a in live for b in live if a is not b]
        venue_ts = max((b.venue_ts_ms for b in books if b.venue_ts_ms is not None),
                       default=None)
        if venue_ts is not None:
            self._venue_ms = max(self._venue_ms, venue_ts)
            self.tracker.update(self._pairs, self._venue_ms)
        spread = self._basis(usd, stats)
        frame = {
            "type": "asset_frame", "asset": self.asset, "ts": ts, "venue_ts": venue_ts,
            "usdt_usd": self._config.usdt_usd, "max_skew_ms": self._config.max_skew_ms,
            "markets": [_market_row(top, b.book) for top, b in
                        zip(consolidated.markets, usd, strict=True)],
            "consolidated": {
                "bid": consolidated.best_bid, "bid_market": consolidated.best_bid_market,
                "ask": consolidated.best_ask, "ask_market": consolidated.best_ask_market,
                "spread_bps": consolidated.spread_bps, "crossed": consolidated.crossed,
                "mid": consolidated.mid},
            "depth_curve": _depth_curve(usd),
            "basis": _basis_row(spread),
            "arbitrage": [self._pair_row(q) for q in self._pairs],
            "opportunities": {"live": [_opportunity_row(o) for o in self.tracker.live()],
                              "recent": [_opportunity_row(o) for o in
                                         self.tracker.recent()[-RECENT_IN_FRAME:]]},
            "stats24h": {b.book.market: stats.to_dict(b.book.market) for b in usd},
        }
        self._history.append({
            "ts": ts, "mids": {top.market: top.mid for top in consolidated.markets},
            "basis_bps": spread.basis_bps if spread is not None else None,
            "funding_rate": spread.funding_rate if spread is not None else None})
        self._latest = frame
        return frame

    def snapshot_message(self) -> dict[str, Any]:
        return {"type": "asset_snapshot", "asset": self.asset, "history": list(self._history),
                "frame": self._latest}

    def arbitrage_body(self) -> dict[str, Any]:
        """``GET /arbitrage``: the pairs as of the last frame, live and recent opportunities."""
        venues = sorted({MarketId.parse(m).venue for m in self.markets})
        return {"asset": self.asset, "usdt_usd": self._config.usdt_usd,
                "max_skew_ms": self._config.max_skew_ms,
                "fees_bps": {v: self._config.taker_fee_bps(v) for v in venues},
                "pairs": [self._pair_row(q) for q in self._pairs],
                "live": [_opportunity_row(o) for o in self.tracker.live()],
                "recent": [_opportunity_row(o) for o in self.tracker.recent()],
                "suppressed_by_skew": self.tracker.suppressed_by_skew}

    def _basis(self, usd: Sequence[UsdBook], stats: MarketStatsStore) -> Basis | None:
        perp = next((b.book for b in usd if b.book.venue == BINANCE_USDM), None)
        spot = next((b.book for venue in _SPOT_VENUES for b in usd if b.book.venue == venue),
                    None)
        if perp is None or spot is None:
            return None
        return basis(perp, spot, stats.mark(perp.market))

    def _pair_row(self, q: ArbQuote) -> dict[str, Any]:
        eligible = (q.live and q.net_edge_bps is not None and q.net_edge_bps > 0
                    and q.max_size > 0 and q.skew_ms is not None
                    and q.skew_ms <= self._config.max_skew_ms)
        return {"buy": q.buy_market, "sell": q.sell_market, "buy_price": q.buy_price,
                "sell_price": q.sell_price, "gross_edge_bps": q.gross_edge_bps,
                "net_edge_bps": q.net_edge_bps, "best_size": q.best_size,
                "best_profit_usd": q.best_profit_usd, "best_net_edge_bps": q.best_net_edge_bps,
                "max_size": q.max_size, "depth_limited": q.depth_limited,
                "skew_ms": q.skew_ms, "eligible": eligible}


def _market_row(top: MarketTop, book: VenueBook) -> dict[str, Any]:
    return {"market": top.market, "venue": top.venue, "quote": top.quote,
            "usd_per_quote": top.usd_per_quote, "live": top.live, "bid": top.best_bid,
            "ask": top.best_ask, "bid_qty": top.best_bid_qty, "ask_qty": top.best_ask_qty,
            "mid": top.mid, "spread_bps": top.spread_bps,
            "depth": {f"{d.band_bps:g}": {"bid_qty": d.bid_qty, "ask_qty": d.ask_qty,
                                          "bid_usd": d.bid_usd, "ask_usd": d.ask_usd}
                      for d in top.depth},
            "venue_ts": top.venue_ts_ms, "taker_fee_bps": book.taker_fee_bps}


def _depth_curve(usd: Sequence[UsdBook]) -> dict[str, Any]:
    curve = merged_depth_curve_usd(usd)
    return {"mid": curve.mid, "band_bps": curve.band_bps, "prices": curve.prices,
            "bids": dict(zip(curve.markets, curve.bids, strict=True)),
            "asks": dict(zip(curve.markets, curve.asks, strict=True)),
            "total_bids": curve.total_bids, "total_asks": curve.total_asks}


def _basis_row(b: Basis | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {"perp": b.perp_market, "spot": b.spot_market, "live": b.live, "skew_ms": b.skew_ms,
            "perp_mid": b.perp_mid, "spot_mid": b.spot_mid, "price": b.basis_usd,
            "bps": b.basis_bps, "mark_price": b.mark_price, "index_price": b.index_price,
            "mark_index_bps": b.mark_index_bps, "funding_rate": b.funding_rate,
            "next_funding_ms": b.next_funding_ms}


def _opportunity_row(o: dict[str, Any]) -> dict[str, Any]:
    return {"buy": o["buy_market"], "sell": o["sell_market"], "start_ms": o["start_ms"],
            "end_ms": o["end_ms"], "duration_ms": o["duration_ms"],
            "peak_net_edge_bps": o["peak_net_edge_bps"], "peak_size": o["peak_size"],
            "peak_profit_usd": o["peak_profit_usd"],
            "peak_top_net_edge_bps": o["peak_top_net_edge_bps"],
            "skew_ms_at_peak": o["peak_skew_ms"], "max_skew_ms_seen": o["max_skew_ms"],
            "end_reason": o["end_reason"]}
