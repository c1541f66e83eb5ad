"""Coinbase Advanced Trade message bodies built from the local engine's output.

The ``events`` array is encoded once per publish; ``frame`` splices in each connection's own
``sequence_num`` (one counter per connection, exchange-protocols.md section 3.3), so a busy
tick costs one encode, not one per subscriber. Shapes follow sections 3.2-3.4.
"""

from __future__ import annotations

import http
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson
from websockets.datastructures import Headers
from websockets.http11 import Response

from orderbook.instrument import Instrument

if TYPE_CHECKING:
    from local_exchange.instruments import SymbolSpec
    from local_exchange.snapshot import Snapshot

PRODUCTS_PATH = "/api/v3/brokerage/market/products"

Level = tuple[int, int]
TextLevel = tuple[str, str] | list[str]  # (price, size) as the wire carries them


def rfc3339(ts_ns: int) -> str:
    """``2026-01-01T00:00:00.123456789Z``: Coinbase's envelope timestamp, nanoseconds."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def frame(channel: str, ts_ns: int, sequence_num: int, events: bytes) -> bytes:
    return (b'{"channel":"' + channel.encode() + b'","timestamp":"' + rfc3339(ts_ns).encode()
            + b'","sequence_num":' + str(sequence_num).encode() + b',"events":' + events + b"}")


def l2_events(kind: str, product: str, bids: Iterable[TextLevel], asks: Iterable[TextLevel],
              event_ns: int) -> bytes:
    """One ``snapshot`` or ``update`` event; quantities absolute, ``"0"`` removes a level."""
    when = rfc3339(event_ns)
    updates = [{"side": side, "event_time": when, "price_level": p, "new_quantity": q}
               for side, levels in (("bid", bids), ("offer", asks)) for p, q in levels]
    return orjson.dumps([{"type": kind, "product_id": product, "updates": updates}])


def text_levels(instrument: Instrument, levels: Iterable[Level]) -> list[TextLevel]:
    """Integer units back to the venue's decimal strings."""
    fmt_p, fmt_q = instrument.prices.format, instrument.quantities.format
    return [(fmt_p(p), fmt_q(q)) for p, q in levels]


def trade_events(kind: str, trades: list[dict[str, Any]]) -> bytes:
    return orjson.dumps([{"type": kind, "trades": trades}])


def trade(product: str, trade_id: int, price: str, size: str, maker_side: str,
          ts_ns: int) -> dict[str, Any]:
    """One ``market_trades`` entry; ``side`` is the maker's side, as Coinbase sends it."""
    return {"trade_id": str(trade_id), "product_id": product, "price": price, "size": size,
            "side": maker_side, "time": rfc3339(ts_ns)}


def heartbeat_events(ts_ns: int, counter: int) -> bytes:
    return orjson.dumps([{"current_time": rfc3339(ts_ns), "heartbeat_counter": counter}])


def subscriptions_events(subscriptions: dict[str, list[str]]) -> bytes:
    return orjson.dumps([{"subscriptions": subscriptions}])


def error(message: str) -> bytes:
    return orjson.dumps({"type": "error", "message": message})


def product_entry(spec: SymbolSpec, book: Snapshot) -> dict[str, Any]:
    """One product of the public products list, in Coinbase's field names (the ones clients
    read: increments, sizes, status, currencies); ``price`` is the book's mid."""
    base, quote = spec.symbol.split("-", 1)
    prices = spec.instrument.prices
    mid = (book.bids[0][0] + book.asks[0][0]) // 2 if book.bids and book.asks else None
    return {"product_id": spec.symbol, "price": prices.format(mid) if mid else spec.start_price,
            "base_increment": spec.step_size, "quote_increment": spec.tick_size,
            "price_increment": spec.tick_size, "base_min_size": spec.step_size,
            "base_max_size": "100000000", "quote_min_size": "1",
            "quote_max_size": "150000000", "status": "online", "trading_disabled": False,
            "cancel_only": False, "limit_only": False, "post_only": False,
            "auction_mode": False, "is_disabled": False, "product_type": "SPOT",
            "base_currency_id": base, "quote_currency_id": quote,
            "base_display_symbol": base, "quote_display_symbol": quote,
            "display_name": spec.symbol, "product_venue": "CBE"}


def products_body(products: list[dict[str, Any]], wanted: list[str] | None) -> dict[str, Any]:
    """``GET /api/v3/brokerage/market/products``; ``product_ids`` narrows the list."""
    if wanted:
        products = [p for p in products if p["product_id"] in wanted]
    return {"products": products, "num_products": len(products)}


def http_json(status: int, body: Any) -> Response:
    data = orjson.dumps(body)
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                       ("Connection", "close")])
    return Response(status, http.HTTPStatus(status).phrase, headers, data)
