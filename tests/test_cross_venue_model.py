"""Coherent prices across venues in the local exchange's market model (``asset_path``), and the
dislocation control (``SimulatedSymbol.dislocate``).

Sims are stepped the way ``local_exchange`` steps them: one ``step(now, 0.1)`` per 100 ms tick.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
from pathlib import Path

from local_exchange.asset_path import VENUE_PREMIUM_BPS, path_offset
from local_exchange.coinbase_server import _FLOW_OF, COINBASE_SPECS
from local_exchange.instruments import ASSET_ANCHORS, KNOWN_SPECS, SPOT_SPECS, SymbolSpec
from local_exchange.market_model import COINBASE_FLOW, SPOT_FLOW, SimulatedSymbol
from marketdata.markets import BINANCE_SPOT, BINANCE_USDM, COINBASE

ROOT = Path(__file__).resolve().parent.parent
START = 1_754_611_200_000_000_000  # 2025-08-08 00:00 UTC
STEP_NS = 100_000_000
BTC_USDM = KNOWN_SPECS["BTCUSDT"]  # tick 0.10
BTC_USD = SymbolSpec.make("BTC-USD", "0.01", "0.00000001", 2, 8, "61800.20")  # Coinbase's steps
# Same steps and flow as BTC-USD, but another asset name, hence its own, independent path.
XBT_USD = SymbolSpec.make("XBT-USD", "0.01", "0.00000001", 2, 8, "61800.20")


def _mid(sim: SimulatedSymbol) -> float:
    """The mid in price units (after a step the engine's book is the published one)."""
    bid, ask = sim.engine.best_bid(), sim.engine.best_ask()
    assert bid is not None and ask is not None
    return (bid + ask) / 2


def _bps(a: SimulatedSymbol, b: SimulatedSymbol) -> float:
    """How far ``a``'s mid is above ``b``'s, in bps (both quote the asset at one scale)."""
    scale_a = a.spec.instrument.price_scale
    scale_b = b.spec.instrument.price_scale
    return (_mid(a) / scale_a / (_mid(b) / scale_b) - 1) * 1e4


def test_two_venues_of_one_asset_stay_within_a_few_bps_for_30_minutes() -> None:
    """The perpetual (tick 0.10, Binance's flow) and a Coinbase-like BTC-USD book (tick 0.01,
    ~10x fewer orders) stay within a few bps of each other for 30 simulated minutes, while
    the same BTC-USD book on another asset's path (as independent as two random walks of the
    same volatility) drifts tens of bps away.

    Bound: the perpetual's premium is 1.5 bp; each venue's own deviation has a 1 bp stationary
    std, so the difference of the two has std ~1.4 bp, and 4 std is 5.7 bp; each mid sits
    within ~0.5 bp of its fair price (makers pull a few ticks of 0.10 at 61800 = 0.16 bp). So
    |difference| <= 1.5 + 5.7 + 1 ~ 8 bp, all of the time. Two independent walks at BTC's
    0.23 bp per sqrt second move apart by ~0.23 * sqrt(2 * 1800) ~ 14 bp (one std) in 30 min,
    on top of where their paths started (each ~11 bp std around the anchor)."""
    usdm = SimulatedSymbol(BTC_USDM, 1, start_ns=START, venue=BINANCE_USDM)
    coinbase = SimulatedSymbol(BTC_USD, 2, COINBASE_FLOW["BTC-USD"], START, venue=COINBASE)
    other = SimulatedSymbol(XBT_USD, 3, COINBASE_FLOW["BTC-USD"], START, venue=COINBASE)
    assert usdm.asset == coinbase.asset == "BTC" and other.asset == "XBT"
    same, independent, modelled = [], [], []
    now = START
    for i in range(30 * 60 * 10):
        now += STEP_NS
        for sim in (usdm, coinbase, other):
            sim.step(now, 0.1)
        if i % 10 == 9:  # once a second
            same.append(_bps(usdm, coinbase))
            independent.append(_bps(usdm, other))
            modelled.append(VENUE_PREMIUM_BPS[BINANCE_USDM] + usdm.fair_model.deviation
                            - coinbase.fair_model.deviation)
    assert max(abs(d) for d in same) < 8.0, max(same, key=abs)
    # What is left is the premium and the two own deviations: each book tracks its fair price
    # to well under a bp (measured: 0.006 bp on average, under a tick of 0.10 at 61800), so
    # the perpetual's premium shows in the basis.
    misses = [abs(d - m) for d, m in zip(same, modelled, strict=True)]
    assert statistics.fmean(misses) < 0.1, statistics.fmean(misses)
    # Independent paths: far apart at some point, and their gap wanders far more.
    assert max(abs(d) for d in independent) > 3 * max(abs(d) for d in same)
    spread_same = max(same) - min(same)
    spread_independent = max(independent) - min(independent)
    assert spread_independent > 2.5 * spread_same, (spread_independent, spread_same)


def test_instances_created_at_different_times_or_processes_agree_on_the_common_path() -> None:
    """The common path is a function of time and asset only: a venue started ten minutes
    later, with another seed and tick, reads the same path; another Python process (with its
    own string-hash salt) computes the same value."""
    early = SimulatedSymbol(BTC_USDM, 5, start_ns=START, venue=BINANCE_USDM)
    now = START
    for _ in range(10 * 60 * 10):
        now += STEP_NS
        early.step(now, 0.1)
    late = SimulatedSymbol(SPOT_SPECS["BTCUSDT"], 9, SPOT_FLOW["BTCUSDT"], start_ns=now,
                           venue=BINANCE_SPOT)
    for _ in range(600):
        now += STEP_NS
        early.step(now, 0.1)
        late.step(now, 0.1)
        assert early.fair_model.common_bps(now) == late.fair_model.common_bps(now)
        # The fair prices differ by the premium and the two own deviations only.
        gap = math.log(early.fair / late.fair) * 1e4
        own = early.fair_model.deviation - late.fair_model.deviation
        assert abs(gap - VENUE_PREMIUM_BPS[BINANCE_USDM] - own) < 0.5
        # The index (spot reference) is the path alone: the perpetual is its premium and own
        # deviation above it, Spot its own deviation.
        basis = math.log(early.fair / early.index_price(now)) * 1e4
        assert abs(basis - VENUE_PREMIUM_BPS[BINANCE_USDM] - early.fair_model.deviation) < 0.5
        assert abs(early.index_price(now) - late.index_price(now)) < late.tick
    code = ("from local_exchange.asset_path import path_offset; "
            f"print(repr(path_offset('BTC', {now})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={"PYTHONHASHSEED": "12345", "PYTHONPATH": "."})
    assert float(out.stdout) == path_offset("BTC", now)
    assert path_offset("ETH", now) != path_offset("BTC", now)


def test_common_path_moves_one_unit_per_sqrt_second() -> None:
    """Increments over 1 s and 60 s have variance ~h (what venues' volatility scales)."""
    for h_s in (1, 60):
        incs = [path_offset("BTC", t + h_s * 10**9) - path_offset("BTC", t)
                for t in range(START, START + 4000 * 7_919_000_000, 7_919_000_000)]
        assert 0.8 < statistics.pvariance(incs) / h_s < 1.2, h_s


def test_listed_venues_of_an_asset_share_one_path_volatility() -> None:
    """Venues of one asset follow one path only if their ``fair_vol_ticks`` mean the same bps
    (the module doc says why): every listing of every asset, in its venue's own ticks."""
    sims = [SimulatedSymbol(spec, 1, None, START, venue=BINANCE_USDM)
            for spec in KNOWN_SPECS.values()]
    sims += [SimulatedSymbol(spec, 1, SPOT_FLOW.get(name), START, venue=BINANCE_SPOT)
             for name, spec in SPOT_SPECS.items()]
    sims += [SimulatedSymbol(spec, 1, _FLOW_OF.get(name), START, venue=COINBASE)
             for name, spec in COINBASE_SPECS.items()]
    by_asset: dict[str, set[tuple[float, float]]] = {}
    for sim in sims:
        by_asset.setdefault(sim.asset, set()).add((sim.fair_model.path_vol,
                                                   sim.fair_model.deviation_std))
        # Each starts at its asset's anchor on the path, whatever its spec's start price says.
        anchor = sim.spec.instrument.prices.parse(ASSET_ANCHORS[sim.asset])
        assert sim.fair_model.anchor == anchor
    assert set(by_asset) == set(ASSET_ANCHORS)
    assert all(len(knobs) == 1 for knobs in by_asset.values()), by_asset


def _run(sims: list[SimulatedSymbol], now: int, steps: int) -> int:
    for _ in range(steps):
        now += STEP_NS
        for sim in sims:
            sim.step(now, 0.1)
    return now


def test_dislocation_moves_the_book_by_the_asked_bps_and_back() -> None:
    """The whole book moves by the nearest whole number of ticks at once (published in the
    next depthUpdate, every size still a sum of resting orders), the flow keeps following the
    shifted fair price, a second call replaces the first, and at the end the book moves back.
    A twin with the same seed and no dislocation shows where the book would have been."""
    sim = SimulatedSymbol(BTC_USDM, 4, start_ns=START, venue=BINANCE_USDM)
    twin = SimulatedSymbol(BTC_USDM, 4, start_ns=START, venue=BINANCE_USDM)
    tick = sim.tick
    now = _run([sim, twin], START, 50)
    assert _mid(sim) == _mid(twin)  # same seed, same path: the same book so far

    before = _mid(sim)
    sim.dislocate(20.0, 3.0, now)
    shift = 20.0 * 1e-4 * before  # ~1236 ticks of 0.10 at 61800
    now += STEP_NS
    out = sim.step(now, 0.1, flow=False)  # the move alone, no flow in the same tick
    assert out.depth is not None and len(out.depth["b"]) > 500
    assert abs(_mid(sim) - before - shift) <= tick
    book = sim.publisher.published_book()
    assert (book.bids, book.asks) == sim.engine.depth(0)

    # While on, the flow follows the shifted fair price: the book stays ~20 bp above the twin.
    twin.step(now, 0.1, flow=False)
    gaps = []
    for _ in range(20):
        now = _run([sim, twin], now, 1)
        gaps.append(_mid(sim) - _mid(twin))
    assert all(abs(g - shift) < 0.1 * shift for g in gaps), gaps

    # A second call replaces the first: now 10 bp down from where it would be.
    sim.dislocate(-10.0, 1.0, now)
    now = _run([sim, twin], now, 1)
    assert abs(_mid(sim) - _mid(twin) + 10.0 * 1e-4 * _mid(twin)) < 0.1 * shift
    # After its second the book is back with the twin (within the flow's own noise, ~2 bp).
    now = _run([sim, twin], now, 10)
    assert abs(_mid(sim) - _mid(twin)) < 0.1 * shift
    assert sim.dislocation_offset() == 0
    now = _run([sim, twin], now, 50)
    assert abs(_mid(sim) - _mid(twin)) < 0.1 * shift
