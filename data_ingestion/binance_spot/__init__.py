"""Binance Spot: wire schemas, parser, REST client and feed
(``../shared/docs/exchange-protocols.md`` section 2). Spot differs from USDT-M futures in ways that matter for exactness: depth diffs have
no ``pu`` (continuity is ``U <= previous u + 1``, ``orderbook.sync.SPOT_RULES``), bookTicker and
the REST snapshot carry no event time, and hosts, paths and REST weights are spot's own.
"""
