"""Coinbase Advanced Trade market data: ``level2``, ``market_trades`` and ``heartbeats`` on one
WebSocket connection (../shared/docs/exchange-protocols.md, section 3.1-3.4).

Public surface: ``CoinbaseParser`` (JSON -> typed frames), ``CoinbaseBookSync`` (the
per-connection sequence and book machine), ``CoinbaseFeed`` (the socket shell) and
``recording.read_frames`` (the cryptofeed capture reader used by replays and tests).
"""
