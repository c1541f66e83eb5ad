"""Offline market for the scoring tool: the simulated market or a replay, with injected
scenarios, on a VIRTUAL clock, as fast as the CPU allows, no sockets, no event loop.

Stable API::

    from local_exchange.offline import OfflineMarket
    from local_exchange.scenarios import load_scenarios

    market = OfflineMarket(("BTCUSDT",), seed=1, duration_s=300,
                           scenarios=load_scenarios("scenarios.toml"))
    # or: OfflineMarket(replay_files=[".../hftbacktest_usdm_btcusdt_20240808.gz"], scenarios=...)
    snapshots = market.snapshots()          # {symbol: REST /fapi/v1/depth?limit=1000 bytes}
    for receive_ns, raw in market.run():    # every depthUpdate and aggTrade/trade, in order
        ...                                 # raw: exactly the bytes a client receives
    truth = market.truth()                  # list of truth dicts (scenarios.TruthRecord)

``raw`` is a combined-stream envelope ``{"stream": "btcusdt@depth@100ms", "data": {...}}`` by
default (``envelope=False``: the bare payload). Simulated: ``<sym>@depth@100ms`` and
``<sym>@aggTrade`` stamped by the virtual clock, which starts at ``start_ms`` (default
2024-01-01T00:00:00Z) and advances 100 ms per step for ``duration_s``; ``receive_ns`` is the
exchange time itself (zero latency). Replay: the recorded streams (``@depth@0ms``, ``@trade``)
with injected trades and the overlay as the local exchange serves them; ``receive_ns`` is the
recorded local receive time. The snapshot is taken before ``run()`` starts: a simulated one is
the book at the first diff's ``u`` (that diff straddles it); a replayed one is the recording's
own snapshot, which a few first diffs predate (a client drops them, as live). The same seed,
files and scenarios give byte-identical output. ``run()`` may be called once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import orjson

from local_exchange.exchange import SimulatedMarket
from local_exchange.injection import Injector
from local_exchange.injection_replay import ReplayInjection, ReplayVenue
from local_exchange.injection_venue import SimVenue, Venue
from local_exchange.instruments import KNOWN_SPECS
from local_exchange.market_model import FlowParams, SimulatedSymbol
from local_exchange.publisher import Payload
from local_exchange.recording import merged_messages
from local_exchange.replay import ReplayMarket
from local_exchange.rest import RestApi
from local_exchange.scenarios import Scenario

DEFAULT_START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
STEP_MS = 100
Message = tuple[int, bytes]


class OfflineMarket:
    """One run of a seeded simulated market (``symbols``) or of ``replay_files``."""

    def __init__(self, symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"), *,
                 replay_files: Iterable[Path | str] = (), seed: int = 1,
                 scenarios: Iterable[Scenario] = (), duration_s: float = 300.0,
                 start_ms: int = DEFAULT_START_MS, envelope: bool = True,
                 flow: Mapping[str, FlowParams] | None = None) -> None:
        self.envelope = envelope
        self.duration_s = duration_s
        self._now_ns = start_ms * 1_000_000
        self._ran = False
        self._first: list[Message] = []
        files = list(replay_files)
        if files:
            self._replay: ReplayMarket | None = ReplayMarket(files)
            overlays = {r.symbol: ReplayVenue(self._replay.specs[r.symbol], r.snapshot)
                        for r in self._replay.recordings}
            self._venues: dict[str, Venue] = dict(overlays)
            self.injector = Injector(self._venues, seed, scenarios)
            self._hook = ReplayInjection(overlays, self.injector.step, self.injector.shown)
            source: SimulatedMarket | ReplayMarket = self._replay
        else:
            self._replay = None
            self._sims = {s: SimulatedSymbol(KNOWN_SPECS[s], seed, (flow or {}).get(s),
                                             self._now_ns)
                          for s in (sym.upper() for sym in symbols)}
            self._venues = {s: SimVenue(sim) for s, sim in self._sims.items()}
            self.injector = Injector(self._venues, seed, scenarios)
            source = SimulatedMarket(self._sims)
            self._first = list(self._sim_step())  # the snapshot sits inside the first diff
        self.symbols = tuple(source.listed())
        self._rest = RestApi(source, lambda: self._now_ns)
        self._snapshots = {s: self._rest(f"/fapi/v1/depth?symbol={s}&limit=1000").body
                           for s in self.symbols}

    def snapshots(self) -> dict[str, bytes]:
        """REST depth (limit 1000) JSON bytes per symbol, as served before the stream."""
        return dict(self._snapshots)

    def snapshot(self, symbol: str) -> bytes:
        return self._snapshots[symbol]

    def truth(self) -> list[dict[str, object]]:
        """Truth records of every scenario (venue epoch seconds); complete after ``run()``."""
        return self.injector.truth()

    def run(self) -> Iterator[Message]:
        """``(receive_ns, raw bytes)`` of every depthUpdate and trade message, in order."""
        if self._ran:
            raise RuntimeError("OfflineMarket.run() may be called once")
        self._ran = True
        if self._replay is not None:
            yield from self._run_replay()
            return
        yield from self._first
        steps = int(self.duration_s * 1000 / STEP_MS)
        for _ in range(steps - 1):
            yield from self._sim_step()

    # ---------------------------------------------------------------- internals
    def _sim_step(self) -> Iterator[Message]:
        start_ns = self._now_ns
        self._now_ns += STEP_MS * 1_000_000
        self.injector.step(start_ns)
        for symbol, sim in self._sims.items():
            out = sim.step(self._now_ns, STEP_MS / 1000)
            lower = symbol.lower()
            for trade in out.agg_trades:
                yield self._now_ns, self._frame(f"{lower}@aggTrade", trade)
            if out.depth is not None:
                self.injector.shown(symbol, out.depth["E"])
                yield self._now_ns, self._frame(f"{lower}@depth@100ms", out.depth)

    def _run_replay(self) -> Iterator[Message]:
        assert self._replay is not None
        books = self._replay.books
        for recorded in merged_messages(self._replay.recordings):
            # Every message steps the agents (as in the served replay); only depth and trades
            # are yielded.
            for msg in self._hook.process(recorded):
                event = msg.data.get("e")
                if event == "depthUpdate":
                    books[msg.symbol].on_published(msg.data)
                elif event not in ("trade", "aggTrade"):
                    continue
                self._now_ns = msg.local_ns
                yield msg.local_ns, self._frame(msg.stream, msg.data)

    def _frame(self, stream: str, payload: Payload) -> bytes:
        if not self.envelope:
            return orjson.dumps(payload)
        return orjson.dumps({"stream": stream, "data": payload})
