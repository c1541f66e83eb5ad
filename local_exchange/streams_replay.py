"""Sending a replay's recorded messages on the stream names clients subscribe to.

Every recorded ``depthUpdate`` goes out on every depth stream name (the recording has one
cadence) through the depth faults, and feeds partial depth from the recorded book at its ``u``
(``streams_market.replay_top``). A recorded ``trade`` goes to ``@trade`` as is and to
``@aggTrade`` as the one-fill aggTrade it is, in its venue's shape (``agg_trade_of``,
``spot_agg_trade_of``): a client reading ``a``/``f``/``l`` (cryptofeed, ccxt) gets what Binance
sends. Statistics are the exchange's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local_exchange.faults import DepthFaults
from local_exchange.recording import RecordedMessage
from local_exchange.replay import ReplayMarket
from local_exchange.server import StreamServer
from local_exchange.spot_dialect import spot_agg_trade_of
from local_exchange.streams import DEPTH_SPEEDS
from local_exchange.streams_market import MarketStreams, replay_top

# Any depth stream name a client may use receives the recorded diffs in replay.
REPLAY_DEPTH_NAMES = ("depth", "depth@100ms", "depth@250ms", "depth@500ms", "depth@0ms")
REPLAY_KIND = "recorded"  # the one DepthFaults kind of a replay


def agg_trade_of(trade: dict[str, Any]) -> dict[str, Any] | None:
    """A recorded USD-M ``trade`` as the aggTrade of that one fill (``a`` = ``f`` = ``l`` = its
    trade id). Binance aggregates only market trades (not insurance-fund or ADL fills): one
    with another ``X`` gets ``None`` and goes to ``@trade`` alone."""
    if trade.get("X", "MARKET") != "MARKET":
        return None
    trade_id = trade["t"]
    return {"e": "aggTrade", "E": trade["E"], "s": trade["s"], "a": trade_id, "p": trade["p"],
            "q": trade["q"], "f": trade_id, "l": trade_id, "T": trade["T"], "m": trade["m"]}


class RecordedStreams:
    """Publishes one replay's recorded messages; ``last_depth`` keeps each symbol's last diff
    (``malformed_frame`` sends it without its ids)."""

    def __init__(self, server: StreamServer, streams: MarketStreams, replay: ReplayMarket,
                 faults: Mapping[str, DepthFaults], spot: bool,
                 last_depth: dict[str, dict[str, Any]]) -> None:
        self.server, self.streams, self.replay = server, streams, replay
        self.faults, self.spot, self.last_depth = faults, spot, last_depth

    def emit(self, msg: RecordedMessage) -> None:
        lower, event = msg.symbol.lower(), msg.data.get("e")
        if self.spot and event != "depthUpdate":
            self._emit_spot(msg)
        elif event == "depthUpdate":
            self.last_depth[msg.symbol] = msg.data
            names = [f"{lower}@{kind}" for kind in REPLAY_DEPTH_NAMES]
            for payload in self.faults[msg.symbol].apply(REPLAY_KIND, msg.data):
                self.server.publish(names, payload)
            top = replay_top(self.replay, msg.data)
            for kind in DEPTH_SPEEDS:  # every recorded diff goes out on every depth stream
                self.streams.on_depth(msg.symbol, kind, msg.data, top)
        elif event == "bookTicker":
            self.server.publish((f"{lower}@bookticker",), msg.data)
            self.streams.on_book_ticker(msg.data)
        elif event == "trade":  # what futures recordings carry
            self.server.publish((f"{lower}@trade",), msg.data)
            agg = agg_trade_of(msg.data)
            if agg is not None:
                self.server.publish((f"{lower}@aggtrade",), agg)
        elif event == "aggTrade":
            self.server.publish((f"{lower}@aggtrade",), msg.data)
        else:
            self.server.publish((msg.stream.lower(),), msg.data)

    def _emit_spot(self, msg: RecordedMessage) -> None:
        """A recorded Spot trade or bookTicker (diffs go out as ``emit`` sends them).

        Spot's bookTicker has no ``e``, so it is told by its stream. A recorded ``trade`` goes
        to ``@trade`` as is and, as the one-fill aggTrade it is, to ``@aggTrade``: the Spot
        client subscribes to aggTrade and its parser reads each stream's own shape.
        """
        lower, event = msg.symbol.lower(), msg.data.get("e")
        if event == "trade":
            self.server.publish((f"{lower}@trade",), msg.data)
            self.server.publish((f"{lower}@aggtrade",), spot_agg_trade_of(msg.data))
        elif event is None and msg.stream.lower().endswith("@bookticker"):
            self.server.publish((f"{lower}@bookticker",), msg.data)
        else:
            self.server.publish((msg.stream.lower(),), msg.data)
