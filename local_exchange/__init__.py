"""A local Binance USDT-M Futures look-alike exchange: REST + WebSocket on 127.0.0.1.

Public surface: ``LocalExchange`` (simulated order-level market or replay of recordings),
``ExchangeThread`` (the same on a background thread), ``ServerSettings``, ``FlowParams``,
``SymbolSpec`` / ``KNOWN_SPECS``; injected liquidity events: ``Scenario``, ``load_scenarios``,
``ScenarioError`` (``scenarios``), and ``OfflineMarket`` (``offline``: virtual-time runs for
scoring).
"""

from local_exchange.exchange import LocalExchange, PublishedBook
from local_exchange.instruments import KNOWN_SPECS, SymbolSpec
from local_exchange.market_model import FlowParams
from local_exchange.offline import OfflineMarket
from local_exchange.scenarios import Scenario, ScenarioError, load_scenarios
from local_exchange.server import ServerSettings
from local_exchange.threaded import ExchangeThread

__all__ = ["LocalExchange", "ExchangeThread", "PublishedBook", "ServerSettings", "FlowParams",
           "SymbolSpec", "KNOWN_SPECS", "OfflineMarket", "Scenario", "ScenarioError",
           "load_scenarios"]
