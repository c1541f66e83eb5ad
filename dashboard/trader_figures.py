"""Figure skeletons of the trader view: the metric time series and the two gauges.

Pure functions returning Plotly figure dicts, styled with the same palette as the book charts
(``dashboard.figures``); the browser (``assets/depthlens_60_trader_view.js``) fills in the data
arrays and gauge values. Rule thresholds drawn as guide lines are the default rule profile's
(spread 6 bp, imbalance +-0.5): context for the eye, not the rules themselves.

Cost, measured in headless Chromium: Plotly annotations (subplot titles, gauge titles) re-measure
their text on every redraw and about doubled the series figure's cost, so titles are HTML labels
placed over the figures (:func:`panel_titles`), and guide lines are two-point traces, not shapes.
"""

from __future__ import annotations

from typing import Any

from dashboard import figures
from dashboard.figures import ASK, AXIS_TEXT, GRID, NEUTRAL_BAND, TEXT, Figure

VWAP = "#f4c430"
SPREAD = "#3d8bfd"
IMBALANCE = "#b48cf2"
VOL_TRADES = "#f08a24"
VOL_SECONDS = "#17a8c4"
CVD = "#22c77a"
GUIDE = "#5b6b80"
WIDE_SPREAD_BPS = 6.0
HEAVY_IMBALANCE = 0.5

# (y-axis suffix, y domain, title, tick format): five rows on one shared time axis. One x axis
# instead of five makes each per-second redraw about a quarter cheaper (measured in Chromium).
_ROWS: tuple[tuple[str, tuple[float, float], str, str], ...] = (
    ("", (0.63, 1.0), "Price (mid) and VWAP 30 s", ""),
    ("2", (0.475, 0.585), "Spread, bp", ".2f"),
    ("3", (0.32, 0.43), "Order book imbalance (top N)", ".1f"),
    ("4", (0.165, 0.275), "Volatility, bp: trade-to-trade 60 s · 1 s mids 60 s", ""),
    ("5", (0.0, 0.12), "CVD: taker buy minus sell volume since live", ""),
)


def _line(name: str, color: str, axis: str, **extra: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "scatter", "mode": "lines", "name": name, "x": [], "y": [],
        "xaxis": "x", "yaxis": "y" + axis, "connectgaps": False,
        "line": {"color": color, "width": 1.6},
        "hovertemplate": f"{name} %{{y}}<extra></extra>",
    }
    trace.update(extra)
    return trace


SERIES_MARGIN = {"l": 66, "r": 14, "t": 22, "b": 28}
GAUGES_MARGIN = {"l": 24, "r": 24, "t": 30, "b": 10}
_VELOCITY_ROW = (0.56, 0.96)
_PRESSURE_ROW = (0.02, 0.42)
# Guide traces: the browser spans them over the time window; y values repeat per segment.
GUIDES: tuple[tuple[str, str, tuple[float | None, ...]], ...] = (
    ("rule 1: spread 6 bp", "2", (WIDE_SPREAD_BPS, WIDE_SPREAD_BPS)),
    ("rules 3 and 4: imbalance ±0.5", "3",
     (HEAVY_IMBALANCE, HEAVY_IMBALANCE, None, -HEAVY_IMBALANCE, -HEAVY_IMBALANCE)),
)


def _guide(name: str, axis: str, ys: tuple[float | None, ...]) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines", "name": name, "x": [], "y": list(ys),
            "xaxis": "x", "yaxis": "y" + axis, "hoverinfo": "skip",
            "line": {"color": GUIDE, "width": 1, "dash": "dot"}}


def _label_top(top: float, margin: dict[str, int]) -> str:
    """CSS ``top`` of a label just above a domain's upper edge, in the figure's own box."""
    return f"calc({margin['t']}px + (100% - {margin['t'] + margin['b']}px) * {1 - top:.4f} - 15px)"


def panel_titles() -> dict[str, list[tuple[str, str]]]:
    """(title, CSS top) of each row of the series figure and of each gauge."""
    gauges = [("Trade velocity, trades/s (3 s) · line: 180 s baseline", _VELOCITY_ROW[1]),
              ("Buy pressure, % taker-buy volume (30 s)", _PRESSURE_ROW[1])]
    return {
        "series": [(title, _label_top(dom[1], SERIES_MARGIN)) for _, dom, title, _ in _ROWS],
        "gauges": [(title, _label_top(top, GAUGES_MARGIN)) for title, top in gauges],
    }


def series_figure() -> Figure:
    """Price with VWAP, spread, imbalance, both volatilities and CVD on one shared time axis.

    SVG ``scatter``, not ``scattergl``: with 180 points a trace, the SVG redraw measured cheaper
    than WebGL under Chromium's software GL, and it takes no extra WebGL context.
    """
    data = [
        _line("mid", TEXT, "", line={"color": TEXT, "width": 1.6, "shape": "hv"}),
        _line("VWAP 30 s", VWAP, "", line={"color": VWAP, "width": 1.4, "dash": "dash"}),
        _line("spread bp", SPREAD, "2", fill="tozeroy", fillcolor="rgba(61,139,253,0.14)"),
        _line("imbalance", IMBALANCE, "3"),
        _line("volatility trades", VOL_TRADES, "4"),
        _line("volatility 1 s mids", VOL_SECONDS, "4"),
        _line("CVD", CVD, "5", fill="tozeroy", fillcolor="rgba(34,199,122,0.12)"),
        *(_guide(name, axis, ys) for name, axis, ys in GUIDES),
    ]
    layout = figures._base_layout(margin=dict(SERIES_MARGIN), hovermode="x")
    layout["xaxis"] = figures._axis(type="date", tickformat="%H:%M:%S", hoverformat="%H:%M:%S",
                                    domain=[0, 1], anchor="y5")
    for axis, ydom, _, ytick in _ROWS:
        layout["yaxis" + axis] = figures._axis(domain=list(ydom), anchor="x", tickformat=ytick,
                                               nticks=4, showspikes=False)
    layout["yaxis3"]["range"] = [-1, 1]
    layout["yaxis2"]["rangemode"] = "tozero"
    return {"data": data, "layout": layout}


def _gauge(row: tuple[float, float], **extra: Any) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "indicator", "mode": "gauge+number", "value": None,
        "domain": {"x": [0.08, 0.92], "y": list(row)},
        "number": {"font": {"color": TEXT, "size": 30}},
        "gauge": {
            "shape": "angular", "bgcolor": figures.BACKGROUND, "bordercolor": GRID,
            "borderwidth": 1,
            "axis": {"range": [0, 1], "tickcolor": AXIS_TEXT, "tickfont": {"color": AXIS_TEXT,
                                                                          "size": 10}},
            "bar": {"color": SPREAD, "thickness": 0.35},
            "threshold": {"line": {"color": TEXT, "width": 3}, "thickness": 0.9, "value": 0},
        },
    }
    trace.update(extra)
    return trace


def gauges_figure() -> Figure:
    """Trade velocity against its baseline, and taker buy pressure (empty values)."""
    velocity = _gauge(_VELOCITY_ROW,
                      mode="gauge+number+delta",
                      number={"font": {"color": TEXT, "size": 30}, "valueformat": ".1f"},
                      delta={"reference": 0, "relative": True, "valueformat": ".0%",
                             "increasing": {"color": ASK}, "decreasing": {"color": SPREAD}})
    pressure = _gauge(_PRESSURE_ROW,
                      number={"font": {"color": TEXT, "size": 30}, "suffix": " %",
                              "valueformat": ".0f"})
    pressure["gauge"] = {
        **pressure["gauge"],
        "axis": {**pressure["gauge"]["axis"], "range": [0, 100]},
        "bar": {"color": TEXT, "thickness": 0.3},
        "steps": [{"range": [0, 40], "color": "rgba(242,73,92,0.35)"},
                  {"range": [40, 60], "color": NEUTRAL_BAND},
                  {"range": [60, 100], "color": "rgba(34,199,122,0.35)"}],
        "threshold": {"line": {"color": TEXT, "width": 2}, "thickness": 0.9, "value": 50},
    }
    layout = figures._base_layout(margin=dict(GAUGES_MARGIN))
    return {"data": [velocity, pressure], "layout": layout}


def trader_figures() -> dict[str, Any]:
    """Every trader-view skeleton, keyed as the browser script expects, and the velocity gauge's
    bands: quiet below 0.5x the baseline, busy above 2x (the default rules 8 and 7)."""
    return {"series": series_figure(), "gauges": gauges_figure(),
            "velocityBands": {"quiet": "rgba(61,139,253,0.25)", "normal": NEUTRAL_BAND,
                              "busy": "rgba(242,73,92,0.35)"}}
