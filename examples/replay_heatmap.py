"""A recording in a notebook's way: replay it into a DataFrame, draw the liquidity heatmap and a
feature series with plotly, and save both as one HTML page.

    .venv/bin/python examples/replay_heatmap.py ../shared/data/binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz --out replay.html

Each cell of the heatmap is the resting quantity (bids and asks) in one price band for one
second, as the dashboard draws it; the line below is the mid price and the top-10 imbalance.
Runs headless (no browser needed): open the HTML file afterwards, or paste the cells into a
notebook.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from depthlens import replay  # noqa: E402


def heatmap_grid(df):  # type: ignore[no-untyped-def]
    """Columns of resting size on one common price grid (the columns' bands shift with the
    mid; each is placed on the grid of the first live column's step)."""
    live = df[df["heatmap_sizes"].notna()]
    step = float(live["heatmap_step"].iloc[0])
    lo = float(live["heatmap_lo"].min())
    hi = float((live["heatmap_lo"] + live["heatmap_sizes"].map(len) * live["heatmap_step"]).max())
    rows = int(round((hi - lo) / step))
    grid = np.full((rows, len(live)), np.nan)
    for col, (start, sizes) in enumerate(zip(live["heatmap_lo"], live["heatmap_sizes"])):
        first = int(round((start - lo) / step))
        grid[first:first + len(sizes), col] = sizes
    prices = lo + (np.arange(rows) + 0.5) * step
    return live["time"], prices, grid


def figure(df):  # type: ignore[no-untyped-def]
    times, prices, grid = heatmap_grid(df)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                        specs=[[{}], [{"secondary_y": True}]])
    # One wall would take the whole colour range: cap it at the 99th percentile, as the
    # dashboard caps its ceiling.
    ceiling = float(np.nanpercentile(grid, 99))
    fig.add_trace(go.Heatmap(x=times, y=prices, z=grid, colorscale="Viridis", zmin=0,
                             zmax=ceiling, colorbar={"title": "resting", "len": 0.7, "y": 0.65},
                             name="resting size"), row=1, col=1)
    fig.add_trace(go.Scatter(x=df["time"], y=df["mid_price"], name="mid", line={"color": "white"}),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=df["time"], y=df["mid_price"], name="mid price"), row=2, col=1)
    fig.add_trace(go.Scatter(x=df["time"], y=df["imbalance"], name="imbalance (top 10)"),
                  row=2, col=1, secondary_y=True)
    fig.update_layout(template="plotly_dark", height=800,
                      legend={"orientation": "h", "y": 1.02, "x": 0.0, "yanchor": "bottom"},
                      title=f"{df['market'].iloc[0]}: liquidity heatmap and features")
    return fig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("replay.html"))
    parser.add_argument("--market", help="which market to draw (default: the first)")
    args = parser.parse_args()
    df = replay.features(args.files)
    market = args.market or df["market"].iloc[0]
    one = df[df["market"] == market].reset_index(drop=True)
    if one.empty:
        parser.error(f"no market {market!r} in the recordings: {sorted(df['market'].unique())}")
    figure(one).write_html(args.out, include_plotlyjs=True)
    print(f"{market}: {len(one)} seconds, {int(one['heatmap_sizes'].notna().sum())} heatmap "
          f"columns, mid {one['mid_price'].min():.2f}..{one['mid_price'].max():.2f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
