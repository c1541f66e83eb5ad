"""Figure skeletons of the cross-venue view: basis and funding over time, merged depth curve.

Pure functions from nothing to Plotly figure dicts, like ``dashboard.figures``: the browser
script (``assets/depthlens_80_cross_venue.js``) clones these layouts and trace templates and
fills in only the data from ``/ws/asset/{asset}`` frames. One trace per market is cut from the
templates in the browser, because which markets an asset has is known only at run time.
"""

from __future__ import annotations

from typing import Any

from dashboard.figures import ASK, AXIS_TEXT, BID, Figure, _axis, _base_layout

# A colour per venue, the same in the ladder, the stats cards and the depth curve; markets of
# venues not listed take the fallbacks in order.
VENUE_COLORS: dict[str, str] = {
    "binance-usdm": "#f4c430",
    "binance-spot": "#3d8bfd",
    "coinbase": "#b07cff",
}
FALLBACK_COLORS: tuple[str, ...] = ("#17a8c4", "#ff8fa3", "#9be15d", "#ffb86b")
BASIS = "#17a8c4"
FUNDING = "#ff9f43"


def basis_figure() -> Figure:
    """Basis (perpetual mid minus spot mid, bps of spot) and the funding rate on a second axis."""
    data = [
        {"type": "scatter", "mode": "lines", "name": "basis", "x": [], "y": [],
         "line": {"color": BASIS, "width": 1.6}, "connectgaps": False,
         "hovertemplate": "%{x|%H:%M:%S}<br>basis %{y:.2f} bp<extra></extra>"},
        {"type": "scatter", "mode": "lines", "name": "funding", "x": [], "y": [], "yaxis": "y2",
         "line": {"color": FUNDING, "width": 1.4, "shape": "hv", "dash": "dot"},
         "connectgaps": False,
         "hovertemplate": "%{x|%H:%M:%S}<br>funding %{y:.4f} % / 8 h<extra></extra>"},
    ]
    layout = _base_layout(
        xaxis=_axis(type="date", tickformat="%H:%M:%S", hoverformat="%H:%M:%S"),
        yaxis=_axis(title={"text": "basis (bp)", "font": {"color": BASIS, "size": 11}},
                    zeroline=True, zerolinecolor="#34445a"),
        yaxis2=_axis(overlaying="y", side="right", showgrid=False, zeroline=False,
                     title={"text": "funding (% / 8 h)", "font": {"color": FUNDING, "size": 11}},
                     tickformat=".4f"),
        margin={"l": 56, "r": 66, "t": 8, "b": 30},
        hovermode="x unified",
    )
    return {"data": data, "layout": layout}


def depth_curve_figure() -> Figure:
    """Merged cumulative depth around the consolidated mid: each market's bids stacked on the
    left, its asks on the right (the templates below, one copy per market)."""
    layout = _base_layout(
        xaxis=_axis(title={"text": "price (USD)"}),
        yaxis=_axis(title={"text": "cumulative quantity (base)"}, rangemode="tozero"),
        margin={"l": 60, "r": 12, "t": 26, "b": 36},
        hovermode="x unified",
        showlegend=True,
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom",
                "font": {"color": AXIS_TEXT, "size": 11}, "bgcolor": "rgba(0,0,0,0)"},
        shapes=[],
    )
    return {"data": [], "layout": layout}


def depth_trace_templates() -> dict[str, dict[str, Any]]:
    """One market's bid and ask contributions: stacked, filled, stepped areas (SVG)."""
    common: dict[str, Any] = {"type": "scatter", "mode": "lines", "x": [], "y": [],
                              "line": {"width": 1, "shape": "hv"}}
    return {
        "bid": {**common, "stackgroup": "bids",
                "hovertemplate": "%{fullData.name} bids ≥ %{x}: %{y}<extra></extra>"},
        "ask": {**common, "stackgroup": "asks", "showlegend": False,
                "hovertemplate": "%{fullData.name} asks ≤ %{x}: %{y}<extra></extra>"},
    }


def cross_venue_config() -> dict[str, Any]:
    """What the cross-venue script needs, as plain JSON-able data (in the page's data-config)."""
    return {
        "wsPath": "/ws/asset/",
        "figures": {"basis": basis_figure(), "depth": depth_curve_figure()},
        "depthTraces": depth_trace_templates(),
        "venueColors": VENUE_COLORS,
        "fallbackColors": list(FALLBACK_COLORS),
        "sideColors": {"bid": BID, "ask": ASK},
    }
