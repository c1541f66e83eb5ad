"""The liquidity-event section of the page: one toggle per event type and the event tape.

Static markup only; ``assets/depthlens_40_events.js`` fills the tape from the frames and hides a
type everywhere (heatmap and tape) when its toggle is switched off.
"""

from __future__ import annotations

from dash import html

from dashboard.figures import EVENT_STYLES

# What each type means, for the toggle's tooltip (definitions in the shared liquidity-events note).
EXPLANATIONS: dict[str, str] = {
    "wall": "Wall: a level holding several times the usual size at its distance from the touch, "
            "for more than a few seconds. Drawn as an outlined band over its lifetime.",
    "sweep": "Sweep: an aggressive order that took several price levels in a fraction of a "
             "second. Drawn as a triangle (up: buyers took asks) with a line over the span.",
    "absorption": "Absorption: heavy aggressive volume traded into one level that held and "
                  "did not move the price. Drawn as a diamond at the level.",
    "layering": "Layering: several adjacent levels showing abnormal size at once. Drawn as a "
                "bracket over the layered span.",
    "iceberg": "Iceberg-like: a level that kept refilling while it traded, so more executed "
               "there than was ever shown (futures have no native iceberg type).",
    "exhaustion": "Exhaustion: one side of the book thinned out well below its usual depth. "
                  "Drawn as an x at that side's best price.",
}

TAPE_COLUMNS: tuple[str, ...] = ("time", "type", "side", "price", "size", "score", "status")


def _toggle(event_type: str, label: str) -> html.Button:
    return html.Button([
        html.Span(className="dl-ev-swatch", **{"data-type": event_type}),
        html.Span(label, className="dl-ev-label"),
        html.Span("0", className="dl-ev-count"),
    ], className="dl-ev-toggle is-on", n_clicks=0, title=EXPLANATIONS[event_type],
        **{"data-type": event_type, "aria-pressed": "true"})


def events_section() -> html.Section:
    """Toggles, the tape (newest first) and a line shown while the tape is empty."""
    toggles = [_toggle(style.type, style.label) for style in EVENT_STYLES]
    head = html.Div([
        html.Span("Liquidity events", className="dl-panel-title"),
        html.Div(toggles, id="dl-event-toggles", className="dl-event-toggles"),
        html.Span("newest first · venue time (UTC) · counts: last 180 s · hover a marker on the "
                  "heatmap for the story", className="dl-panel-hint"),
    ], className="dl-events-head")
    table = html.Table([
        html.Thead(html.Tr([html.Th(name) for name in TAPE_COLUMNS])),
        html.Tbody([], id="dl-event-tape-body"),
    ], id="dl-event-tape", className="dl-event-tape")
    empty = html.Div("No liquidity events in the window yet.", id="dl-event-empty",
                     className="dl-event-empty")
    return html.Section([head, html.Div([table, empty], className="dl-event-tape-wrap")],
                        id="dl-events", className="dl-events")
