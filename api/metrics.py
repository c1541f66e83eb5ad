"""``GET /metrics``: Prometheus text exposition, one registry per app (tests run several apps).

Counters that already live in the engines are read at scrape time by a collector; latencies are
histograms observed as events flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psutil
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from features.liquidity import EVENT_TYPES
from marketdata.events import DepthDiff

if TYPE_CHECKING:
    from api.runtime import Runtime

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0)


class Metrics:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry(auto_describe=True)
        self.exchange_to_receive = Histogram(
            "depthlens_exchange_to_receive_seconds", "Exchange event time to local receive "
            "(includes clock offset between venue and host)", ["symbol"],
            buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.receive_to_applied = Histogram(
            "depthlens_receive_to_applied_seconds", "Local receive to diff applied to the book",
            ["symbol"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.tick_to_sent = Histogram(
            "depthlens_tick_to_frame_sent_seconds", "Frame clock boundary to frame sent to a "
            "WebSocket client", ["symbol"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_StateCollector(runtime))
        runtime.on_engines_ready.append(self._hook_engines)
        runtime.on_market_started.append(self._hook_engine)
        runtime.on_market_stopped.append(self._forget)

    def _hook_engines(self) -> None:
        for symbol, engine in self.runtime.engines.items():
            self._hook_engine(symbol, engine)

    def _hook_engine(self, symbol: str, engine: Any) -> None:
        """Latency histograms of one market (at startup, or when it is started later)."""
        clock = self.runtime.clock
        to_receive = self.exchange_to_receive.labels(symbol)
        to_applied = self.receive_to_applied.labels(symbol)

        def observe(diff: DepthDiff) -> None:
            to_receive.observe(max(0.0, diff.receive_ts_ns / 1e9 - diff.exchange_ts_ms / 1e3))
            to_applied.observe((clock.time_ns() - diff.receive_ts_ns) / 1e9)

        engine.after_diff = observe

    def _forget(self, symbol: str) -> None:
        """A stopped market's series go with it: /metrics lists running markets only, and a
        market started and stopped many times leaves nothing behind."""
        for histogram in (self.exchange_to_receive, self.receive_to_applied, self.tick_to_sent):
            try:
                histogram.remove(symbol)
            except KeyError:
                pass  # never observed (no viewer, say)

    def frame_sent(self, symbol: str, tick_ns: int) -> None:
        self.tick_to_sent.labels(symbol).observe(
            max(0.0, (self.runtime.clock.time_ns() - tick_ns) / 1e9))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StateCollector(Collector):
    """Reads the engines' own counters at scrape time (no double bookkeeping)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._process = psutil.Process()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        rt = self.runtime
        counters = {
            "diffs_received": ("Depth diffs received", lambda e: e.counters.diffs_received),
            "diffs_applied": ("Depth diffs applied to the book", lambda e: e.sync.stats.applied),
            "trades_received": ("Trades received", lambda e: e.counters.trades_received),
            "gaps": ("Update-id gaps detected", lambda e: e.sync.stats.gaps),
            "resyncs": ("Book rebuilds after having been live", lambda e: e.sync.stats.resyncs),
            "duplicates": ("Stale duplicate diffs ignored", lambda e: e.sync.stats.duplicates),
            "stale_snapshots": ("Snapshots older than the stream, refetched",
                                lambda e: e.sync.stats.stale_snapshots),
            "integrity_errors": ("Crossed books detected", lambda e: e.sync.stats.integrity_errors),
            "snapshot_failures": ("Snapshot requests that failed",
                                  lambda e: e.counters.snapshot_failures),
            "coalesced_bursts": ("Queue overflows coalesced losslessly",
                                 lambda e: e.counters.bursts_coalesced),
        }
        for name, (text, read) in counters.items():
            family = CounterMetricFamily(f"depthlens_{name}", text, labels=["symbol"])
            for symbol, engine in rt.engines.items():
                family.add_metric([symbol], read(engine))
            yield family
        gauges = {
            "update_rate": ("Depth diffs per second (last seconds)",
                            lambda s, e: e.diff_rate.rate()),
            "queue_depth": ("Diffs waiting for the book engine", lambda s, e: e.queue_depth),
            "live": ("1 when the book is live", lambda s, e: float(e.status() == "live")),
            "ws_clients": ("Connected frame WebSocket clients", lambda s, e: rt.hub.client_count(s)),
        }
        for name, (text, read_gauge) in gauges.items():
            gauge = GaugeMetricFamily(f"depthlens_{name}", text, labels=["symbol"])
            for symbol, engine in rt.engines.items():
                gauge.add_metric([symbol], read_gauge(symbol, engine))
            yield gauge
        events = CounterMetricFamily("depthlens_liquidity_events",
                                     "Liquidity events detected, by type", labels=["symbol", "type"])
        for symbol, state in rt.states.items():
            if state.detectors is not None:
                counts = state.detectors.log.counts
                for event_type in EVENT_TYPES:
                    events.add_metric([symbol, event_type], counts.get(event_type, 0))
        yield events
        dropped = CounterMetricFamily("depthlens_dropped_frames",
                                      "Frames dropped for clients that lagged", labels=["symbol"])
        for symbol in rt.engines:
            dropped.add_metric([symbol], rt.hub.dropped_frames.get(symbol, 0))
        yield dropped
        malformed = CounterMetricFamily("depthlens_malformed_frames",
                                        "Stream frames skipped as malformed")
        malformed.add_metric([], sum(getattr(f, "malformed_frames", 0) for f in rt.feeds.values()))
        yield malformed
        rss = GaugeMetricFamily("depthlens_process_rss_bytes", "Resident set size of the process")
        rss.add_metric([], self._process.memory_info().rss)
        yield rss
