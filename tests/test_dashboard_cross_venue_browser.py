"""The cross-venue view of one asset, in a real browser against the real server.

``main.py --source sim`` runs BTC on its three venues (the embedded Binance USDT-M, Binance Spot
and Coinbase exchanges); Debian's headless Chromium opens the dashboard, clicks BTC in the
market switcher and reads the view fed by ``WS /ws/asset/BTC``. What the page shows is checked
against the server's own answers (``GET /book``, ``GET /stats24h``), and a dislocation pushed
through ``POST /control/dislocate`` must show as an opportunity, live and then recent.
Every wait is bounded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import (
    ARTIFACTS,
    ServerProcess,
    free_port,
    http_json,
    open_dashboard,
    wait_js,
)

pytestmark = [pytest.mark.browser]

PERP, SPOT, COINBASE = "BTCUSDT", "binance-spot:BTCUSDT", "coinbase:BTC-USD"
MARKETS = (PERP, SPOT, COINBASE)
# A USDT worth a little more than a dollar: every USDT price on the page must be converted
# (USD prices must not), which a rate of exactly 1 could not tell apart.
USDT_USD = 1.0004
FIRST_DATA_S = 60     # three books sync and the cross-venue frames carry all of them live
TICKER_S = 45         # the embedded exchanges' first 24-hour tickers
DISLOCATE_BPS, DISLOCATE_S = 80.0, 8.0
PRICE_TOL_BPS = 1.0   # a book's top may move between the frame's second and GET /book


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(free_port(), ("--symbols", ",".join(MARKETS),
                                     "--usdt-usd", str(USDT_USD))) as proc:
        yield proc


@pytest.fixture
def page(browser: Any, server: ServerProcess, console: list[str]) -> Iterator[Any]:
    page = open_dashboard(browser, server.url, console)
    yield page
    page.context.close()


def open_cross_view(page: Any, asset: str = "BTC") -> None:
    page.wait_for_selector(f".dl-mkt-asset[data-asset='{asset}']", timeout=20_000)
    page.click(f".dl-mkt-asset[data-asset='{asset}']")
    wait_js(page, "(a) => depthlensCross.asset === a && depthlensCross.connection === 'open'",
            15, asset)


def wait_all_live(page: Any) -> None:
    wait_js(page, """(keys) => {
        const f = depthlensCross.lastFrame;
        if (!f || !f.markets) return false;
        return keys.every(k => f.markets.some(m => m.market === k && m.live
                                               && m.bid !== null && m.ask !== null)); }""",
            FIRST_DATA_S, list(MARKETS))


def ladder(page: Any) -> dict[str, dict[str, float]]:
    """Each ladder row's numbers as drawn (the cells' exact values) and the frame's rate."""
    return page.evaluate("""() => {
        const out = {};
        const f = depthlensCross.lastFrame;
        document.querySelectorAll('#dl-cv-ladder-body tr[data-market]').forEach(tr => {
            const v = (cls) => parseFloat(tr.querySelector(cls).dataset.value);
            const m = f.markets.find(x => x.market === tr.dataset.market);
            out[tr.dataset.market] = {bid: v('.dl-cv-bid'), ask: v('.dl-cv-ask'),
                bid_qty: v('.dl-cv-bidq'), ask_qty: v('.dl-cv-askq'), fee: v('.dl-cv-fee'),
                rate: m.usd_per_quote, frame_bid: m.bid, frame_ask: m.ask,
                best_bid: tr.querySelector('.dl-cv-bid').classList.contains('is-best'),
                best_ask: tr.querySelector('.dl-cv-ask').classList.contains('is-best')};
        });
        return out; }""")


def book_tops(server: ServerProcess) -> dict[str, tuple[float, float]]:
    tops = {}
    for market in MARKETS:
        status, book = http_json(server, "GET", f"/book/{market}?depth=1")
        assert status == 200, book
        tops[market] = (book["bids"][0][0], book["asks"][0][0])
    return tops


def stats_last(entry: dict[str, Any]) -> float:
    """The last price of a ``GET /stats24h`` entry: flat as docs/frames.md lists it, or nested
    under ``ticker`` as the server's store keeps it."""
    return float(entry["ticker"]["last_price"] if "ticker" in entry else entry["last"])


def bps(a: float, b: float) -> float:
    return abs(a - b) / b * 1e4


def ladder_against_books(page: Any, server: ServerProcess) -> list[str]:
    """Right after a frame arrives: how the ladder differs from the books' tops in USD (empty
    when it matches). The tops may move between the frame's second and GET /book."""
    count = page.evaluate("depthlensCross.framesReceived")
    wait_js(page, "(n) => depthlensCross.framesReceived > n && depthlensCross.renders.tables"
            " > 0", 5, count)
    shown = ladder(page)
    tops = book_tops(server)
    assert sorted(shown) == sorted(MARKETS)
    misses = []
    for market, row in shown.items():
        bid, ask = tops[market]
        for side, drawn, top in (("bid", row["bid"], bid), ("ask", row["ask"], ask)):
            if bps(drawn, top * row["rate"]) > PRICE_TOL_BPS:
                misses.append(f"{market} {side}: page {drawn}, book {top} x {row['rate']}")
    return misses


def check_ladder(page: Any, server: ServerProcess) -> None:
    """The ladder's rows: every market at its book's top in USD, its fee, the best bid and ask."""
    misses: list[str] = []
    for _ in range(3):  # a busy machine may stall between the frame and the GETs: three tries
        misses = ladder_against_books(page, server)
        if not misses:
            break
    assert not misses, misses
    shown = ladder(page)
    _, fees = http_json(server, "GET", "/arbitrage?asset=BTC")
    for market, row in shown.items():
        assert row["rate"] == pytest.approx(USDT_USD if market != COINBASE else 1.0)
        assert (row["bid"], row["ask"]) == (row["frame_bid"], row["frame_ask"])
        assert row["bid"] < row["ask"] and row["bid_qty"] > 0 and row["ask_qty"] > 0
        venue = market.split(":")[0] if ":" in market else "binance-usdm"
        assert row["fee"] == fees["fees_bps"][venue]
    # Exactly one best bid and one best ask are highlighted: the highest bid, the lowest ask.
    best_bid = max(shown, key=lambda k: shown[k]["bid"])
    best_ask = min(shown, key=lambda k: shown[k]["ask"])
    assert [k for k, r in shown.items() if r["best_bid"]] == [best_bid]
    assert [k for k, r in shown.items() if r["best_ask"]] == [best_ask]


def chart_data(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => {
        const basis = document.getElementById('dl-cv-basis');
        const depth = document.getElementById('dl-cv-depth');
        const sum = (ys) => ys.reduce((s, v) => s + (v || 0), 0);
        return {
            basis_points: basis.data ? basis.data[0].y.filter(v => v !== null).length : 0,
            funding_points: basis.data ? basis.data[1].y.filter(v => v !== null).length : 0,
            depth_traces: depth.data ? depth.data.map(t => [t.name, t.stackgroup, sum(t.y)]) : [],
        }; }""")


def stats_cards(page: Any) -> dict[str, dict[str, str]]:
    return page.evaluate("""() => {
        const out = {};
        document.querySelectorAll('#dl-cv-stats .dl-cv-card').forEach(c => {
            const row = {};
            c.querySelectorAll('[data-stat]').forEach(e => {
                row[e.dataset.stat] = e.firstChild ? e.firstChild.textContent : ''; });
            out[c.dataset.market] = row;
        });
        return out; }""")


def opportunity_rows(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#dl-cv-opps-body tr", "rows => rows.map(r => ({state: r.dataset.state, buy: r.dataset.buy,"
        " sell: r.dataset.sell, edge: r.querySelector('.dl-cv-edge').dataset.value,"
        " end: r.querySelector('.dl-cv-reason').textContent}))")


def test_cross_venue_view_of_btc(page: Any, server: ServerProcess, console: list[str]) -> None:
    open_cross_view(page)
    assert page.get_attribute("#dl-root", "data-view") == "cross"
    assert page.is_visible("#dl-cross") and not page.is_visible("#dl-heatmap")
    assert page.get_attribute(".dl-mkt-asset[data-asset='BTC']", "aria-pressed") == "true"
    wait_all_live(page)

    # Ladder: the three markets, at their books' tops in USD, with their fees and the rate.
    check_ladder(page, server)
    assert page.text_content("#dl-cv-usdt") == f"{USDT_USD:.4f}"

    # Basis and funding from the snapshot's history onwards; the merged depth, per market.
    wait_js(page, "() => depthlensCross.renders.depth >= 2", 10)
    charts = chart_data(page)
    assert charts["basis_points"] >= 2 and charts["funding_points"] >= 1, charts
    stacks = {(name, group) for name, group, total in charts["depth_traces"] if total > 0}
    assert {group for _, group in stacks} == {"bids", "asks"}
    assert len(stacks) == 2 * len(MARKETS), charts["depth_traces"]
    hint = page.text_content("#dl-cv-basis-hint")
    assert "mark" in hint and "index" in hint and "funding" in hint

    # 24-hour cards: one per market, once each venue has sent a ticker, as /stats24h says.
    wait_js(page, """(keys) => keys.every(k => {
        const c = document.querySelector(`#dl-cv-stats .dl-cv-card[data-market="${k}"]`);
        const last = c && c.querySelector('[data-stat=last]');
        return last && last.firstChild && last.firstChild.textContent !== 'n/a'; })""",
            TICKER_S, list(MARKETS))
    cards = stats_cards(page)
    _, stats = http_json(server, "GET", "/stats24h")
    for market in MARKETS:
        last = float(cards[market]["last"].replace(",", ""))
        assert bps(last, stats_last(stats["markets"][market])) < 50, (market, cards[market])
        assert cards[market]["high"] != "n/a" and cards[market]["low"] != "n/a"
    assert cards[COINBASE]["quote_volume"] == "n/a"  # Coinbase's ticker has no quote volume

    # Push Spot's price up: buy on the cheaper perpetual, sell on Spot, net of both fees.
    status, reply = http_json(server, "POST", "/control/dislocate",
                         {"market": SPOT, "bps": DISLOCATE_BPS, "seconds": DISLOCATE_S})
    assert status == 200, reply
    pushed_at = time.monotonic()
    live = wait_js(page, """(spot) => {
        const r = document.querySelector(`#dl-cv-opps-body tr[data-state=live][data-sell="${spot}"]`);
        return r && {buy: r.dataset.buy, edge: +r.querySelector('.dl-cv-edge').dataset.value}; }""",
                   DISLOCATE_S, SPOT)
    assert time.monotonic() - pushed_at < DISLOCATE_S
    frame = page.evaluate("depthlensCross.lastFrame")
    price = {m["market"]: m for m in frame["markets"]}
    assert price[live["buy"]]["ask"] < price[SPOT]["bid"]  # bought cheap, sold dear
    assert live["buy"] == PERP  # Coinbase's 120 bp taker fee eats an 80 bp edge
    assert 0 < live["edge"] < DISLOCATE_BPS
    # Spot holds the consolidated best bid, above another market's ask: crossed, and flagged.
    assert page.get_attribute("#dl-cv-ladder-body tr[data-market='binance-spot:BTCUSDT'] .dl-cv-bid",
                              "class").count("is-best") == 1
    wait_js(page, "() => !!document.querySelector('.dl-cv-cons-row[data-crossed=true] .dl-cv-badge')", 3)
    pair = page.get_attribute(f"#dl-cv-pairs-body tr[data-buy='{PERP}'][data-sell='{SPOT}']",
                              "data-eligible")
    assert pair == "true"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cross_venue_dislocated.png"))

    # After the dislocation the same pair ends: no longer live, listed as recent with a reason.
    wait_js(page, """([buy, sell]) => {
        const q = (s) => document.querySelector(`#dl-cv-opps-body tr[data-state=${s}]`
                                                + `[data-buy="${buy}"][data-sell="${sell}"]`);
        return !q('live') && q('recent'); }""", DISLOCATE_S + 15, [PERP, SPOT])
    ended = [r for r in opportunity_rows(page) if r["state"] == "recent"
             and (r["buy"], r["sell"]) == (PERP, SPOT)]
    assert ended and ended[0]["end"] in {"edge", "skew", "book"}
    assert float(ended[0]["edge"]) > 0
    _, arbitrage = http_json(server, "GET", "/arbitrage?asset=BTC")
    assert any((o["buy"], o["sell"]) == (PERP, SPOT) for o in arbitrage["recent"])
    page.screenshot(path=str(ARTIFACTS / "cross_venue_after.png"))

    # Back to one market: a venue button shows it, and its charts draw again.
    renders = page.evaluate("depthlens.renders.heatmap")
    page.click(f"#dl-symbol .dl-seg-btn[data-value='{SPOT}']")
    wait_js(page, "([m, n]) => depthlens.symbol === m && depthlens.renders.heatmap > n"
            " && depthlens.lastFrame && depthlens.lastFrame.market === m", 20, [SPOT, renders])
    assert page.get_attribute("#dl-root", "data-view") == "book"
    assert not page.is_visible("#dl-cross") and page.is_visible("#dl-heatmap")
    assert page.evaluate("depthlensCross.asset") is None
    assert page.get_attribute(".dl-mkt-asset[data-asset='BTC']", "aria-pressed") == "false"
    assert console == []


def test_back_button_and_view_tabs_leave_the_view(page: Any, console: list[str]) -> None:
    page.click("#dl-view .dl-seg-btn[data-value='trader']")
    open_cross_view(page)
    assert not page.is_visible("#dl-trader")
    page.click("#dl-cv-back")  # back to the view it was opened from
    wait_js(page, "() => document.getElementById('dl-root').dataset.view === 'trader'"
            " && depthlensCross.asset === null && depthlensCross.connection === 'idle'", 5)
    assert page.is_visible("#dl-trader") and not page.is_visible("#dl-cross")

    open_cross_view(page)
    page.click("#dl-view .dl-seg-btn[data-value='book']")
    wait_js(page, "() => document.getElementById('dl-root').dataset.view === 'book'"
            " && depthlensCross.asset === null", 5)
    assert page.is_visible("#dl-heatmap") and not page.is_visible("#dl-cross")
    page.click("#dl-view .dl-seg-btn[data-value='book']")  # leave the saved view as found
    assert console == []


def test_an_asset_nothing_runs_falls_back_to_the_book_view(
        browser: Any, server: ServerProcess) -> None:
    page = open_dashboard(browser, server.url + "#cross=ZZZ")
    try:
        # The server refuses the socket (1008); the market list has no ZZZ: back to a market.
        wait_js(page, "() => depthlensCross.asset === null && "
                "document.getElementById('dl-root').dataset.view === 'book'", 15)
        assert not page.is_visible("#dl-cross")
        assert "#cross" not in page.evaluate("location.href")
    finally:
        page.context.close()


def test_the_view_leaves_when_its_assets_last_market_stops(
        page: Any, server: ServerProcess, console: list[str]) -> None:
    status, reply = http_json(server, "POST", "/markets", {"market": "binance-usdm:SOLUSDT"})
    assert status == 201, reply
    try:
        open_cross_view(page, "SOL")
        wait_js(page, "() => depthlensCross.lastFrame && depthlensCross.lastFrame.markets"
                ".some(m => m.market === 'SOLUSDT')", FIRST_DATA_S)
        assert page.eval_on_selector_all("#dl-cv-ladder-body tr[data-market]",
                                         "rows => rows.map(r => r.dataset.market)") == ["SOLUSDT"]
    finally:
        status, _ = http_json(server, "DELETE", "/markets/SOLUSDT")
    assert status == 200
    # The server closes the asset's socket (1001); SOL is gone from the list: back to a market.
    wait_js(page, "() => depthlensCross.asset === null && document.getElementById('dl-root')"
            ".dataset.view === 'book' && !document.querySelector('.dl-mkt-asset[data-asset=SOL]')",
            20)
    assert not page.is_visible("#dl-cross")
    assert console == []


def test_layout_has_the_view_hidden_and_its_socket_path() -> None:
    from dashboard.layout import build_layout

    layout = build_layout(["BTCUSDT"])
    components = {getattr(c, "id", None): c for c in layout._traverse()}
    assert components["dl-cross"].hidden is True
    for part in ("dl-cv-ladder", "dl-cv-basis", "dl-cv-depth", "dl-cv-opps", "dl-cv-pairs",
                 "dl-cv-stats", "dl-cv-usdt", "dl-cv-back"):
        assert part in components
    config = json.loads(layout.to_plotly_json()["props"]["data-config"])
    assert config["cross"]["wsPath"] == "/ws/asset/"
    assert config["cross"]["figures"]["basis"]["data"][1]["yaxis"] == "y2"
