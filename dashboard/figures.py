"""Figure builders: pure functions from settings to Plotly figure dicts.

The page draws these skeletons at once (dark axes, empty traces of the right types), and the
browser script (``assets/depthlens_30_app.js``) reuses the very same layouts and trace templates,
filling in only the data arrays on every frame. Styling lives here, in one place; the per-frame
work stays in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Figure = dict[str, Any]

BACKGROUND = "#0b0e13"
PANEL = "#10151c"
GRID = "#1c2430"
AXIS_TEXT = "#8b98a9"
TEXT = "#d3dae3"
BID = "#22c77a"
ASK = "#f2495c"
FONT_FAMILY = "Inter, 'Segoe UI', system-ui, -apple-system, Roboto, Helvetica, Arial, sans-serif"

# Dark navy for empty price cells, through blue and cyan to hot yellow and white for the walls:
# the palette traders know from liquidity heatmaps.
LIQUIDITY_COLORSCALE: tuple[tuple[float, str], ...] = (
    (0.0, "#0b0e13"),
    (0.04, "#0c1a2e"),
    (0.15, "#123f73"),
    (0.32, "#1672b8"),
    (0.5, "#17a8c4"),
    (0.68, "#7bd152"),
    (0.85, "#f4c430"),
    (1.0, "#fff6d8"),
)


# A 1x1 transparent PNG: the heatmap image's placeholder until the first grid is painted.
TRANSPARENT_PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlE"
                     "QVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


@dataclass(frozen=True, slots=True)
class EventStyle:
    """How one liquidity-event type is drawn: its label and its marker (colour is by book side)."""

    type: str
    label: str
    symbol: str
    size: int


# Order = the order of the toggles and of the marker traces.
EVENT_STYLES: tuple[EventStyle, ...] = (
    EventStyle("wall", "Wall", "square", 9),
    EventStyle("sweep", "Sweep", "triangle-up", 12),
    EventStyle("absorption", "Absorption", "diamond", 11),
    EventStyle("layering", "Layering", "star", 12),
    EventStyle("iceberg", "Iceberg-like", "hexagon", 11),
    EventStyle("exhaustion", "Exhaustion", "x", 11),
)
# Trace order after best bid, best ask, buys and sells: the outlines of every event (bid side,
# ask side), then every event's marker, so markers sit on top.
EVENT_OUTLINE_OFFSET = 4
EVENT_MARKER_OFFSET = 6


def event_traces() -> list[dict[str, Any]]:
    """Event overlays, empty: two line traces drawing every event's outline (wall bands, sweep
    spans, layering brackets; segments split by nulls) and one marker trace for every event
    (symbol by type, colour by book side, hover: one plain sentence). Few traces on purpose: a
    few hundred layout shapes cost ~100 ms per frame (measured: 210 wall rectangles took a
    heatmap ``Plotly.react`` from 9 to 124 ms); the type toggles filter the points instead."""
    outlines = [{
        "type": "scatter", "mode": "lines", "name": f"{side} event outlines", "x": [], "y": [],
        "line": {"color": color, "width": 1.2}, "connectgaps": False, "hoverinfo": "skip",
    } for side, color in (("bid", BID), ("ask", ASK))]
    markers = {
        "type": "scatter", "mode": "markers", "name": "liquidity events",
        "x": [], "y": [], "hovertext": [],
        "marker": {"symbol": [], "size": [], "color": [], "opacity": 0.95,
                   "line": {"width": 1.5, "color": "#f5f7fa"}},
        "hovertemplate": "%{hovertext}<extra></extra>",
    }
    return [*outlines, markers]


def event_styles() -> list[dict[str, Any]]:
    """The styles as plain data for the browser script."""
    return [{"type": s.type, "label": s.label, "symbol": s.symbol, "size": s.size}
            for s in EVENT_STYLES]


def _axis(**extra: Any) -> dict[str, Any]:
    axis = {
        "gridcolor": GRID,
        "zerolinecolor": GRID,
        "linecolor": GRID,
        "tickfont": {"color": AXIS_TEXT, "size": 11},
        "title": {"font": {"color": AXIS_TEXT, "size": 11}},
        "showspikes": True,
        "spikecolor": "#5b6b80",
        "spikethickness": 1,
        "spikedash": "dot",
        "spikemode": "across",
    }
    axis.update(extra)
    return axis


def _base_layout(**extra: Any) -> dict[str, Any]:
    layout = {
        "paper_bgcolor": PANEL,
        "plot_bgcolor": BACKGROUND,
        "font": {"family": FONT_FAMILY, "color": TEXT, "size": 12},
        "margin": {"l": 10, "r": 10, "t": 8, "b": 30},
        "showlegend": False,
        "hoverlabel": {"bgcolor": "#1b2430", "bordercolor": "#34445a",
                       "font": {"family": FONT_FAMILY, "color": TEXT}},
        "uirevision": "initial",
    }
    layout.update(extra)
    return layout


def heatmap_figure() -> Figure:
    """Liquidity heatmap over time, best bid/ask lines, trade dots and event markers (all empty).

    The grid is a layout image: a PNG the browser paints from the grid with
    :data:`LIQUIDITY_COLORSCALE` and Plotly only places. A ``heatmap`` trace costs ~50 ms per
    frame, and an ``image`` trace on a date axis is worse (Plotly takes its fast path only on
    linear axes, otherwise it redraws every pixel with ``fillRect``). The page's readout shows
    time, price and resting size under the cursor, read from the grid.

    The overlays are SVG ``scatter`` traces, not ``scattergl``: with a few hundred points SVG
    draws as fast, and a chart without a WebGL canvas spares the browser a large canvas copy in
    every frame's commit under software WebGL (benchmarks/dashboard_frame_cost.py: main-thread
    long tasks ~160 -> ~130 ms/s with the depth curve changed the same way).
    """
    line: dict[str, Any] = {"type": "scatter", "mode": "lines", "x": [], "y": [], "line": {"shape": "hv", "width": 1.6}}
    dots: dict[str, Any] = {"type": "scatter", "mode": "markers", "x": [], "y": [],
            "marker": {"size": [], "opacity": 0.9, "line": {"width": 1, "color": "#0b0e13"}}}
    data = [
        {**line, "name": "best bid", "line": {**line["line"], "color": BID},
         "hovertemplate": "best bid %{y}<extra></extra>"},
        {**line, "name": "best ask", "line": {**line["line"], "color": ASK},
         "hovertemplate": "best ask %{y}<extra></extra>"},
        {**dots, "name": "buys", "marker": {**dots["marker"], "color": BID},
         "hovertemplate": "buy %{customdata} @ %{y}<extra></extra>", "customdata": []},
        {**dots, "name": "sells", "marker": {**dots["marker"], "color": ASK},
         "hovertemplate": "sell %{customdata} @ %{y}<extra></extra>", "customdata": []},
        *event_traces(),
    ]
    layout = _base_layout(
        # No grid lines: the image sits below them (layer "below") and they would stripe it.
        xaxis=_axis(type="date", tickformat="%H:%M:%S", hoverformat="%H:%M:%S", showgrid=False,
                    title={"text": "time (UTC)", "font": {"color": AXIS_TEXT, "size": 11}}),
        yaxis=_axis(side="right", title={"text": ""}, fixedrange=False, showgrid=False),
        images=[{"source": TRANSPARENT_PIXEL, "xref": "x", "yref": "y", "x": 0, "y": 1,
                 "sizex": 1, "sizey": 1, "xanchor": "left", "yanchor": "top",
                 "sizing": "stretch", "layer": "below", "opacity": 1}],
        margin={"l": 8, "r": 70, "t": 34, "b": 36},
        hovermode="closest",
        dragmode="zoom",
    )
    return {"data": data, "layout": layout}


def depth_figure() -> Figure:
    """Cumulative bid and ask quantity against price (all empty). SVG traces, for the reason
    given in :func:`heatmap_figure`."""
    side: dict[str, Any] = {"type": "scatter", "mode": "lines", "x": [], "y": [], "fill": "tozeroy",
            "line": {"shape": "hv", "width": 1.6}}
    levels: dict[str, Any] = {"type": "scatter", "mode": "markers", "x": [], "y": [],
              "marker": {"size": 6, "symbol": "circle-open", "line": {"width": 1.5}}}
    data = [
        {**side, "name": "bids", "line": {**side["line"], "color": BID},
         "fillcolor": "rgba(34,199,122,0.16)",
         "hovertemplate": "%{x}<br>bids to here %{y}<extra></extra>"},
        {**side, "name": "asks", "line": {**side["line"], "color": ASK},
         "fillcolor": "rgba(242,73,92,0.16)",
         "hovertemplate": "%{x}<br>asks to here %{y}<extra></extra>"},
        {**levels, "name": "top bid levels", "marker": {**levels["marker"], "color": BID},
         "hovertemplate": "bid level %{x}<br>cumulative %{y}<extra></extra>"},
        {**levels, "name": "top ask levels", "marker": {**levels["marker"], "color": ASK},
         "hovertemplate": "ask level %{x}<br>cumulative %{y}<extra></extra>"},
    ]
    layout = _base_layout(
        xaxis=_axis(title={"text": "price"}),
        yaxis=_axis(title={"text": "cumulative quantity"}, rangemode="tozero"),
        margin={"l": 56, "r": 12, "t": 8, "b": 36},
        hovermode="closest",
    )
    return {"data": data, "layout": layout}


def surface_figure() -> Figure:
    """3D liquidity surface: seconds ago x price x resting size (empty)."""
    data = [{
        "type": "surface",
        "name": "resting size",
        "x": [], "y": [], "z": [],
        "colorscale": [list(stop) for stop in LIQUIDITY_COLORSCALE],
        "cmin": 0,
        "showscale": False,
        "connectgaps": False,
        "lighting": {"ambient": 0.75, "diffuse": 0.6, "specular": 0.15, "roughness": 0.8},
        "hovertemplate": "%{x:.0f} s  %{y}<br>resting %{z}<extra></extra>",
    }]
    scene_axis = {
        "backgroundcolor": BACKGROUND, "gridcolor": GRID, "zerolinecolor": GRID,
        "showbackground": True, "color": AXIS_TEXT, "tickfont": {"size": 10},
    }
    layout = _base_layout(
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        scene={
            "xaxis": {**scene_axis, "title": {"text": "seconds ago"}},
            "yaxis": {**scene_axis, "title": {"text": "price"}},
            "zaxis": {**scene_axis, "title": {"text": "size"}},
            "camera": {"eye": {"x": -1.7, "y": -1.7, "z": 0.8}, "center": {"x": 0, "y": 0, "z": -0.1}},
            "aspectmode": "manual",
            "aspectratio": {"x": 1.5, "y": 1.2, "z": 0.6},
            "bgcolor": PANEL,
        },
    )
    return {"data": data, "layout": layout}


def graph_config() -> dict[str, Any]:
    """Plotly config shared by every chart: no logo, no chart-studio link, responsive."""
    return {
        "displaylogo": False,
        "responsive": True,
        "scrollZoom": True,
        "modeBarButtonsToRemove": ["lasso2d", "select2d", "toImage"],
    }


# Light theme: each dark-theme colour of the figures' layouts (and the trader view's gauges)
# mapped to its light counterpart. The page swaps them in while it is light
# (assets/depthlens_50_insights.js, depthlensTheme.style), so styling still lives here only.
# The heatmap palette is kept: liquidity heatmaps read best on their dark scale.
NEUTRAL_BAND = "#1a222d"
LIGHT_COLORS: dict[str, str] = {
    BACKGROUND: "#f6f8fa",
    PANEL: "#ffffff",
    GRID: "#e1e6ec",
    AXIS_TEXT: "#5b6776",
    TEXT: "#1d2631",
    "#5b6b80": "#9aa5b3",  # spikes, guide lines
    "#1b2430": "#ffffff",  # hover label
    "#34445a": "#c3ccd7",
    "#f4c430": "#b38600",  # VWAP: the dark theme's yellow vanishes on white
    NEUTRAL_BAND: "#e8ecf1",
}


def theme_colors() -> dict[str, dict[str, str]]:
    """Colour substitutions per theme, for the browser (dark is the figures as built)."""
    return {"dark": {}, "light": {k.lower(): v for k, v in LIGHT_COLORS.items()}}
