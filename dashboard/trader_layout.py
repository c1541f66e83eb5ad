"""Markup of the trader's additions to the page: view tabs, theme toggle,
the insight panel and the trader view (second tab).

Static markup only, like ``dashboard.layout``: the browser scripts
(``assets/depthlens_50_insights.js``, ``assets/depthlens_60_trader_view.js``) find these
elements by id and fill them from the frames the page already receives on its one socket.
"""

from __future__ import annotations

from dash import html

from dashboard.trader_figures import panel_titles

INSIGHT_SLOTS = 3
VIEWS: tuple[tuple[str, str], ...] = (("Book", "book"), ("Trader view", "trader"))


def _attrs(**values: str) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in values.items()}


def view_tabs() -> html.Div:
    """The two views of the page; the book view is the default."""
    buttons = [
        html.Button(text, className="dl-seg-btn" + (" is-active" if value == "book" else ""),
                    n_clicks=0, role="tab",
                    **_attrs(data_value=value, aria_selected=str(value == "book").lower()))
        for text, value in VIEWS
    ]
    return html.Div(html.Div(buttons, className="dl-seg", role="tablist"), id="dl-view",
                    className="dl-control",
                    title="Book: heatmap, depth and surface. Trader view: price with VWAP, "
                    "spread, imbalance, volatility, CVD and the velocity and buy-pressure gauges.")


def theme_toggle() -> html.Button:
    """Dark / light switch; the choice is kept in the browser's localStorage."""
    return html.Button([html.Span(className="dl-theme-icon")], id="dl-theme-toggle",
                       className="dl-theme-toggle", n_clicks=0, title="Switch light / dark theme",
                       **_attrs(aria_label="Switch light / dark theme"))


def insight_panel() -> html.Section:
    """Up to three insight cards, highest priority first; filled by the browser."""
    return html.Section([
        html.Div([html.Span("Insights", className="dl-insights-label"),
                  html.Span("", id="dl-insights-rules", className="dl-insights-rules")],
                 className="dl-insights-head"),
        html.Div([html.Div("Waiting for the first frame…", id="dl-insights-empty",
                           className="dl-insights-empty")],
                 id="dl-insight-cards", className="dl-insight-cards", role="list",
                 **_attrs(aria_live="polite")),
    ], id="dl-insights", className="dl-insights",
        title="What the rules see in this second's values, the suggested action, how to overcome "
        "the risk and the expected impact; a card stays a few seconds after its rule stops "
        "holding (marked as easing).")


def _trader_panel(graph_id: str, title: str, hint: str, extra_class: str,
                  labels: list[tuple[str, str]]) -> html.Div:
    # Plain divs: the script draws into them the first time the view is shown, at their real
    # size (a Plotly graph drawn while hidden would come up at a default size). The row titles
    # are HTML over the figure: as Plotly annotations they doubled each redraw's cost.
    return html.Div([
        html.Div([html.Span(title, className="dl-panel-title"),
                  html.Span(hint, className="dl-panel-hint")], className="dl-panel-head"),
        html.Div([
            html.Div(id=graph_id, className="dl-trader-graph"),
            *(html.Div(text, className="dl-row-title", style={"top": top})
              for text, top in labels),
        ], className="dl-graph dl-trader-wrap"),
        html.Div(className="dl-stale-veil"),
    ], className=f"dl-panel {extra_class}")


def trader_view() -> html.Main:
    """The second view: metric time series beside the two gauges (hidden until chosen)."""
    titles = panel_titles()
    return html.Main([
        _trader_panel("dl-trader-series", "Market metrics",
                      "last 180 s · shared time axis · dotted: default rule thresholds",
                      "dl-panel-trader-series", titles["series"]),
        _trader_panel("dl-trader-gauges", "Flow gauges",
                      "velocity vs its baseline · taker buy share", "dl-panel-trader-gauges",
                      titles["gauges"]),
    ], id="dl-trader", className="dl-trader", hidden=True)
