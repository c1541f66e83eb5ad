"""Rules: the default profile is the brief's, bad files are one-line errors naming the line (also
through main.py, exit status 2), ``rules`` equals the conditions re-evaluated on each frame's own
values (both profiles), and the insight panel's order and hysteresis."""

from __future__ import annotations

import dataclasses
import operator
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marketdata.events import DepthDiff, DepthSnapshot, Side, Trade
from features.liquidity import LiquidityDetectors
from features.liquidity.event import EventLog, LiquidityEvent
from features.liquidity.params import DetectorParams
from insights import DecisionLayer, RulesError, default_rules, load_rules
from insights.loader import parse_rules
from insights.panel import InsightPanel
from insights.rules import Condition, Rule
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from state.symbol_state import SymbolState

ROOT = Path(__file__).resolve().parent.parent
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}

# The product brief's rules, written out independently of the shipped file.
BRIEF = {
    1: ("spread_bps", ">", 6, None, "HIGH"), 2: ("spread_bps", "<", 2, None, "LOW"),
    3: ("imbalance", "<", -0.5, None, "HIGH"), 4: ("imbalance", ">", 0.5, None, "MEDIUM"),
    5: ("volatility_60s_bps", ">", 20, None, "HIGH"),
    6: ("volatility_60s_bps", "<", 10, None, "LOW"),
    7: ("velocity_3s", ">", 2, "velocity_baseline", "HIGH"),
    8: ("velocity_3s", "<", 0.5, "velocity_baseline", "MEDIUM"),
    9: ("price_vs_vwap_pct", ">", 0.1, None, "MEDIUM"),
    10: ("price_vs_vwap_pct", "<", -0.1, None, "MEDIUM"),
}

GOOD_RULE = '''
[[rule]]
id = {id}
name = "r{id}"
when = "{when}"
priority = "{priority}"
insight = "{insight}"
action = "act"
how_to_overcome = "how"
expected_impact = "impact"
'''


def rules_text(*rules: dict[str, object]) -> str:
    defaults = {"when": "spread_bps > 6", "priority": "HIGH", "insight": "spread {spread_bps:.1f}"}
    return "".join(GOOD_RULE.format(**{**defaults, **r}) for r in rules)


def test_default_profile_is_the_brief() -> None:
    book = default_rules()
    assert [r.id for r in book.rules][:10] == list(range(1, 11))
    for rule in book.rules[:10]:
        metric, op, k, other, priority = BRIEF[rule.id]
        cond = rule.condition
        assert (cond.metric, cond.op, cond.other, rule.priority) == (metric, op, other, priority)
        assert (cond.k if other else cond.threshold) == k
        assert all(getattr(rule, f).strip() for f in ("insight", "action", "how_to_overcome",
                                                       "expected_impact"))
    assert {r.condition.metric for r in book.rules[10:]} == {
        "walls_near_touch", "sweeps_10s", "icebergs_active", "exhaustion_active"}
    assert min(r.id for r in book.rules[10:]) == 11


@pytest.mark.parametrize("text, line, fragment", [
    (rules_text({"id": 1}, {"id": 2, "when": "spreed_bps > 6"}), 15, "unknown metric 'spreed_bps'"),
    (rules_text({"id": 1, "when": "spread_bps => 6"}), 5, "bad operator '=>'"),
    (rules_text({"id": 1, "when": "spread_bps == 6"}), 5, "bad operator '=='"),
    (rules_text({"id": 1}, {"id": 2, "priority": "URGENT"}), 16, "bad priority 'URGENT'"),
    (rules_text({"id": 1}, {"id": 1}), 13, "duplicate rule id 1"),
    (rules_text({"id": 3, "when": "velocity_3s > 2 x velocity"}), 5, "unknown metric 'velocity'"),
    (rules_text({"id": 3, "insight": "x {nope:.1f}"}), 7, "unknown field {nope}"),
    (rules_text({"id": 3, "insight": "x {spread_bps:.1q}"}), 7, "bad format"),
    (rules_text({"id": 3, "when": "__import__('os') > 1"}), 5, "cannot read condition"),
    (rules_text({"id": 3, "when": "spread_bps > os.system(1)"}), 5, "right-hand side"),
    (rules_text({"id": 3, "when": "wall_side > 1"}), 5, "is text, not a number"),
    (rules_text({"id": 1}) + "colour = 3\n", 11, "unknown key 'colour'"),
    (rules_text({"id": 1}) + "[panel]\nhold_s = -1\n", 12, "hold_s must be a positive"),
    ("[[rule]]\nid = 1\nwhen = \n", 3, "not valid TOML"),
])
def test_bad_rules_name_the_file_and_line(tmp_path: Path, text: str, line: int,
                                          fragment: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(RulesError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message and "\n" not in message


def test_main_exits_2_naming_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "my_rules.toml"
    path.write_text(rules_text({"id": 1}, {"id": 2, "when": "imbalanse < -0.5"}))
    result = subprocess.run([sys.executable, "main.py", "--rules", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"{path}:15:" in lines[0] and "imbalanse" in lines[0]
    path.write_text(rules_text({"id": 1, "when": "spread_bps >> 6"}))
    env = {"DEPTHLENS_RULES": str(path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"{path}:5:" in result.stderr and "'>>'" in result.stderr


def test_condition_parsing() -> None:
    assert Condition.parse("spread_bps>6") == Condition("spread_bps", ">", threshold=6.0)
    assert Condition.parse(" imbalance <= -0.5 ") == Condition("imbalance", "<=", threshold=-0.5)
    relative = Condition.parse("velocity_3s < 0.5 x velocity_baseline")
    assert (relative.k, relative.other) == (0.5, "velocity_baseline")
    assert Condition.parse("velocity_3s > 2*velocity_baseline").k == 2.0
    assert relative.effective_threshold({"velocity_baseline": 8.0}) == 4.0
    assert relative.effective_threshold({"velocity_baseline": None}) is None
    assert not relative.holds({"velocity_3s": 1.0}, None)


# --- rules on real frames of a SymbolState -------------------------------------------------------

INST = Instrument.from_steps("BTCUSDT", "0.01", "0.001", 2, 3)  # 1 tick = 1 bps at 100.00


def _drive(state: SymbolState, seconds: int, seed: int) -> list[dict[str, Any]]:
    """A random book (spread 1-10 ticks around 100.00, lopsided sizes) and random trades with
    quiet and busy spells; one frame per second."""
    rng = random.Random(seed)
    book = state.book
    book.load([(10000, 5000)], [(10001, 5000)], 1)
    state.on_book_reset(book, DepthSnapshot("BTCUSDT", 1, [], [], 0, 0))
    frames: list[dict[str, Any]] = []
    u, mid, trade_id = 1, 10000, 0
    for sec in range(seconds):
        base_ms = 1_700_000_000_000 + sec * 1000
        busy = rng.choice([0, 1, 3, 12])
        wild = 40 if sec % 90 > 60 else 1  # calm spells and wild ones (volatility rules)
        for step in range(5):
            mid += rng.choice([-2, -1, 0, 0, 1, 2]) * wild
            spread = rng.choice([1, 1, 2, 3, 7, 10])
            bid, ask = mid - spread // 2, mid - spread // 2 + spread
            u += 1
            bids = [(p, rng.randint(1, 4000) * rng.choice([1, 1, 5]))
                    for p in range(bid - 9, bid + 1)]
            asks = [(p, rng.randint(1, 4000) * rng.choice([1, 1, 5]))
                    for p in range(ask, ask + 10)]
            book.load(bids, asks, u)  # absolute levels, as a diff would leave them
            state.on_book_update(book, DepthDiff("BTCUSDT", u, u, u - 1, [], [],
                                                 base_ms + step * 200, 0))
            for _ in range(rng.randint(0, busy)):
                trade_id += 1
                side: Side = rng.choice(["buy", "sell"])
                state.on_trade(Trade("BTCUSDT", trade_id, ask if side == "buy" else bid,
                                     rng.randint(1, 3000), side, base_ms + step * 200 + 50, 0))
        integrity = {"BTCUSDT": {"status": "live", "last_update_id": u, "gaps": 0,
                                 "resyncs": 0, "last_event_age_ms": 1.0}}
        frames.append(state.cut_frame(float(sec + 1), (sec + 1) * 10**9, integrity))
    return frames


def _value(frame: dict[str, Any], metric: str) -> Any:
    return frame[metric] if metric in frame else frame["signals"][metric]


def test_rules_equal_the_brief_conditions_on_each_frame() -> None:
    state = SymbolState(INST, L2Book(), top_n=10, history_seconds=180, heatmap_band_bps=20.0,
                        heatmap_rows=40)
    frames = _drive(state, 240, seed=3)
    seen_true: set[int] = set()
    seen_false: set[int] = set()
    for frame in frames:
        expected = set()
        for rule_id, (metric, op, k, other, _) in BRIEF.items():
            value = frame[metric]
            limit = k if other is None else (None if frame[other] is None else k * frame[other])
            if value is not None and limit is not None and OPS[op](value, limit):
                expected.add(rule_id)
        got = set(frame["rules"]) & set(BRIEF)
        assert got == expected, (frame["ts"], got, expected)
        seen_true |= expected
        seen_false |= set(BRIEF) - expected
        # And every rule (event rules too) from the frame's own `conditions`.
        from_conditions = {int(i) for i, c in frame["conditions"].items()
                           if c["value"] is not None and _value(frame, c["metric"]) is not None
                           and OPS[c["op"]](_value(frame, c["metric"]), c["value"])}
        assert from_conditions == set(frame["rules"])
        assert len(frame["insights"]) <= 3
    # The test means something only if every brief rule both held and did not hold.
    assert seen_true == set(BRIEF) and seen_false == set(BRIEF)


def test_calibrated_thresholds_are_percentiles_of_earlier_frames() -> None:
    book = dataclasses.replace(default_rules(), window_s=50, min_samples=20)
    state = SymbolState(INST, L2Book(), top_n=10, history_seconds=180, heatmap_band_bps=20.0,
                        heatmap_rows=40, rules=book, rules_profile="calibrated")
    frames = _drive(state, 120, seed=11)
    checked = 0
    for i, frame in enumerate(frames):
        for rule in book.rules:
            cond = frame["conditions"][str(rule.id)]
            if rule.percentile is None:
                assert cond["metric"] == rule.condition.metric
                continue
            metric = rule.calibrate_on or rule.condition.metric
            past = [f[metric] for f in frames[max(0, i - 50): i] if f[metric] is not None]
            assert cond["metric"] == metric
            if len(past) < 20:
                assert cond["value"] is None and rule.id not in frame["rules"]
                continue
            assert cond["value"] == pytest.approx(np.percentile(past, rule.percentile), rel=1e-12)
            value = frame[metric]
            holds = value is not None and OPS[cond["op"]](value, cond["value"])
            assert holds == (rule.id in frame["rules"])
            checked += 1
    assert checked > 500


# --- the insight panel --------------------------------------------------------------------------

def _rules(text: str) -> dict[int, Rule]:
    return {r.id: r for r in parse_rules(text, "t.toml").rules}


def test_panel_orders_by_priority_then_recency_and_keeps_three() -> None:
    rules = _rules(rules_text({"id": 1, "priority": "LOW"}, {"id": 2, "priority": "HIGH"},
                              {"id": 3, "priority": "MEDIUM"}, {"id": 4, "priority": "MEDIUM"},
                              {"id": 5, "priority": "HIGH"}))
    panel = InsightPanel(hold_s=3, max_cards=3)
    values = {"spread_bps": 7.25}
    panel.update(1.0, [rules[1], rules[3]], values)
    cards = panel.update(2.0, [rules[1], rules[3], rules[4], rules[2]], values)
    assert [c["id"] for c in cards] == [2, 4, 3]  # HIGH, then MEDIUM newest first; LOW cut
    assert cards[0] == {"id": 2, "priority": "HIGH", "insight": "spread 7.2", "action": "act",
                        "how_to_overcome": "how", "expected_impact": "impact",
                        "triggered_at": 2.0, "holding": False}
    assert [c["triggered_at"] for c in cards] == [2.0, 2.0, 1.0]


def test_panel_hysteresis_holds_a_card_then_drops_it() -> None:
    rules = _rules(rules_text({"id": 1, "priority": "HIGH"}, {"id": 2, "priority": "LOW"}))
    panel = InsightPanel(hold_s=3, max_cards=3)
    panel.update(10.0, [rules[1]], {"spread_bps": 7.0})
    shown = panel.update(11.0, [rules[1], rules[2]], {"spread_bps": 8.0})
    assert [(c["id"], c["holding"]) for c in shown] == [(1, False), (2, False)]
    for ts in (12.0, 13.0, 14.0):  # rule 1 stopped holding at 12: held 3 s, texts frozen
        shown = panel.update(ts, [rules[2]], {"spread_bps": 1.0})
        assert (shown[0]["id"], shown[0]["holding"], shown[0]["insight"]) == (1, True, "spread 8.0")
        assert shown[0]["triggered_at"] == 10.0
    assert [c["id"] for c in panel.update(15.0, [rules[2]], {"spread_bps": 1.0})] == [2]
    panel.update(16.0, [rules[1]], {"spread_bps": 9.0})  # starts again: a new card
    shown = panel.update(17.0, [], {"spread_bps": 1.0})
    assert [(c["id"], c["triggered_at"], c["holding"]) for c in shown] == [(1, 16.0, True),
                                                                         (2, 11.0, True)]
    # Holding again within the hold time continues the same card.
    shown = panel.update(18.0, [rules[1]], {"spread_bps": 9.5})
    assert shown[0]["triggered_at"] == 16.0 and shown[0]["holding"] is False


def test_a_holding_card_ranks_after_a_live_one_of_the_same_priority() -> None:
    rules = _rules(rules_text({"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}))
    layer = DecisionLayer(parse_rules(rules_text({"id": 1}), "t.toml"))
    assert layer.evaluate(1.0, {"spread_bps": 7.0}).rules == [1]
    panel = InsightPanel(hold_s=5, max_cards=3)
    panel.update(1.0, [rules[1]], {})
    shown = panel.update(2.0, [rules[2], rules[3], rules[4]], {})
    assert [c["id"] for c in shown] == [2, 3, 4]  # rule 1 is held but ranks after live ones


# --- liquidity-event rules ----------------------------------------------------------------------

def _event(log: EventLog, kind: str, side: str, price: float, detected: float,
           score: float = 0.8, size: float = 12.5) -> LiquidityEvent:
    return log.open(LiquidityEvent(log.next_id(kind), kind, side, price, price, price,  # type: ignore[arg-type]
                                   detected - 1, detected, size, score))


def test_liquidity_signals_and_their_rules_in_frames() -> None:
    book = L2Book()
    book.load([(10000, 5000)], [(10002, 5000)], 1)  # 100.00 / 100.02, mid 100.01
    detectors = LiquidityDetectors(INST, book, DetectorParams(), detectors=[])
    state = SymbolState(INST, book, top_n=10, history_seconds=60, heatmap_band_bps=20.0,
                        heatmap_rows=40, detectors=detectors)
    state.on_book_reset(book, DepthSnapshot("BTCUSDT", 1, [], [], 0, 0))
    log, now = detectors.log, 1_700_000_100.0
    detectors.ctx.venue_ms = int(now * 1000)
    integrity = {"BTCUSDT": {"status": "live", "last_update_id": 1, "gaps": 0, "resyncs": 0,
                             "last_event_age_ms": 1.0}}
    frame = state.cut_frame(1.0, 10**9, integrity)
    assert not {11, 12, 13, 14} & set(frame["rules"])
    assert frame["signals"]["walls_near_touch"] == 0 and frame["signals"]["sweeps_10s"] == 0
    _event(log, "wall", "bid", 99.99, now - 30)             # 1 bps below the best bid: near
    _event(log, "wall", "ask", 100.05, now - 30)            # 3 bps above the best ask: not near
    _event(log, "wall", "bid", 100.00, now - 30, score=0.2)  # weak: not counted
    ended = _event(log, "wall", "ask", 100.02, now - 30)
    log.close(ended, now - 5)                                # ended: not counted
    _event(log, "sweep", "ask", 100.02, now - 11)            # older than 10 s
    _event(log, "sweep", "bid", 99.97, now - 2, size=3.0)
    frame = state.cut_frame(2.0, 2 * 10**9, integrity)
    signals = frame["signals"]
    assert signals["walls_near_touch"] == 1 and signals["wall_side"] == "bid"
    assert signals["wall_price"] == 99.99
    assert signals["wall_distance_bps"] == pytest.approx(0.01 / 100.01 * 1e4)
    assert signals["sweeps_10s"] == 1 and signals["sweep_direction"] == "sell"
    assert signals["sweep_volume"] == 3.0 and signals["icebergs_active"] == 0
    assert {11, 12} <= set(frame["rules"]) and not {13, 14} & set(frame["rules"])
    cards = {c["id"]: c for c in frame["insights"]}
    assert "bid wall of 12.5 rests at 99.99" in cards[11]["insight"]
    assert "sell sweep took the bid side, 3 through to 99.97" in cards[12]["insight"]
    iceberg = _event(log, "iceberg", "ask", 100.02, now - 60)  # active, though detected long ago
    exhaustion = _event(log, "exhaustion", "bid", 100.00, now - 1)
    log.close(_event(log, "exhaustion", "bid", 100.00, now - 20), now - 19)  # old and ended
    frame = state.cut_frame(3.0, 3 * 10**9, integrity)
    assert frame["signals"]["icebergs_active"] == 1
    assert frame["signals"]["exhaustion_active"] == 1
    assert {11, 12, 13, 14} <= set(frame["rules"])
    log.close(iceberg, now)
    log.close(exhaustion, now)
    detectors.ctx.venue_ms = int((now + 11) * 1000)  # 11 s later: the sweep is no longer recent
    frame = state.cut_frame(4.0, 4 * 10**9, integrity)
    assert not {12, 13, 14} & set(frame["rules"]) and 11 in frame["rules"]


def test_config_flags_select_the_file_and_profile(tmp_path: Path) -> None:
    from config import ConfigError, parse_config

    path = tmp_path / "few.toml"
    path.write_text(rules_text({"id": 1}, {"id": 21, "when": "cvd < -5", "priority": "LOW"}))
    config = parse_config(["--rules", str(path), "--rules-profile", "calibrated"], {})
    assert [r.id for r in config.rules.rules] == [1, 21] and config.rules_profile == "calibrated"
    assert parse_config([], {"DEPTHLENS_RULES_PROFILE": "calibrated"}).rules_profile == "calibrated"
    default = parse_config([], {})
    assert default.rules is default_rules() and default.rules_profile == "default"
    with pytest.raises(ConfigError, match="--rules-profile"):
        parse_config(["--rules-profile", "aggressive"], {})
