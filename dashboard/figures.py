"""Figure builders: pure functions from settings to Plotly figure dicts.

The page draws these skeletons at once (dark axes, empty traces of the right WebGL types), and the
browser script (``assets/depthlens_30_app.js``) reuses the very same layouts and trace templates,
filling in only the data arrays on every frame. Styling lives here, in one place; the per-frame
work stays in the browser.
"""

from __future__ import annotations

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
    """Liquidity heatmap over time, best bid/ask lines and trade dots (all empty)."""
    heat = {
        "type": "heatmap",
        "name": "resting size",
        "z": [],
        "x0": 0,
        "dx": 1000,
        "y0": 0,
        "dy": 1,
        "zsmooth": "fast",
        "zmin": 0,
        "colorscale": [list(stop) for stop in LIQUIDITY_COLORSCALE],
        "colorbar": {
            "orientation": "h", "x": 0.9, "xanchor": "right", "y": 1.0, "yanchor": "bottom",
            "len": 0.3, "thickness": 6, "ypad": 4, "outlinewidth": 0, "nticks": 5,
            "tickfont": {"color": AXIS_TEXT, "size": 10},
            "title": {"text": "size", "side": "right",
                      "font": {"color": AXIS_TEXT, "size": 10}},
        },
        "hovertemplate": "%{x|%H:%M:%S}  %{y}<br>resting %{z}<extra></extra>",
    }
    line: dict[str, Any] = {"type": "scattergl", "mode": "lines", "x": [], "y": [], "line": {"shape": "hv", "width": 1.6}}
    dots: dict[str, Any] = {"type": "scattergl", "mode": "markers", "x": [], "y": [],
            "marker": {"size": [], "opacity": 0.9, "line": {"width": 1, "color": "#0b0e13"}}}
    data = [
        heat,
        {**line, "name": "best bid", "line": {**line["line"], "color": BID},
         "hovertemplate": "best bid %{y}<extra></extra>"},
        {**line, "name": "best ask", "line": {**line["line"], "color": ASK},
         "hovertemplate": "best ask %{y}<extra></extra>"},
        {**dots, "name": "buys", "marker": {**dots["marker"], "color": BID},
         "hovertemplate": "buy %{customdata} @ %{y}<extra></extra>", "customdata": []},
        {**dots, "name": "sells", "marker": {**dots["marker"], "color": ASK},
         "hovertemplate": "sell %{customdata} @ %{y}<extra></extra>", "customdata": []},
    ]
    layout = _base_layout(
        xaxis=_axis(type="date", tickformat="%H:%M:%S", hoverformat="%H:%M:%S",
                    title={"text": "time (UTC)", "font": {"color": AXIS_TEXT, "size": 11}}),
        yaxis=_axis(side="right", title={"text": ""}, fixedrange=False),
        margin={"l": 8, "r": 70, "t": 34, "b": 36},
        hovermode="closest",
        dragmode="zoom",
    )
    return {"data": data, "layout": layout}


def depth_figure() -> Figure:
    """Cumulative bid and ask quantity against price (all empty)."""
    side: dict[str, Any] = {"type": "scattergl", "mode": "lines", "x": [], "y": [], "fill": "tozeroy",
            "line": {"shape": "hv", "width": 1.6}}
    levels: dict[str, Any] = {"type": "scattergl", "mode": "markers", "x": [], "y": [],
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
