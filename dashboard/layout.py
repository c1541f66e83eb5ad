"""The page: header, KPI strip, integrity bar and the three chart panels.

Static markup only. The browser script finds elements by id and fills them from the frames it
receives; the settings it needs (symbols, figure skeletons, zoom choices) travel in the
``data-config`` attribute of the root element, so nothing is fetched or computed per request.
Markets start and stop while the page is open, so the market switcher and the integrity chips
are empty shells here: ``assets/depthlens_70_markets.js`` fills them from ``GET /symbols``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from dash import dcc, html

from dashboard import event_tape, figures, trader_figures, trader_layout
from dashboard.cross_venue_figures import cross_venue_config
from dashboard.cross_venue_layout import cross_venue_view


def data_attrs(**values: str) -> dict[str, Any]:
    """HTML ``data-*`` (and ``aria-*``) attributes as keyword arguments for a Dash component."""
    return {name.replace("_", "-"): value for name, value in values.items()}


@dataclass(frozen=True, slots=True)
class Kpi:
    key: str
    label: str
    explanation: str


KPIS: tuple[Kpi, ...] = (
    Kpi("price", "Price", "Last trade price (the mid until a trade is seen); below: its source."),
    Kpi("change", "Change", "Change of the mid over the window shown (up to the history "
        "length), in percent; below: in price and the span it covers."),
    Kpi("spread", "Spread", "Spread: best ask minus best bid, in basis points of the mid "
        "(1 bp = 0.01 %); the price difference is shown below. Red above 6 bp (wide), green "
        "below 2 bp (tight)."),
    Kpi("velocity", "Velocity", "Trade velocity: aggTrades per second over the last 3 s; below: "
        "against the 180 s baseline. Red above 2x the baseline, blue below 0.5x."),
    Kpi("vwap", "VWAP 30s", "Volume-weighted average trade price over the last 30 s; below: "
        "the last price against it, in percent."),
    Kpi("imbalance", "Imbalance", "Order book imbalance: (bid qty - ask qty) / (bid qty + ask "
        "qty) over the top N levels; +1 = only bids, -1 = only asks."),
    Kpi("status", "Status", "Connection and book state; below: venue time of the newest frame "
        "and how long ago it arrived."),
    Kpi("mid", "Mid", "Mid price: (best bid + best ask) / 2."),
    Kpi("microprice", "Microprice", "Microprice: the mid weighted by the opposite side's size at "
        "the best level; it leans toward the thinner side, where price tends to move next."),
    Kpi("ofi", "OFI", "Order flow imbalance over the last second: change of top-N bid volume "
        "minus change of top-N ask volume, summed over every update; positive = buying pressure."),
    Kpi("tps", "Trades/s", "Trades executed in the last second; below: taker buy and taker sell "
        "volume of that second."),
    Kpi("latency", "Latency", "Event-to-frame latency: time this frame was built minus the local "
        "receive time of the last book event applied."),
)

# Price band choices, as half-heights in basis points around the mid (None = the server's band),
# and price grouping factors, as multiples of the server's heatmap step.
BAND_CHOICES: tuple[tuple[str, float | None], ...] = (
    ("all", None), ("±10 bp", 10.0), ("±5 bp", 5.0), ("±2 bp", 2.0),
)
GROUP_CHOICES: tuple[int, ...] = (1, 2, 5, 10)
SURFACE_EVERY_SECONDS = 5


def page_config(symbols: Sequence[str]) -> dict[str, Any]:
    """Everything the browser script needs to start, as plain JSON-able data."""
    return {
        "symbols": list(symbols),
        "figures": {
            "heatmap": figures.heatmap_figure(),
            "depth": figures.depth_figure(),
            "surface": figures.surface_figure(),
        },
        "bands": [value for _, value in BAND_CHOICES],
        "groups": list(GROUP_CHOICES),
        "surfaceEverySeconds": SURFACE_EVERY_SECONDS,
        "wsPath": "/ws/",
        "symbolsPath": "/symbols",
        "marketsPath": "/markets",
        "colorscale": [list(stop) for stop in figures.LIQUIDITY_COLORSCALE],
        "eventStyles": figures.event_styles(),
        "traderFigures": trader_figures.trader_figures(),
        "themes": figures.theme_colors(),
        "cross": cross_venue_config(),
    }


def _segmented(group_id: str, label: str, options: Sequence[tuple[str, str]], active: str,
               title: str) -> html.Div:
    buttons = [
        html.Button(text, className="dl-seg-btn" + (" is-active" if value == active else ""),
                    n_clicks=0,
                    **data_attrs(data_value=value, aria_pressed=str(value == active).lower()))
        for text, value in options
    ]
    return html.Div(
        [html.Span(label, className="dl-seg-label"), html.Div(buttons, className="dl-seg")],
        id=group_id, className="dl-control", title=title,
    )


def _market_switcher() -> html.Div:
    """The running markets, grouped by base asset and labelled by venue (filled in the browser)."""
    return html.Div(
        [html.Span("Market", className="dl-seg-label"),
         html.Div(id="dl-market-groups", className="dl-mkt-groups")],
        id="dl-symbol", className="dl-control dl-markets",
        title="Switch the market shown in every chart: markets grouped by asset, one button "
        "per venue.",
    )


def _market_control() -> html.Div:
    """Start a market by name; the server's answer (or refusal) is written beside it."""
    return html.Div([
        html.Label("Market to start", htmlFor="dl-market-input", className="dl-sr-only"),
        dcc.Input(id="dl-market-input", type="text", className="dl-market-input",
                  placeholder="SOLUSDT or binance-usdm:SOLUSDT", autoComplete="off",
                  spellCheck="false", maxLength=80, debounce=True),
        html.Button("Start", id="dl-market-start", className="dl-market-start", n_clicks=0,
                    title="Start streaming this market (POST /markets)."),
        html.Span("", id="dl-market-msg", className="dl-market-msg", role="status",
                  **data_attrs(data_kind="none", aria_live="polite")),
    ], id="dl-market-control", className="dl-market-control")


def _header() -> html.Header:
    band_options = [(text, "all" if value is None else f"{value:g}") for text, value in BAND_CHOICES]
    group_options = [(f"{g}×", str(g)) for g in GROUP_CHOICES]
    return html.Header([
        html.Div([html.Span(className="dl-logo"), html.Span("depthlens", className="dl-name")],
                 className="dl-brand"),
        _market_switcher(),
        _segmented("dl-band", "Band", band_options, "all",
                   "Price band around the mid shown in the heatmap, depth curve and surface."),
        _segmented("dl-group", "Group", group_options, "1",
                   "Price grouping: merge this many heatmap cells into one (sizes are summed)."),
        trader_layout.view_tabs(),
        html.Div([html.Span(className="dl-dot"), html.Span("connecting", id="dl-conn-text")],
                 id="dl-conn", className="dl-conn", **data_attrs(data_state="connecting"),
                 title="State of this page's WebSocket to the server."),
        trader_layout.theme_toggle(),
    ], className="dl-header")


def _kpis() -> html.Section:
    cards = [
        html.Div([
            html.Div(kpi.label, className="dl-kpi-label"),
            html.Div("—", id=f"dl-kpi-{kpi.key}", className="dl-kpi-value"),
            html.Div("", id=f"dl-kpi-{kpi.key}-sub", className="dl-kpi-sub"),
        ], className="dl-kpi", title=kpi.explanation, **data_attrs(data_kpi=kpi.key))
        for kpi in KPIS
    ]
    return html.Section(cards, id="dl-kpis", className="dl-kpis")


def _integrity() -> html.Section:
    # One chip per running market (with its stop button) is drawn by depthlens_70_markets.js.
    return html.Section([
        html.Span("Integrity", className="dl-int-label"),
        html.Div(id="dl-int-chips", className="dl-int-chips"),
        _market_control(),
    ], id="dl-integrity", className="dl-integrity")


def _downloads() -> html.Span:
    """Links to the shown market's rolling window as a file (``GET /window/{market}``); the
    browser script points them at the market on screen."""
    return html.Span([
        html.Span("Window", className="dl-downloads-label"),
        *[html.A(text, id=f"dl-download-{fmt}", className="dl-download", href=f"/window/?format={fmt}",
                 download="", title=f"Download the rolling window of the shown market as {text} "
                 "(one row per second" + (", heatmap cells included)" if fmt == "parquet"
                                          else ", no heatmap cells)"))
          for fmt, text in (("csv", "CSV"), ("parquet", "Parquet"))],
    ], className="dl-downloads")


def _panel(graph_id: str, title: str, hint: str, figure: dict[str, Any],
           extra_class: str, extra: list[Any] | None = None) -> html.Div:
    return html.Div([
        html.Div([html.Span(title, className="dl-panel-title"),
                  html.Span(hint, className="dl-panel-hint", id=f"{graph_id}-hint"),
                  *(extra or [])],
                 className="dl-panel-head"),
        dcc.Graph(id=graph_id, figure=figure, config=cast(Any, figures.graph_config()),
                  className="dl-graph"),
        html.Div(className="dl-stale-veil"),
    ], className=f"dl-panel {extra_class}")


def build_layout(symbols: Sequence[str]) -> html.Div:
    """The whole page for the given configured symbols (first one shown first)."""
    if not symbols:
        raise ValueError("the dashboard needs at least one symbol")
    return html.Div([
        _header(),
        _kpis(),
        _integrity(),
        trader_layout.insight_panel(),
        html.Main([
            html.Div("", id="dl-banner", className="dl-banner", **data_attrs(data_state="hidden")),
            _panel("dl-heatmap", "Liquidity heatmap",
                   "resting size by price over time · best bid/ask · trades sized by volume",
                   figures.heatmap_figure(), "dl-panel-heatmap", [_downloads()]),
            _panel("dl-depth", "Depth", "cumulative quantity from the mid · circles: top-N levels",
                   figures.depth_figure(), "dl-panel-depth"),
            _panel("dl-surface", "Liquidity surface",
                   f"time × price × size · redrawn every {SURFACE_EVERY_SECONDS} s",
                   figures.surface_figure(), "dl-panel-surface"),
        ], id="dl-main", className="dl-main"),
        trader_layout.trader_view(),
        cross_venue_view(),
        event_tape.events_section(),
        html.Footer([
            html.Span("frames 0", id="dl-footer-frames"),
            html.Span("", id="dl-footer-last"),
            html.Span("", id="dl-footer-render"),
        ], className="dl-footer"),
    ], id="dl-root", className="dl-root",
        **data_attrs(data_config=json.dumps(page_config(symbols), separators=(",", ":"))))
