"""How often each rule holds on the real recordings: share of live seconds, both profiles.

Drives every recording through the production path (``FuturesParser`` -> ``BookSync`` ->
``SymbolState`` with the liquidity detectors on) and cuts one frame per **venue** second (a frame
at ``ts = S + 1`` as soon as an event of a later venue second arrives, so the result does not
depend on the machine's speed). A rule's activity is the share of frames with a live book whose
``rules`` contain it (calibrated rules are off for their first 60 s, while the history is too
short; with recordings shorter than the hour-long window the percentiles cover every earlier
second). Prints one Markdown table. Usage:

    .venv/bin/python scripts/rule_activity.py [--rules FILE] [RECORDING ...]

A recording is one ``.gz`` file or several joined with ``+`` (a day split at midnight).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import Config  # noqa: E402
from data_ingestion.binance.parser import FuturesParser  # noqa: E402
from marketdata.events import DepthDiff, Trade  # noqa: E402
from data_ingestion.recordings import is_snapshot, read_lines  # noqa: E402
from insights import PROFILES, Profile, RuleBook, default_rules, load_rules  # noqa: E402
from orderbook.book import L2Book  # noqa: E402
from orderbook.instrument import Instrument  # noqa: E402
from orderbook.sync import BookSync, SyncState  # noqa: E402
from state.symbol_state import SymbolState  # noqa: E402

DATA = ROOT.parent / "shared/data/binance_usdm"
RECORDINGS = (
    "hftbacktest_usdm_btcusdt_20240808.gz",
    "hftbacktest_usdm_ethusdt_20240808.gz",
    "hftbacktest_usdm_btcusdt_20240718.gz+hftbacktest_usdm_btcusdt_20240719.gz",
)
INSTRUMENTS = {
    "BTCUSDT": Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3),
    "ETHUSDT": Instrument.from_steps("ETHUSDT", "0.01", "0.001", 2, 3),
}


def symbol_of(paths: list[Path]) -> str:
    name = paths[0].name.lower()
    return next(s for s in INSTRUMENTS if s.lower() in name)


def rule_activity(paths: list[Path], rules: RuleBook, profile: Profile,
                  ) -> tuple[Counter[int], int]:
    """(frames holding each rule id, live frames) of one recording under one profile."""
    symbol = symbol_of(paths)
    parser = FuturesParser(INSTRUMENTS)
    book = L2Book()
    state = SymbolState.from_config(INSTRUMENTS[symbol], book,
                                    Config(rules=rules, rules_profile=profile))
    sync = BookSync(symbol, book, lambda: None, state)
    held: Counter[int] = Counter()
    live_frames = 0
    second: int | None = None

    def cut(ts: int) -> None:
        nonlocal live_frames
        live = sync.state is SyncState.LIVE
        integrity = {symbol: {"status": "live" if live else "syncing", "gaps": 0,
                              "resyncs": 0, "last_update_id": book.last_update_id,
                              "last_event_age_ms": 0.0}}
        frame = state.cut_frame(float(ts), ts * 1_000_000_000, integrity)
        if live:
            live_frames += 1
            held.update(frame["rules"])

    for ns, raw in read_lines(paths):
        if b"@bookTicker" in raw[:40]:
            continue
        if is_snapshot(raw):
            sync.on_snapshot(parser.parse_snapshot(symbol, raw, ns))
            continue
        event = parser.parse_stream(raw, ns)
        if not isinstance(event, DepthDiff | Trade):
            continue
        event_second = event.exchange_ts_ms // 1000
        if second is None:
            second = event_second
        while event_second > second:  # close every venue second before this event's
            second += 1
            cut(second)
        if isinstance(event, DepthDiff):
            sync.on_diff(event)
        else:
            state.on_trade(event)
    if second is not None:
        cut(second + 1)
    return held, live_frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("recordings", nargs="*", default=list(RECORDINGS))
    ap.add_argument("--rules", type=Path, default=None, help="rules file (default profile file)")
    args = ap.parse_args()
    rules = load_rules(args.rules) if args.rules else default_rules()
    columns: list[tuple[str, Counter[int], int]] = []
    for spec in args.recordings:
        paths = [p if p.is_absolute() else DATA / p for p in map(Path, spec.split("+"))]
        label = paths[0].name.removeprefix("hftbacktest_usdm_").removesuffix(".gz")
        for profile in PROFILES:
            held, frames = rule_activity(paths, rules, profile)
            columns.append((f"{label} {profile}", held, frames))
            print(f"{label} {profile}: {frames} live seconds", file=sys.stderr)
    print("| rule | calibrated as | " + " | ".join(name for name, _, _ in columns) + " |")
    print("|---|---|" + "---:|" * len(columns))
    for rule in rules.rules:
        shares = [f"{100 * held[rule.id] / frames:.1f}%" if frames else "n/a"
                  for _, held, frames in columns]
        calibrated = ("same" if rule.percentile is None else
                      f"`{rule.calibrated_metric} {rule.condition.op} p{rule.percentile:g}`")
        print(f"| {rule.id} `{rule.condition}` ({rule.priority}) | {calibrated} | "
              + " | ".join(shares) + " |")
    print("| live seconds | | " + " | ".join(str(f) for _, _, f in columns) + " |")


if __name__ == "__main__":
    main()
