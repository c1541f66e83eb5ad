"""How often the price/size memo (``orderbook/instrument.py``) answers from memory, live.

    .venv/bin/python scripts/memo_hit_rate.py [--generations 5 10 30 60] [FILE ...]

Every depth diff's price and size strings of a real recording go through the real
``FixedPointCodec`` in recorded order, its clock set to each message's receive time: what a live
feed at the recording's pace meets with generations of each length. A hit is a string found in
either generation (no parse). Defaults to the BTCUSDT futures and Spot recordings of 2024-08-08.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data_ingestion.recordings import read_lines  # noqa: E402
from orderbook import instrument  # noqa: E402

DATA = ROOT.parent / "shared/data"
DEFAULT = [DATA / "binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz",
           DATA / "binance_spot/hftbacktest_spot_btcusdt_20240808.gz"]


def diff_strings(path: Path) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """(receive time in s, string) of every price and every size in the file's depth diffs."""
    prices: list[tuple[float, str]] = []
    sizes: list[tuple[float, str]] = []
    for ns, raw in read_lines([path]):
        if b"depthUpdate" not in raw[:120]:
            continue
        message = orjson.loads(raw)
        data = message.get("data", message)
        for side in ("b", "a"):
            for price, size in data.get(side, ()):
                prices.append((ns / 1e9, price))
                sizes.append((ns / 1e9, size))
    return prices, sizes


def hit_rate(strings: list[tuple[float, str]], generation_s: float, decimals: int = 8) -> float:
    """Share of ``strings`` the memo answers without parsing, generations of ``generation_s``."""
    clock = [strings[0][0] if strings else 0.0]
    real_clock, real_generation = instrument.time.monotonic, instrument._GENERATION_S
    instrument.time.monotonic = lambda: clock[0]  # type: ignore[assignment]
    instrument._GENERATION_S = generation_s
    try:
        codec = instrument.FixedPointCodec(decimals)
        hits = 0
        for at, text in strings:
            clock[0] = at
            hits += text in codec._cache or text in codec._old
            codec.parse(text)
    finally:
        instrument.time.monotonic, instrument._GENERATION_S = real_clock, real_generation
    return hits / max(1, len(strings))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--generations", nargs="+", type=float, default=[5.0, 10.0, 30.0, 60.0],
                    help="generation lengths to try, in seconds")
    args = ap.parse_args()
    for path in args.files:
        if not path.is_file():
            sys.exit(f"no such recording: {path}")
        prices, sizes = diff_strings(path)
        span = prices[-1][0] - prices[0][0] if prices else 0.0
        print(f"{path.name}: {len(prices):,} price and size strings over {span:.0f} s; "
              f"distinct prices {len({p for _, p in prices}):,}, sizes "
              f"{len({s for _, s in sizes}):,}")
        for generation in args.generations:
            print(f"  generations of {generation:4.0f} s: prices {hit_rate(prices, generation):.1%}"
                  f"  sizes {hit_rate(sizes, generation):.1%}")


if __name__ == "__main__":
    main()
