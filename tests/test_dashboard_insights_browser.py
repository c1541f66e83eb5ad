"""The trader's additions in a real browser against the real server (``main.py --source sim``):
KPI header, insight cards driven by the embedded exchange's spread control, the trader view on
the page's one socket, and the remembered light/dark theme.

Every wait is bounded and waits for a condition; nothing sleeps and then asserts.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

import plotly.graph_objects as go

from dashboard import figures, trader_figures
from dashboard.layout import build_layout
from tests.browser_support import ServerProcess, open_dashboard, wait_js

FIRST_DATA_S = 45
WIDE_SPREAD_BPS = 6.0  # rule 1 of the default profile
# Counts the page's WebSockets: the trader view must not open one of its own.
COUNT_SOCKETS = """
(() => {
  const Real = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Real {
    constructor(url, protocols) { super(url, protocols); window.__sockets.push(String(url)); }
  };
})();
"""


ALL_FIGURES = {
    "heatmap": figures.heatmap_figure, "depth": figures.depth_figure,
    "surface": figures.surface_figure, "series": trader_figures.series_figure,
    "gauges": trader_figures.gauges_figure,
}


@pytest.mark.parametrize("name", sorted(ALL_FIGURES))
def test_every_layout_colour_has_a_light_counterpart(name: str) -> None:
    figure = ALL_FIGURES[name]()
    go.Figure(figure)  # plotly validates every property
    colours = set(re.findall(r"#[0-9a-f]{6}", json.dumps(figure["layout"]).lower()))
    light = figures.theme_colors()["light"]
    assert colours and colours <= set(light), colours - set(light)
    assert all(light[c] != c for c in colours)


def test_page_config_carries_trader_figures_and_themes() -> None:
    config = json.loads(build_layout(["BTCUSDT"]).to_plotly_json()["props"]["data-config"])
    assert set(config["traderFigures"]) == {"series", "gauges", "velocityBands"}
    assert [t["name"] for t in config["traderFigures"]["series"]["data"]] == [
        "mid", "VWAP 30 s", "spread bp", "imbalance", "volatility trades", "volatility 1 s mids",
        "CVD", "rule 1: spread 6 bp", "rules 3 and 4: imbalance ±0.5"]
    assert config["themes"]["dark"] == {} and config["themes"]["light"]


@pytest.fixture
def page(browser: Any, server: ServerProcess, console: list[str]) -> Iterator[Any]:
    page = open_dashboard(browser, server.url, console, init_scripts=(COUNT_SOCKETS,))
    yield page
    page.context.close()


def exchange_url(server: ServerProcess) -> str:
    """The embedded exchange's base URL, from the server's log line."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.findall(r"local exchange on (http://127\.0\.0\.1:\d+)", server.log_tail(200_000))
        if found:
            return str(found[-1])
        time.sleep(0.2)
    raise AssertionError("no 'local exchange on' line in the server log")


def wait_for_metrics(page: Any) -> dict[str, Any]:
    """Until a live frame carries the trade-flow metrics; returns it."""
    return wait_js(page, "() => { const f = depthlens.lastFrame; return f && f.status === 'live'"
                   " && f.velocity_3s !== null && f.vwap_30s !== null"
                   " && f.velocity_baseline !== null"
                   " && Array.isArray(f.insights) && f; }", FIRST_DATA_S)


@pytest.mark.browser
def test_kpi_header_shows_the_frame_colour_coded(page: Any, console: list[str]) -> None:
    wait_for_metrics(page)
    # Read the DOM and the frame in one task: the header is written synchronously on each frame.
    got = page.evaluate("""() => {
      const t = (k) => document.getElementById('dl-kpi-' + k).textContent;
      const level = (k) => document.querySelector(".dl-kpi[data-kpi='" + k + "']").dataset.level;
      const keys = ['price', 'change', 'spread', 'velocity', 'vwap', 'imbalance', 'status'];
      return {f: depthlens.lastFrame, text: Object.fromEntries(keys.map(k => [k, t(k)])),
              sub: Object.fromEntries(keys.map(k => [k, t(k + '-sub')])),
              level: Object.fromEntries(keys.map(k => [k, level(k)])),
              order: [...document.querySelectorAll('.dl-kpi')].map(e => e.dataset.kpi)}; }""")
    f, text, sub, level = got["f"], got["text"], got["sub"], got["level"]
    assert got["order"][:7] == ["price", "change", "spread", "velocity", "vwap", "imbalance",
                                "status"]

    def number(s: str) -> float:
        return float(re.sub(r"[^0-9.+-]", "", s.split(" ")[0]))

    price = f["last_trade_price"] if f["last_trade_price"] is not None else f["mid_price"]
    assert number(text["price"]) == pytest.approx(price, abs=0.01)
    assert number(text["vwap"]) == pytest.approx(f["vwap_30s"], abs=0.01)
    assert number(text["velocity"]) == pytest.approx(f["velocity_3s"], abs=0.005)
    # One decimal, rounded by the browser (toFixed rounds 20.25 up where Python's format gives
    # 20.2): compare the number, not the text.
    shown = re.search(r"of ([0-9.,]+)/s", sub["velocity"])
    assert shown is not None, sub["velocity"]
    assert float(shown.group(1).replace(",", "")) == pytest.approx(f["velocity_baseline"],
                                                                    abs=0.051)
    ratio = f["velocity_3s"] / f["velocity_baseline"]
    assert level["velocity"] == ("bad" if ratio > 2 else "calm" if ratio < 0.5 else "none")
    bps = f["spread_bps"]
    assert level["spread"] == ("bad" if bps > WIDE_SPREAD_BPS else "good" if bps < 2 else "none")
    assert text["change"].endswith(" %") and re.search(r" in \d+ s$", sub["change"])
    assert text["status"] == f["status"]  # live, unless the sim's book just went stale
    assert level["status"] == ("warn" if f["stale"] else "good")
    venue = time.strftime("%H:%M:%S", time.gmtime(f["venue_ts"]))
    assert sub["status"].startswith(venue)
    assert console == []


CRAFTED = """() => {
  const card = (id, priority, at, holding) => ({id, priority, insight: 'Rule ' + id + ' <b>holds</b>',
    action: 'act ' + id, how_to_overcome: 'overcome ' + id, expected_impact: 'impact ' + id,
    triggered_at: at, holding});
  const f = Object.assign({}, depthlens.lastFrame, {ts: 1000, rules: [1, 2],
    insights: [card(1, 'HIGH', 988, false), card(4, 'MEDIUM', 999, true), card(2, 'LOW', 1000, false)]});
  depthlensInsights.render(f);
  const cards = [...document.querySelectorAll('#dl-insight-cards .dl-insight')].map(c => ({
    id: c.dataset.ruleId, priority: c.dataset.priority, holding: c.dataset.holding,
    icon: c.querySelector('.dl-insight-icon').textContent,
    colour: getComputedStyle(c).borderLeftColor,
    age: c.querySelector('.dl-insight-age').textContent,
    text: c.querySelector('.dl-insight-text').textContent,
    bold: c.querySelectorAll('b').length,
    body: [...c.querySelectorAll('dd')].map(d => d.textContent)}));
  const rules = document.getElementById('dl-insights-rules').textContent;
  depthlensInsights.render(Object.assign({}, f, {insights: [], rules: []}));
  const empty = document.getElementById('dl-insight-cards').textContent;
  return {cards, rules, empty};
}"""


@pytest.mark.browser
def test_insight_cards_show_priority_texts_and_hold_time(page: Any) -> None:
    wait_for_metrics(page)
    got = page.evaluate(CRAFTED)  # one task: no real frame can land in between
    cards = got["cards"]
    assert [(c["id"], c["priority"], c["holding"]) for c in cards] == [
        ("1", "HIGH", "false"), ("4", "MEDIUM", "true"), ("2", "LOW", "false")]
    assert [c["icon"] for c in cards] == ["!", "!", "i"]
    assert len({c["colour"] for c in cards}) == 3  # one colour per priority
    assert [c["age"] for c in cards] == ["for 12 s", "for 1 s · easing", "for 0 s"]
    assert cards[0]["text"] == "Rule 1 <b>holds</b>" and cards[0]["bold"] == 0  # text, not HTML
    assert cards[1]["body"] == ["act 4", "overcome 4", "impact 4"]
    assert got["rules"] == "rules holding: 1, 2"
    assert "No rule holds" in got["empty"]


@pytest.mark.browser
def test_spread_card_appears_while_the_spread_is_wide_and_goes_after(
        page: Any, server: ServerProcess, console: list[str]) -> None:
    frame = wait_for_metrics(page)
    assert page.evaluate("depthlens.symbol") == "BTCUSDT"
    wait_js(page, "() => !document.querySelector(\"#dl-insight-cards [data-rule-id='1']\")", 20)
    tick = page.evaluate("depthlensInsights.meta().tick_size")
    ticks = math.ceil(frame["mid_price"] * 9e-4 / tick)  # 9 bp: clearly above rule 1's 6 bp
    with urllib.request.urlopen(f"{exchange_url(server)}/control/inject?type=spread"
                                f"&symbol=BTCUSDT&ticks={ticks}&duration_s=8", timeout=5) as r:
        assert r.status == 200
    card = "#dl-insight-cards .dl-insight[data-rule-id='1']"
    wait_js(page, f"() => document.querySelector(\"{card}[data-holding='false']\")", 20)
    shown = page.evaluate(f"""() => ({{f: depthlens.lastFrame,
        prio: document.querySelector("{card}").dataset.priority,
        text: document.querySelector("{card} .dl-insight-text").textContent,
        level: document.querySelector(".dl-kpi[data-kpi='spread']").dataset.level}})""")
    assert 1 in shown["f"]["rules"] and shown["f"]["spread_bps"] > WIDE_SPREAD_BPS
    assert shown["prio"] == "HIGH" and "spread" in shown["text"].lower()
    assert shown["level"] == "bad"
    # The spread recovers after 8 s: the card is held a few seconds (easing), then goes.
    wait_js(page, f"() => !depthlens.lastFrame.rules.includes(1)"
            f" && document.querySelector(\"{card}[data-holding='true']\")", 25)
    wait_js(page, f"() => !document.querySelector(\"{card}\")", 15)
    assert 1 not in page.evaluate("depthlens.lastFrame.rules")
    assert console == []


@pytest.mark.browser
def test_trader_view_draws_from_the_same_socket(page: Any, console: list[str]) -> None:
    wait_for_metrics(page)
    page.click("#dl-view button[data-value='trader']")
    wait_js(page, "() => depthlensTrader.renders.series >= 2"
            " && depthlensTrader.renders.gauges >= 1", 10)
    assert page.is_visible("#dl-trader-series") and not page.is_visible("#dl-heatmap")
    # Each series trace has data; both volatility measures come within a few seconds.
    wait_js(page, """() => { const d = document.getElementById('dl-trader-series').data;
        return d.length === 9 && d.slice(0, 7).every(t => t.y.filter(v => v !== null).length >= 1)
          && [0, 1, 2, 3, 6].every(i => d[i].y.filter(v => v !== null).length >= 3); }""", 20)
    # The newest point is the newest frame's value, and the series moves on with the frames.
    wait_js(page, """() => { const d = document.getElementById('dl-trader-series').data;
        const f = depthlens.lastFrame, n = d[0].x.length - 1;
        return d[0].x[n] === f.ts * 1000 && d[2].y[n] === f.spread_bps && d[6].y[n] === f.cvd
          && d[1].y[n] === f.vwap_30s && d[4].y[n] === f.volatility_60s_bps
          && d[7].x[0] === d[0].x[0] && d[7].x[1] === d[0].x[n] && d[7].y[0] === 6; }""", 5)
    x_last = page.evaluate("() => { const x = document.getElementById('dl-trader-series')"
                           ".data[0].x; return x[x.length - 1]; }")
    wait_js(page, "(x) => { const d = document.getElementById('dl-trader-series').data[0].x;"
            " return d[d.length - 1] > x; }", 5, x_last)
    # Gauges show the frame's velocity (against its baseline) and buy pressure.
    wait_js(page, """() => { const g = document.getElementById('dl-trader-gauges').data;
        const f = depthlens.lastFrame;
        return g[0].value === Number(f.velocity_3s.toFixed(1))
          && g[0].gauge.threshold.value === Number(f.velocity_baseline.toFixed(1))
          && g[1].value === Number((f.buy_pressure_30s * 100).toFixed(0)); }""", 5)
    # The hidden book charts wait meanwhile, and catch up when shown again.
    heat = page.evaluate("depthlens.renders.heatmap")
    frames = page.evaluate("depthlens.framesReceived")
    wait_js(page, "(n) => depthlens.framesReceived >= n + 2", 5, frames)
    assert page.evaluate("depthlens.renders.heatmap") == heat
    page.click("#dl-view button[data-value='book']")
    wait_js(page, "(n) => depthlens.renders.heatmap > n", 5, heat)
    assert page.is_visible("#dl-heatmap") and not page.is_visible("#dl-trader-series")
    series = page.evaluate("depthlensTrader.renders.series")
    wait_js(page, "(n) => depthlens.framesReceived >= n + 2", 5, frames + 2)
    assert page.evaluate("depthlensTrader.renders.series") == series
    assert page.evaluate("window.__sockets.length") == 1
    # Switching symbol on the trader view starts its series afresh from the new snapshot.
    page.click("#dl-view button[data-value='trader']")
    page.click("#dl-symbol button[data-value='ETHUSDT']")
    wait_js(page, """() => { const f = depthlens.lastFrame; if (!f || f.symbol !== 'ETHUSDT'
          || f.mid_price === null) return false;
        const y = document.getElementById('dl-trader-series').data[0].y.filter(v => v !== null);
        return y.length > 0 && y[y.length - 1] === f.mid_price
          && y.every(v => Math.abs(v / f.mid_price - 1) < 0.05); }""", FIRST_DATA_S)
    assert page.evaluate("window.__sockets.length") == 2  # the app's own reconnect, per symbol
    assert console == []


def paper(page: Any, graph: str) -> str:
    return str(page.evaluate("(id) => { const el = document.getElementById(id);"
                             " const gd = el.classList.contains('js-plotly-plot') ? el"
                             " : el.querySelector('.js-plotly-plot');"
                             " return gd._fullLayout.paper_bgcolor; }", graph))


@pytest.mark.browser
def test_theme_switch_recolours_page_and_charts_and_is_remembered(
        page: Any, console: list[str]) -> None:
    wait_for_metrics(page)
    body_bg = "() => getComputedStyle(document.body).backgroundColor"
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    dark_bg = page.evaluate(body_bg)
    wait_js(page, "() => depthlens.renders.heatmap >= 1", 10)
    assert paper(page, "dl-heatmap") == "#10151c"
    page.click("#dl-theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    assert page.evaluate(body_bg) != dark_bg
    wait_js(page, "() => { const g = document.querySelector('#dl-depth .js-plotly-plot');"
            " return g._fullLayout.paper_bgcolor === '#ffffff'; }", 10)
    assert paper(page, "dl-heatmap") == "#ffffff"
    page.click("#dl-view button[data-value='trader']")
    wait_js(page, "() => depthlensTrader.renders.gauges >= 1", 10)
    assert paper(page, "dl-trader-series") == "#ffffff"
    assert page.evaluate("document.getElementById('dl-trader-gauges').data[0].number.font.color") \
        == "#1d2631"

    page.reload(wait_until="load")  # the theme and the view are remembered
    wait_js(page, "() => window.depthlens && window.depthlens.ready", 30)
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    wait_js(page, "() => depthlensTrader.renders.series >= 1", FIRST_DATA_S)
    assert paper(page, "dl-trader-series") == "#ffffff"
    assert page.evaluate("document.querySelector(\"#dl-view [data-value='trader']\")"
                         ".getAttribute('aria-selected')") == "true"

    page.click("#dl-theme-toggle")
    page.click("#dl-view button[data-value='book']")
    wait_js(page, "() => { const g = document.querySelector('#dl-heatmap .js-plotly-plot');"
            " return g._fullLayout.paper_bgcolor === '#10151c'; }", 10)
    assert page.evaluate(body_bg) == dark_bg
    page.reload(wait_until="load")
    wait_js(page, "() => window.depthlens && window.depthlens.ready", 30)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert console == []
