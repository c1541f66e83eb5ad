"""Issue 8, "Done when": a Binance-compatible server that is NOT the local exchange replays a real
recording with events injected into its payloads, and the depthlens app - started as for
``--source live`` against it - reports them through ``GET /events/BTCUSDT`` with the right
type, side, price and venue-time window (the ``E``/``T`` values the server stamped).

One replay serves every test of the module (about 15 s at 10x); the injections fall after the
detectors' baseline has warmed up (6 samples, 5 s apart, of venue time)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from config import Config
from tests.app_harness import serve_app
from tests.client_harness import until
from tests.independent_replay_server import (
    IndependentReplayServer,
    SweepInjection,
    Truth,
    WallInjection,
    build_plan,
)

RECORDING = [Path(__file__).resolve().parents[2]
             / "shared/data/binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz"]
TICK = 0.1
# Venue-time offsets from the first replayed diff: the wall lives 20 s (4x the 5 s minimum)
# from 60 s, the buy sweep takes 5 ask levels at 95 s; the replay stops at 110 s.
WALL = WallInjection("bid", start_s=60, duration_s=20)
SWEEP = SweepInjection("ask", at_s=95, levels=5)
WINDOW_S = 2.0  # venue-time slack on reported start/end


@dataclass
class Outcome:
    truth: list[Truth]
    events: list[dict[str, Any]]
    gaps: int
    resyncs: int


async def _scenario() -> Outcome:
    plan = build_plan(RECORDING, "0.10", "0.001", [WALL], [SWEEP], until_s=110)
    server = IndependentReplayServer(plan, speed=10.0)
    await server.start()
    try:
        config = Config(source="live", binance_rest_url=f"http://{server.url}",
                        binance_ws_url=f"ws://{server.url}", symbols=("BTCUSDT",), port=0)
        async with serve_app(config) as served:
            await served.all_live(30)
            await asyncio.wait_for(server.finished.wait(), 60)
            sync = served.runtime.engines["BTCUSDT"].sync
            # the client has applied everything the server sent
            await until(lambda: sync.last_applied_u == server.last_update_id, 30,
                        "the client to apply the last diff")
            async with httpx.AsyncClient(base_url=served.http) as http:
                resp = await http.get("/events/BTCUSDT")
                walls = await http.get("/events/BTCUSDT", params={"type": "wall"})
            assert resp.status_code == 200 and walls.status_code == 200, (resp.text, walls.text)
            doc = resp.json()
            assert doc["symbol"] == "BTCUSDT"
            # the endpoint's type filter agrees with the full list
            assert walls.json()["events"] == [e for e in doc["events"] if e["type"] == "wall"]
            stats = sync.stats
            return Outcome(plan.truth, doc["events"], stats.gaps, stats.resyncs)
    finally:
        await server.close()


@pytest.fixture(scope="module")
def outcome() -> Outcome:
    return asyncio.run(_scenario())


def _truth(outcome: Outcome, type_: str) -> Truth:
    return next(t for t in outcome.truth if t.type == type_)


def _nearby(outcome: Outcome, truth: Truth) -> list[tuple[Any, ...]]:
    """Events of the same type within 10 ticks and 10 s of ``truth`` (for failure messages)."""
    return [(e["type"], e["side"], e["price"], e["start_ts"], e["end_ts"]) for e in outcome.events
            if e["type"] == truth.type and abs(e["price"] - truth.price) <= 10 * TICK
            and truth.start_ts - 10 <= e["start_ts"] <= truth.end_ts + 10]


def test_the_injected_book_stays_exact(outcome: Outcome) -> None:
    """The edited payloads keep Binance's update-id chain: no gap, no resync, no crossed book."""
    assert outcome.gaps == 0 and outcome.resyncs == 0


def test_wall_is_reported_with_side_price_and_venue_window(outcome: Outcome) -> None:
    truth = _truth(outcome, "wall")
    walls = [e for e in outcome.events if e["type"] == "wall" and e["side"] == truth.side
             and abs(e["price"] - truth.price) <= TICK + 1e-9
             and e["start_ts"] <= truth.end_ts and (e["end_ts"] or 1e12) >= truth.start_ts]
    assert walls, f"no wall reported at {truth}; nearby: {_nearby(outcome, truth)}"
    wall = walls[0]
    assert abs(wall["start_ts"] - truth.start_ts) <= WINDOW_S, (wall, truth)
    assert wall["status"] == "ended" and wall["end_ts"] is not None, wall
    assert abs(wall["end_ts"] - truth.end_ts) <= WINDOW_S, (wall, truth)
    assert wall["start_ts"] <= wall["detected_ts"] <= truth.end_ts + WINDOW_S
    assert wall["size"] == pytest.approx(truth.size, rel=0.5)
    assert len(walls) == 1, walls  # one wall, not one per diff


def test_sweep_is_reported_with_side_price_range_and_venue_time(outcome: Outcome) -> None:
    truth = _truth(outcome, "sweep")
    sweeps = [e for e in outcome.events if e["type"] == "sweep" and e["side"] == truth.side
              and e["start_ts"] >= truth.start_ts - WINDOW_S
              and e["start_ts"] <= truth.end_ts + WINDOW_S]
    assert sweeps, f"no sweep reported for {truth}; nearby: {_nearby(outcome, truth)}"
    sweep = sweeps[0]
    low, high = sorted((sweep["price_from"], sweep["price_to"]))
    # the reported span covers the swept levels (within a tick) and ends at the last price
    assert low <= truth.price_from + TICK + 1e-9 and high >= truth.price_to - TICK - 1e-9, \
        (sweep, truth)
    assert abs(sweep["price"] - truth.price) <= TICK + 1e-9, (sweep, truth)
    assert sweep["end_ts"] is None or sweep["end_ts"] <= truth.end_ts + WINDOW_S


def test_the_plan_edits_payloads_without_breaking_the_update_id_chain() -> None:
    """The server's own consistency, checked on its plan without sockets: the pu chain of the
    diffs it sends is the recording's; the wall is in every window diff that mentions its price
    and leaves after; the sweep's trades take >= 4 levels within 100 ms at the levels the next
    diff removes."""
    plan = build_plan(RECORDING, "0.10", "0.001", [WALL], [SWEEP], until_s=110)
    diffs = [m.data for m in plan.messages if m.route == "public"]
    assert all(b["pu"] == a["u"] for a, b in itertools.pairwise(diffs))
    wall, sweep = _truth_of(plan.truth, "wall"), _truth_of(plan.truth, "sweep")
    start_ms, end_ms = round(wall.start_ts * 1000), round(wall.end_ts * 1000)
    at_wall = [(d["E"], float(q)) for d in diffs for p, q in d["b"]
               if float(p) == wall.price and start_ms <= d["E"] <= end_ms]
    assert at_wall[0] == (start_ms, pytest.approx(wall.size))
    assert at_wall[-1][0] == end_ms and at_wall[-1][1] < wall.size
    assert all(q >= wall.size for ts, q in at_wall[:-1])
    burst = [m.data for m in plan.messages if m.route == "market" and m.data["a"] >= 9e12]
    assert len({t["p"] for t in burst}) == SWEEP.levels >= 4
    assert burst[-1]["T"] - burst[0]["T"] <= 100 and not any(t["m"] for t in burst)
    removal = next(d for d in diffs if d["E"] == round(sweep.end_ts * 1000))
    removed = {p for p, q in removal["a"] if float(q) == 0}
    assert {t["p"] for t in burst} <= removed


def _truth_of(truth: list[Truth], type_: str) -> Truth:
    return next(t for t in truth if t.type == type_)
