"""The injector: runs scenarios as agents on each symbol's ``Venue`` and keeps the truth.

Synchronous, owned by the exchange's loop (or the offline driver). The market calls ``step(ns)``
before each step of its own flow (venue time, ns) and ``shown(symbol, E)`` after each
depthUpdate it publishes, so truth times are the venue times of the messages that show them.
Scenarios given at construction start ``at_s`` after the first step on a ready venue (a replay
is ready once its book has passed the recorded snapshot); ``add(..., from_now=True)`` (the
control endpoint) starts ``at_s`` after the market's latest step, in venue time (a replay's
clock is the recording's, not the wall clock).

Control routes (GET, on the exchange's port, outside the Binance paths): ``/control/inject?
type=wall&side=bid&...`` (any scenario key; 200 with the new id, 400 with a message naming the
key) and ``/control/truth[?symbol=S]`` (every truth record so far).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

from local_exchange.injection_agents import (
    Agent,
    LayeringAgent,
    SpreadControl,
    SweepAgent,
    WallAgent,
)
from local_exchange.injection_flow_agents import AbsorptionAgent, ExhaustionAgent, IcebergAgent
from local_exchange.injection_venue import Venue, track_yardstick
from local_exchange.scenarios import Scenario, ScenarioError, TruthRecord, parse_scenario

AGENTS: dict[str, type[Agent]] = {
    "wall": WallAgent, "sweep": SweepAgent, "layering": LayeringAgent,
    "absorption": AbsorptionAgent, "iceberg": IcebergAgent, "exhaustion": ExhaustionAgent,
    "spread": SpreadControl,
}


class Injector:
    """Scenarios waiting, agents running, truth records (all of them, in injection order)."""

    def __init__(self, venues: Mapping[str, Venue], seed: int = 1,
                 scenarios: Iterable[Scenario] = ()) -> None:
        self.venues = dict(venues)
        self.seed = seed
        self.records: list[TruthRecord] = []
        self.agents: list[Agent] = []
        self._waiting: list[tuple[int | None, Scenario, TruthRecord]] = []
        self._start_ns: int | None = None
        self._last_ns: int | None = None
        for scenario in scenarios:
            self.add(scenario)

    @property
    def idle(self) -> bool:
        return not self.agents and not self._waiting

    def add(self, scenario: Scenario, from_now: bool = False) -> TruthRecord:
        """Queue one scenario: ``at_s`` after the latest step (``from_now``) or after the list
        starts (before the first step these are the same)."""
        symbol = scenario.symbol or next(iter(self.venues))
        if symbol not in self.venues:
            raise ScenarioError(f"scenario {scenario.id or scenario.type}: key 'symbol': "
                                f"{symbol!r} is not served here ({', '.join(self.venues)})")
        ident = scenario.id or f"inj-{len(self.records) + 1}-{scenario.type}"
        if any(r.id == ident for r in self.records):
            raise ScenarioError(f"scenario {ident}: key 'id': duplicate id")
        record = TruthRecord(ident, scenario.type, symbol, scenario.side, decoy=scenario.decoy,
                             decoy_of=scenario.decoy_of,
                             detail={"scenario": scenario.as_dict()})
        self.records.append(record)
        base = self._last_ns if from_now else self._start_ns
        due = None if base is None else base + int(scenario.at_s * 1e9)
        self._waiting.append((due, scenario, record))
        return record

    def step(self, now_ns: int) -> None:
        """Start due scenarios and let every running agent act at venue time ``now_ns``."""
        self._last_ns = now_ns
        if self.idle:
            return
        for venue in self.venues.values():
            venue.now_ns = now_ns
        if self._start_ns is None:
            if not any(v.ready for v in self.venues.values()):
                return
            self._start_ns = now_ns
            self._waiting = [(now_ns + int(sc.at_s * 1e9) if due is None else due, sc, rec)
                             for due, sc, rec in self._waiting]
        for venue in self.venues.values():
            if venue.ready:
                track_yardstick(venue, now_ns)  # what wall/layering injections are sized by
        waiting = []
        for due, scenario, record in self._waiting:
            venue = self.venues[record.symbol]
            if due is not None and now_ns >= due and venue.ready:
                self._launch(scenario, record, venue)
            else:
                waiting.append((due, scenario, record))
        self._waiting = waiting
        for agent in self.agents:
            agent.step(now_ns)
        self._prune()

    def shown(self, symbol: str, published_ms: int) -> None:
        """A depthUpdate of ``symbol`` stamped E = ``published_ms`` was published."""
        self.venues[symbol].last_published_ms = published_ms
        for agent in self.agents:
            if agent.truth.symbol == symbol:
                agent.shown(published_ms)
        self._prune()

    def truth(self, symbol: str | None = None) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.records if symbol is None or r.symbol == symbol]

    def _launch(self, scenario: Scenario, record: TruthRecord, venue: Venue) -> None:
        rng = random.Random(f"{self.seed}:{record.id}")
        record.status = "active"
        agent = AGENTS[scenario.type](scenario, venue, record, rng)
        self.agents.append(agent)

    def _prune(self) -> None:
        running = []
        for agent in self.agents:
            if agent.done:
                shown = agent.truth.start_ts is not None
                agent.truth.status = "failed" if agent.failed or not shown else "ended"
            else:
                running.append(agent)
        self.agents = running

    # ------------------------------------------------------------- control API
    def control(self, route: str, query: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """``/control/inject`` and ``/control/truth`` -> (HTTP status, JSON body)."""
        if route == "/control/truth":
            symbol = query.get("symbol")
            if symbol is not None and symbol.upper() not in self.venues:
                return 400, {"error": f"symbol {symbol!r} is not served here"}
            return 200, {"truth": self.truth(symbol.upper() if symbol else None)}
        if route == "/control/inject":
            try:
                record = self.add(parse_scenario(query, "inject", from_text=True), True)
            except ScenarioError as exc:
                return 400, {"error": str(exc)}
            return 200, {"id": record.id, "symbol": record.symbol, "type": record.type,
                         "scenario": record.detail["scenario"]}
        return 404, {"error": f"unknown control route {route}; use /control/inject or "
                              "/control/truth"}
