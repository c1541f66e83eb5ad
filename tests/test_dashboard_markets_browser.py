"""Markets started and stopped at runtime, from the dashboard, in a real browser.

The real server (``main.py --source sim``) and Debian's headless Chromium: the page starts a
market through ``POST /markets``, shows it grouped in the switcher and in the integrity bar,
streams it, and stops it through ``DELETE /markets/{market}``; what the page shows is checked
against what the server's own ``/health`` and ``/symbols`` say. Every wait is bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import ServerProcess, free_port, http_json, open_dashboard, wait_js

pytestmark = [pytest.mark.browser]

FIRST_DATA_S = 45   # a market's book must sync before its heatmap has a step
LIST_CHANGE_S = 10  # a start or stop shows on the page within a frame or two


@pytest.fixture
def page(browser: Any, server: ServerProcess, console: list[str]) -> Iterator[Any]:
    page = open_dashboard(browser, server.url, console)
    yield page
    page.context.close()


def served(server: ServerProcess) -> tuple[set[str], set[str]]:
    """The markets in ``/health`` and in ``/symbols``."""
    _, health = http_json(server, "GET", "/health")
    _, symbols = http_json(server, "GET", "/symbols")
    # ``key`` names a market in routes and frames (``symbol`` is the venue's own name for it).
    return set(health["symbols"]), {s.get("key", s["symbol"]) for s in symbols["symbols"]}


def switcher(page: Any) -> list[str]:
    return page.eval_on_selector_all("#dl-symbol .dl-seg-btn",
                                     "els => els.map(e => e.dataset.value)")


def pressed(page: Any, market: str) -> bool:
    """Whether ``market``'s switcher button is the pressed one."""
    return page.get_attribute(f"#dl-symbol .dl-seg-btn[data-value='{market}']",
                              "aria-pressed") == "true"


def wait_message(page: Any, kind: str) -> str:
    """Until the control's inline message is of ``kind`` (ok, error); its text."""
    wait_js(page, "(k) => document.getElementById('dl-market-msg').dataset.kind === k", 10, kind)
    return str(page.text_content("#dl-market-msg"))


def chips(page: Any) -> list[str]:
    return page.eval_on_selector_all(".dl-int-chip", "els => els.map(e => e.dataset.symbol)")


def wait_listed(page: Any, market: str, listed: bool) -> None:
    """Until ``market`` is (or is no longer) both a switcher button and an integrity chip."""
    wait_js(page, """([m, on]) => {
        const b = !!document.querySelector(`#dl-symbol .dl-seg-btn[data-value="${m}"]`);
        const c = !!document.querySelector(`.dl-int-chip[data-symbol="${m}"]`);
        return b === on && c === on; }""", LIST_CHANGE_S, [market, listed])


def start_from_ui(page: Any, name: str) -> None:
    page.fill("#dl-market-input", name)
    page.click("#dl-market-start")


def test_start_view_and_stop_a_market_from_the_page(page: Any, server: ServerProcess,
                                                    console: list[str]) -> None:
    health, symbols = served(server)
    assert "SOLUSDT" not in health | symbols
    wait_js(page, "(n) => document.querySelectorAll('.dl-int-chip').length === n", 10,
            len(symbols))
    first = page.evaluate("depthlens.symbol")

    start_from_ui(page, "SOLUSDT")
    wait_listed(page, "SOLUSDT", True)
    assert "SOLUSDT" in wait_message(page, "ok")
    assert page.input_value("#dl-market-input") == ""
    health, symbols = served(server)
    assert "SOLUSDT" in health and "SOLUSDT" in symbols
    # Grouped by its asset, labelled by its venue; the switcher and the chips list what runs.
    sol = page.locator(".dl-mkt-group[data-asset='SOL'] .dl-seg-btn")
    assert sol.count() == 1 and sol.text_content() == "usdm"
    assert set(switcher(page)) == symbols and set(chips(page)) == symbols

    page.click("#dl-symbol .dl-seg-btn[data-value='SOLUSDT']")
    wait_js(page, "() => depthlens.chartSymbol === 'SOLUSDT' && depthlens.lastFrame"
            " && depthlens.lastFrame.symbol === 'SOLUSDT' && window.__dl.cells('dl-heatmap') > 0"
            " && window.__dl.cells('dl-depth') > 0", FIRST_DATA_S)
    count = page.evaluate("depthlens.framesBySymbol.SOLUSDT")
    wait_js(page, "(n) => depthlens.framesBySymbol.SOLUSDT >= n + 2", 10, count)
    assert pressed(page, "SOLUSDT")
    wait_js(page, "() => ['live', 'syncing', 'resyncing', 'stale'].includes("
            "document.querySelector('.dl-int-chip[data-symbol=\"SOLUSDT\"]').dataset.state)", 10)

    page.click("button[aria-label='Stop SOLUSDT']")
    wait_listed(page, "SOLUSDT", False)
    health, symbols = served(server)
    assert "SOLUSDT" not in health and "SOLUSDT" not in symbols
    assert set(switcher(page)) == symbols and set(chips(page)) == symbols
    # The page moved to the first running market and streams it.
    wait_js(page, "(s) => depthlens.symbol === s && depthlens.connection === 'open'", 10, first)
    count = page.evaluate("(s) => depthlens.framesBySymbol[s] || 0", first)
    wait_js(page, "([s, n]) => (depthlens.framesBySymbol[s] || 0) >= n + 2", 10, [first, count])
    assert pressed(page, first)
    assert page.evaluate("depthlens.lastFrame.symbol") == first
    assert console == []


@pytest.mark.parametrize("name", ["NOT A MARKET!", "kraken:BTCUSD", "ZZZUSDT"])
def test_a_refused_market_shows_the_servers_reason_inline(page: Any, server: ServerProcess,
                                                          name: str) -> None:
    status, reply = http_json(server, "POST", "/markets", {"market": name})
    assert status in {404, 409, 422}
    start_from_ui(page, name)
    assert reply["detail"] in wait_message(page, "error")
    assert page.input_value("#dl-market-input") == name  # kept, to be corrected
    assert page.locator(".dl-int-chip").count() == len(served(server)[1])


def test_markets_started_and_stopped_elsewhere_follow_on_the_page(
        page: Any, server: ServerProcess, console: list[str]) -> None:
    wait_js(page, "() => depthlens.framesReceived >= 1", FIRST_DATA_S)
    status, reply = http_json(server, "POST", "/markets", {"market": "binance-usdm:XRPUSDT"})
    assert status == 201 and reply["symbol"] == "XRPUSDT"
    try:
        # No action on this page: the frames' integrity names a market it does not show.
        wait_listed(page, "XRPUSDT", True)
        assert page.evaluate("depthlens.markets()").count("XRPUSDT") == 1
        page.click(".dl-int-chip[data-symbol='XRPUSDT'] .dl-int-symbol")  # a chip also switches
        wait_js(page, "() => depthlens.symbol === 'XRPUSDT' && depthlens.connection === 'open'"
                " && depthlens.lastFrame && depthlens.lastFrame.symbol === 'XRPUSDT'", FIRST_DATA_S)
    finally:
        status, _ = http_json(server, "DELETE", "/markets/XRPUSDT")
    assert status == 200
    # Its viewer's socket is closed (1001); the page drops it and shows the first market.
    wait_listed(page, "XRPUSDT", False)
    first = sorted(served(server)[1], key=switcher(page).index)[0]
    wait_js(page, "(s) => depthlens.symbol === s && depthlens.connection === 'open'"
            " && depthlens.lastFrame && depthlens.lastFrame.symbol === s", 15, first)
    assert console == []


def test_switcher_groups_by_asset_and_names_venues(page: Any) -> None:
    assets = page.evaluate("['BTCUSDT', 'BTC-USD', '1000PEPEUSDT', 'ETHBTC', 'BTCFDUSD']"
                           ".map(s => depthlens.baseAsset(s))")
    assert assets == ["BTC", "BTC", "1000PEPE", "ETH", "BTC"]
    # Grouping comes from the market keys: venues other than USDT-M join their asset's group.
    groups = page.evaluate("depthlens.groupMarkets(['BTCUSDT', 'ETHUSDT', 'binance-spot:BTCUSDT',"
                           " 'coinbase:BTC-USD', 'coinbase:ETH-USD'])")
    assert [(g["asset"], g["venues"]) for g in groups] == [
        ("BTC", ["usdm", "spot", "coinbase"]), ("ETH", ["usdm", "coinbase"])]
    # What is drawn is the running markets, grouped the same way, with each asset named once.
    shown = page.evaluate("depthlens.marketGroups()")
    running = page.evaluate("depthlens.markets()")
    assert sorted(k for g in shown for k in g["keys"]) == sorted(running)
    drawn = page.eval_on_selector_all(
        ".dl-mkt-group", "els => els.map(e => [e.dataset.asset, e.querySelector('.dl-mkt-asset')"
        ".textContent, Array.from(e.querySelectorAll('.dl-seg-btn')).map(b => b.dataset.value)])")
    assert [(a, keys) for a, _, keys in drawn] == [(g["asset"], g["keys"]) for g in shown]
    assert all(a == label for a, label, _ in drawn)
    assert len({a for a, _, _ in drawn}) == len(drawn)


def test_venues_of_one_asset_share_a_group_and_the_last_market_stays(
        browser: Any, console: list[str]) -> None:
    spot = "binance-spot:BTCUSDT"
    with ServerProcess(free_port(), ("--symbols", f"BTCUSDT,{spot}")) as two_venues:
        page = open_dashboard(browser, two_venues.url, console)
        try:
            wait_listed(page, spot, True)
            groups = page.evaluate("depthlens.marketGroups()")
            assert groups == [{"asset": "BTC", "venues": ["usdm", "spot"],
                               "keys": ["BTCUSDT", spot]}]
            assert page.eval_on_selector_all(
                ".dl-mkt-group[data-asset='BTC'] .dl-seg-btn", "els => els.map(e => e.textContent)"
            ) == ["usdm", "spot"]

            page.click(f"#dl-symbol .dl-seg-btn[data-value='{spot}']")
            wait_js(page, "(m) => depthlens.chartSymbol === m && depthlens.lastFrame"
                    " && depthlens.lastFrame.market === m && window.__dl.cells('dl-heatmap') > 0",
                    FIRST_DATA_S, spot)

            page.click("button[aria-label='Stop BTCUSDT']")  # not the one shown: no switch
            wait_listed(page, "BTCUSDT", False)
            assert served(two_venues) == ({spot}, {spot})
            assert page.evaluate("depthlens.symbol") == spot

            page.click(f"button[aria-label='Stop {spot}']")
            assert "last market" in wait_message(page, "error")
            assert served(two_venues) == ({spot}, {spot})
            assert chips(page) == [spot]
            count = page.evaluate("(m) => depthlens.framesBySymbol[m]", spot)
            wait_js(page, "([m, n]) => depthlens.framesBySymbol[m] >= n + 2", 10, [spot, count])
            assert console == []
        finally:
            page.context.close()


def test_layout_leaves_the_market_list_to_the_page() -> None:
    """No market is baked into the switcher or the chips: they come from ``GET /symbols``."""
    from dashboard.layout import build_layout

    layout = build_layout(["BTCUSDT", "ETHUSDT"])
    components = list(layout._traverse())
    ids = {getattr(c, "id", None) for c in components}
    assert {"dl-symbol", "dl-market-groups", "dl-int-chips", "dl-market-input",
            "dl-market-start", "dl-market-msg"} <= ids
    classes = " ".join(str(getattr(c, "className", "")) for c in components).split()
    assert "dl-int-chip" not in classes and "dl-mkt-group" not in classes
    config = json.loads(layout.to_plotly_json()["props"]["data-config"])
    assert config["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert (config["symbolsPath"], config["marketsPath"]) == ("/symbols", "/markets")
