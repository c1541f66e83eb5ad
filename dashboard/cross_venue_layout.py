"""Markup of the cross-venue view: one asset across every venue it runs on.

Static shells only, like ``dashboard.layout``: ``assets/depthlens_80_cross_venue.js`` opens
``/ws/asset/{asset}`` when the user clicks an asset's name in the market switcher, fills these
elements from its frames, and hides the view again on the way back to a single market. The
charts are plain divs drawn the first time the view is shown, at their real size.
"""

from __future__ import annotations

from dash import html


def _attrs(**values: str) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in values.items()}


def _fact(key: str, label: str, title: str) -> html.Div:
    return html.Div([html.Span(label, className="dl-cv-fact-label"),
                     html.Span("—", id=f"dl-cv-{key}", className="dl-cv-fact-value")],
                    className="dl-cv-fact", title=title)


def _panel(title: str, hint_id: str, body: html.Div | html.Table, extra_class: str,
           hint: str = "") -> html.Section:
    return html.Section([
        html.Div([html.Span(title, className="dl-panel-title"),
                  html.Span(hint, id=hint_id, className="dl-panel-hint")],
                 className="dl-panel-head"),
        body,
    ], className=f"dl-panel dl-cv-panel {extra_class}")


def _table(table_id: str, columns: list[tuple[str, str]], empty: str) -> html.Div:
    head = html.Thead(html.Tr([html.Th(text, title=tip) for text, tip in columns]))
    return html.Div([
        html.Table([head, html.Tbody([], id=f"{table_id}-body")], id=table_id,
                   className="dl-cv-table"),
        html.Div(empty, id=f"{table_id}-empty", className="dl-cv-empty"),
    ], className="dl-cv-table-wrap")


LADDER_COLUMNS: list[tuple[str, str]] = [
    ("Market", "venue and market key"),
    ("Bid size", "quantity at the best bid (base units)"),
    ("Bid", "best bid, in USD (USDT prices converted with the USDT/USD rate)"),
    ("Ask", "best ask, in USD"),
    ("Ask size", "quantity at the best ask (base units)"),
    ("Spread", "the market's own spread, bps of its mid"),
    ("±10 bp depth", "USD resting within 10 bps of the market's mid: bids / asks"),
    ("Taker fee", "taker fee charged on this venue, bps"),
    ("USD/quote", "US dollars per unit of the market's quote currency (USDT: the configured rate)"),
    ("Lag", "how far this book's venue time is behind the asset's newest book"),
]
OPPORTUNITY_COLUMNS: list[tuple[str, str]] = [
    ("State", "live, or ended (recent)"),
    ("Buy on", "walk this market's asks"),
    ("Sell on", "walk this market's bids"),
    ("Peak net edge", "best average net edge after both taker fees, bps"),
    ("Size", "size at the peak, base units"),
    ("Profit", "profit at the peak after fees, USD"),
    ("Skew", "venue-time skew of the two books at the peak, ms (hover: the largest seen)"),
    ("Duration", "how long it lasted (so far)"),
    ("Started", "venue time it opened (UTC)"),
    ("End", "why it ended: edge gone, skew over the bound, book not live"),
]
PAIR_COLUMNS: list[tuple[str, str]] = [
    ("Buy on", "walk this market's asks"),
    ("Sell on", "walk this market's bids"),
    ("Gross", "best bid of the sell market over best ask of the buy market, bps"),
    ("Net", "after both taker fees, for the first unit, bps"),
    ("Best size", "base units maximising net profit (average net edge at it)"),
    ("Profit", "net profit at the best size, USD"),
    ("Max size", "largest size with a positive net profit"),
    ("Skew", "distance of the two books' venue times, ms"),
    ("Eligible", "positive net edge and skew within the bound"),
]


def cross_venue_view() -> html.Main:
    """The whole view, hidden until an asset is chosen."""
    head = html.Div([
        html.Button("← single market", id="dl-cv-back", className="dl-cv-back", n_clicks=0,
                    title="Back to the single-market view"),
        html.H2([html.Span("", id="dl-cv-asset"), html.Span(" across venues")],
                className="dl-cv-title"),
        html.Span("connecting", id="dl-cv-state", className="dl-cv-state",
                  **_attrs(data_state="idle"), title="State of the cross-venue stream"),
        _fact("usdt", "USDT/USD", "US dollars per USDT used to convert every USDT price"),
        _fact("cons", "Consolidated", "best bid and best ask across the live markets"),
        _fact("spread", "Cons. spread", "consolidated spread in bps; negative when crossed"),
        _fact("skew", "Max skew", "opportunities need both books' venue times this close"),
    ], className="dl-cv-head")
    ladder = _panel("Best bid / ask per venue", "dl-cv-ladder-hint",
                    _table("dl-cv-ladder", LADDER_COLUMNS, "Waiting for the first frame…"),
                    "dl-cv-ladder-panel",
                    "USD · highlighted: the consolidated best bid and ask")
    stats = _panel("24 h statistics", "dl-cv-stats-hint",
                   html.Div([], id="dl-cv-stats", className="dl-cv-stats"), "dl-cv-stats-panel",
                   "as each venue reports them, in its quote currency")
    basis = _panel("Basis and funding", "dl-cv-basis-hint",
                   html.Div(html.Div(id="dl-cv-basis", className="dl-cv-graph"),
                            className="dl-graph dl-cv-graph-wrap"),
                   "dl-cv-basis-panel", "perpetual vs spot")
    depth = _panel("Merged depth", "dl-cv-depth-hint",
                   html.Div(html.Div(id="dl-cv-depth", className="dl-cv-graph"),
                            className="dl-graph dl-cv-graph-wrap"),
                   "dl-cv-depth-panel", "stacked per market · ±50 bp of the consolidated mid")
    opps = _panel("Opportunities after fees", "dl-cv-opps-hint",
                  _table("dl-cv-opps", OPPORTUNITY_COLUMNS,
                         "No opportunity after fees so far."),
                  "dl-cv-opps-panel", "live and recent")
    pairs = _panel("Arbitrage now", "dl-cv-pairs-hint",
                   _table("dl-cv-pairs", PAIR_COLUMNS, "Needs two live markets."),
                   "dl-cv-pairs-panel", "every ordered pair, net of taker fees")
    return html.Main([
        head,
        html.Div([ladder, stats, basis, depth, opps, pairs], className="dl-cv-grid"),
    ], id="dl-cross", className="dl-cross", hidden=True,
        **_attrs(aria_label="Cross-venue view"))
