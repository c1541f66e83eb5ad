"""The dashboard in a real browser against the real server (``main.py --source sim``).

Every wait is bounded and waits for a condition; nothing sleeps and then asserts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import (
    ARTIFACTS,
    ServerProcess,
    free_port,
    open_dashboard,
    wait_js,
)

# No skip when Chromium is missing: `make test` installs it, so its absence is a broken setup
# and must fail loudly rather than let the suite pass without its browser half.
pytestmark = [pytest.mark.browser]

# The sim needs a moment to sync its books; the heatmap needs a live book (its step is set then).
FIRST_DATA_S = 45


@pytest.fixture
def page(browser: Any, server: ServerProcess, console: list[str]) -> Iterator[Any]:
    page = open_dashboard(browser, server.url, console)
    yield page
    page.context.close()


def wait_for_charts(page: Any) -> None:
    """Until the heatmap, depth curve and surface all show data."""
    wait_js(page, "() => window.__dl.cells('dl-heatmap') > 0 && window.__dl.cells('dl-depth') > 0"
            " && window.__dl.cells('dl-surface') > 0", FIRST_DATA_S)


def configured_symbols(page: Any) -> list[str]:
    return page.evaluate("JSON.parse(document.getElementById('dl-root').dataset.config).symbols")


def test_page_loads_without_console_errors(page: Any, console: list[str]) -> None:
    wait_for_charts(page)
    renders = page.evaluate("depthlens.renders.heatmap")
    wait_js(page, "(n) => depthlens.renders.heatmap >= n + 3", 10, renders)
    assert console == []


def test_at_least_8_frames_in_10_seconds(page: Any) -> None:
    wait_js(page, "() => depthlens.framesReceived > 0", FIRST_DATA_S)
    start = page.evaluate("depthlens.framesReceived")
    wait_js(page, "(n) => depthlens.framesReceived >= n + 8", 10, start)
    assert page.evaluate("depthlens.connection") == "open"
    assert page.evaluate("depthlens.snapshotsReceived") == 1


@pytest.mark.parametrize("chart,timeout_s", [
    ("dl-heatmap", 6), ("dl-depth", 6), ("dl-surface", 15),
])
def test_each_chart_has_data_and_changes(page: Any, chart: str, timeout_s: float) -> None:
    wait_for_charts(page)
    before = page.evaluate("(id) => window.__dl.fingerprint(id)", chart)
    wait_js(page, "([id, fp]) => window.__dl.fingerprint(id) !== fp", timeout_s, [chart, before])


def test_heatmap_shows_the_books_price_range_with_bid_ask_and_trades(page: Any) -> None:
    wait_for_charts(page)
    span = page.evaluate("window.__dl.heatmapSpan()")
    frame = page.evaluate("depthlens.lastFrame")
    assert span["lo"] < frame["mid_price"] < span["hi"]
    traces = page.evaluate("window.__dl.gd('dl-heatmap').data.map(t => [t.type, t.name, "
                           "(t.y || []).filter(v => v !== null).length])")
    # The grid is a pre-coloured layout image; every trace over it is SVG.
    assert {t[0] for t in traces} == {"scatter"}
    assert [t[1] for t in traces[:4]] == ["best bid", "best ask", "buys", "sells"]
    assert traces[0][2] > 0 and traces[1][2] > 0  # best bid and best ask lines
    image, now = page.evaluate("[window.__dl.gd('dl-heatmap').layout.images[0], window.__dl.heatmapSpan()]")
    assert image["source"].startswith("data:image/png;base64,") and len(image["source"]) > 1000
    assert image["y"] == pytest.approx(now["hi"]) and image["sizey"] == pytest.approx(now["hi"] - now["lo"])
    # The sim trades: within a few seconds at least one side has dots.
    wait_js(page, "() => { const d = window.__dl.gd('dl-heatmap').data;"
            " return d[2].x.length + d[3].x.length > 0; }", 20)


def test_kpis_and_integrity_bar_are_filled(page: Any) -> None:
    wait_for_charts(page)
    titles = page.eval_on_selector_all(".dl-kpi", "els => els.map(e => e.title)")
    assert len(titles) >= 6 and all(len(t) > 20 for t in titles)
    wait_js(page, "() => { const f = depthlens.lastFrame; const t = document.getElementById("
            "'dl-kpi-mid').textContent.replace(/,/g, '');"
            " return f && f.mid_price !== null && Math.abs(parseFloat(t) - f.mid_price) < 1e-6 * f.mid_price; }", 5)
    symbols = configured_symbols(page)
    states = page.eval_on_selector_all(
        ".dl-int-chip", "els => els.map(e => [e.dataset.symbol, e.dataset.state, e.textContent])")
    assert [s[0] for s in states] == symbols
    for _, state, text in states:
        assert state in {"live", "syncing", "resyncing", "stale"}
        assert "gaps" in text and "resyncs" in text


def drag(page: Any, selector: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A real mouse drag across an element, in fractions of its box."""
    box = page.locator(selector).first.bounding_box()
    x0, y0 = box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1]
    x1, y1 = box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * i / 10, y0 + (y1 - y0) * i / 10)
    page.mouse.up()


def test_zoom_and_3d_camera_survive_updates(page: Any) -> None:
    wait_for_charts(page)
    ranges = """() => { const l = window.__dl.gd('dl-heatmap')._fullLayout;
                        return [l.xaxis.range.slice(), l.yaxis.range.slice()]; }"""
    before = page.evaluate(ranges)
    drag(page, "#dl-heatmap .nsewdrag", (0.55, 0.35), (0.9, 0.65))  # a user's box zoom
    zoomed = page.evaluate(ranges)
    assert zoomed[1] != pytest.approx(before[1])  # the zoom happened
    renders = page.evaluate("depthlens.renders.heatmap")
    wait_js(page, "(n) => depthlens.renders.heatmap >= n + 3", 10, renders)
    assert page.evaluate(ranges)[1] == pytest.approx(zoomed[1])  # and outlived 3 frames
    assert page.evaluate(ranges)[0] == zoomed[0]

    # Headless software GL does not turn a mouse drag into a rotation, so the rotation's own
    # event is sent: the camera plotly reports when a user lets go of the scene.
    eye = "() => window.__dl.gd('dl-surface')._fullLayout.scene.camera.eye"
    turned = {"x": 2.1, "y": -0.4, "z": 0.9}
    page.evaluate("""(eye) => Plotly.relayout(window.__dl.gd('dl-surface'), {'scene.camera':
        {eye: eye, center: {x: 0, y: 0, z: -0.1}, up: {x: 0, y: 0, z: 1}}})""", turned)
    surfaces = page.evaluate("depthlens.renders.surface")
    wait_js(page, "(n) => depthlens.renders.surface >= n + 2", 20, surfaces)
    assert page.evaluate(eye) == pytest.approx(turned)


def test_switching_symbol_switches_the_data(page: Any) -> None:
    symbols = configured_symbols(page)
    assert len(symbols) >= 2, "the sim should serve at least two symbols"
    first, second = symbols[0], symbols[1]
    wait_for_charts(page)
    mid_first = page.evaluate("depthlens.lastFrame.mid_price")
    page.click(f"#dl-symbol button[data-value='{second}']")
    wait_js(page, "(s) => depthlens.chartSymbol === s && depthlens.lastFrame"
            " && depthlens.lastFrame.symbol === s && window.__dl.cells('dl-heatmap') > 0", FIRST_DATA_S,
            second)
    frame = page.evaluate("depthlens.lastFrame")
    span = page.evaluate("window.__dl.heatmapSpan()")
    assert span["lo"] < frame["mid_price"] < span["hi"]
    assert not span["lo"] < mid_first < span["hi"], "heatmap still shows the first symbol's prices"
    assert page.get_attribute(f"#dl-symbol button[data-value='{second}']", "aria-pressed") == "true"
    assert "is-current" in page.get_attribute(f".dl-int-chip[data-symbol='{second}']", "class")
    frames_before = page.evaluate("(s) => depthlens.framesBySymbol[s] || 0", first)
    # Frames keep coming for the new symbol only.
    count = page.evaluate("(s) => depthlens.framesBySymbol[s] || 0", second)
    wait_js(page, "([s, n]) => (depthlens.framesBySymbol[s] || 0) >= n + 2", 6, [second, count])
    assert page.evaluate("(s) => depthlens.framesBySymbol[s] || 0", first) == frames_before


def test_grouping_and_band_reshape_the_heatmap(page: Any) -> None:
    wait_for_charts(page)
    base = page.evaluate("window.__dl.heatmapSpan()")
    page.click("#dl-group button[data-value='5']")
    wait_js(page, "(dy) => { const s = window.__dl.heatmapSpan(); return s && Math.abs(s.dy - 5 * dy) < 1e-9 * dy; }",
            5, base["dy"])
    grouped = page.evaluate("window.__dl.heatmapSpan()")
    assert grouped["rows"] <= base["rows"] // 5 + 2
    page.click("#dl-band button[data-value='2']")
    mid = page.evaluate("depthlens.lastFrame.mid_price")
    wait_js(page, "() => depthlens.band === 2", 5)
    wait_js(page, "(w) => { const s = window.__dl.heatmapSpan(); return s && s.hi - s.lo <= w; }",
            5, mid * 4e-4 + 2 * grouped["dy"])
    # The depth curve is cropped to the same band.
    wait_js(page, "(w) => { const d = window.__dl.gd('dl-depth').data;"
            " const xs = d[0].x.concat(d[1].x); return xs.length > 0 &&"
            " Math.max(...xs) - Math.min(...xs) <= w; }", 5, mid * 4e-4 * 1.1)


def test_client_model_places_columns_by_grid_offset(page: Any) -> None:
    """Columns with different `lo` land on the shared grid; grouping sums cells."""
    result = page.evaluate("""() => {
      const G = window.depthlensGrid;
      const ring = new G.ColumnRing(4);
      const col = (ts, lo, sizes) => G.columnFromFrame(
        {ts, best_bid: null, best_ask: null, mid_price: null, trades: {},
         heatmap: {lo, step: 0.5, sizes}}, 0.5);
      ring.put(col(100, 10.0, [1, 2, 3, 4]));
      ring.put(col(101, 11.0, [5, 6, 7, 8]));     // two rows higher
      ring.put(col(103, 10.5, [9, 9, 9, 9]));     // one second missing
      const g1 = G.buildGrid(ring, {step: 0.5, group: 1, bandBps: null, seconds: 4});
      const g2 = G.buildGrid(ring, {step: 0.5, group: 2, bandBps: null, seconds: 4});
      const rows = (g) => g.z.map(r => Array.from(r).map(v => v === v ? v : null));
      return {g1: rows(g1), y0: g1.y0, first: g1.firstSec, g2: rows(g2), y02: g2.y0};
    }""")
    # Newest column spans rows k=21..24 (10.5/0.5 = 21); columns are seconds 100..103.
    assert result["first"] == 100
    assert result["y0"] == pytest.approx(10.75)
    assert result["g1"] == [
        [2, None, None, 9],
        [3, 5, None, 9],
        [4, 6, None, 9],
        [None, 7, None, 9],
    ]
    # Grouped by 2: rows k//2 = 10..12 -> pairs (20,21), (22,23), (24,25).
    assert result["y02"] == pytest.approx(10.5)
    assert result["g2"] == [
        [3, None, None, 9],
        [7, 11, None, 18],
        [None, 15, None, 9],
    ]


# Rewrites the server's frames in the page as if the shown symbol were resyncing, while
# window.__forceStale is set: the sim's books stay live, so this is how a test sees "stale".
FORCE_STALE = """
(() => {
  const Real = window.WebSocket;
  window.WebSocket = class extends Real {
    set onmessage(fn) {
      super.onmessage = (ev) => {
        if (!window.__forceStale) return fn(ev);
        const m = JSON.parse(ev.data);
        if (m.type === 'frame') {
          m.status = 'resyncing'; m.stale = true;
          if (m.integrity && m.integrity[m.symbol]) m.integrity[m.symbol].status = 'resyncing';
        }
        return fn({ data: JSON.stringify(m) });
      };
    }
  };
})();
"""


def test_stale_frames_are_flagged_on_the_charts(browser: Any, server: ServerProcess) -> None:
    page = open_dashboard(browser, server.url, init_scripts=(FORCE_STALE,))
    try:
        wait_js(page, "() => depthlens.framesReceived >= 1", FIRST_DATA_S)
        symbol = page.evaluate("depthlens.symbol")
        assert page.get_attribute("#dl-banner", "data-state") == "hidden"
        page.evaluate("window.__forceStale = true")
        wait_js(page, "() => document.getElementById('dl-banner').dataset.state === 'stale'", 5)
        assert f"{symbol} is resyncing" in page.text_content("#dl-banner")
        assert "is-stale" in page.get_attribute("#dl-root", "class")
        assert page.get_attribute(f".dl-int-chip[data-symbol='{symbol}']", "data-state") == "resyncing"
        page.evaluate("window.__forceStale = false")
        wait_js(page, "() => document.getElementById('dl-banner').dataset.state === 'hidden'", 5)
        assert "is-stale" not in page.get_attribute("#dl-root", "class")
    finally:
        page.context.close()


def test_reconnects_after_server_restart(browser: Any) -> None:
    port = free_port()
    proc = ServerProcess(port)
    proc.start()
    try:
        page = open_dashboard(browser, proc.url)
        wait_js(page, "() => depthlens.framesReceived >= 2", FIRST_DATA_S)
        proc.stop()
        wait_js(page, "() => document.getElementById('dl-conn').dataset.state === 'reconnecting'", 15)
        assert "reconnecting" in page.text_content("#dl-conn").lower()
        # The banner is rendered on its own pass after the connection state changes (seen
        # empty for a moment on a loaded machine): wait for it rather than read it at once.
        wait_js(page, "() => document.getElementById('dl-banner').textContent"
                      ".toLowerCase().includes('reconnecting')", 5)
        assert "is-stale" in page.get_attribute("#dl-root", "class")
        chips = page.eval_on_selector_all(".dl-int-chip", "els => els.map(e => e.dataset.state)")
        assert set(chips) == {"disconnected"}
        frames = page.evaluate("depthlens.framesReceived")
        proc.start()
        wait_js(page, "(n) => depthlens.connection === 'open' && depthlens.framesReceived >= n + 2",
                FIRST_DATA_S, frames)
        assert page.evaluate("depthlens.reconnects") >= 1
        wait_js(page, "() => document.getElementById('dl-banner').dataset.state !== 'disconnected'", 5)
        assert page.text_content("#dl-conn-text") == "live stream"
        page.context.close()
    finally:
        proc.stop()


def test_screenshot_artifact(page: Any) -> None:
    wait_for_charts(page)
    wait_js(page, "() => depthlens.renders.surface >= 1 && depthlens.renders.heatmap >= 3", 15)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "dashboard.png"
    page.screenshot(path=str(path))
    heatmap_png = page.locator("#dl-heatmap").screenshot()
    (ARTIFACTS / "dashboard-heatmap.png").write_bytes(heatmap_png)
    # A blank dark panel compresses to a few kB; a drawn heatmap cannot.
    assert len(heatmap_png) > 30_000
    assert path.stat().st_size > 60_000


def test_window_downloads_follow_the_shown_market(page: Any) -> None:
    """The heatmap panel's CSV and Parquet links download the rolling window of the market on
    screen, as one row per second."""
    import io

    import pyarrow.parquet as pq

    from config import Config

    symbols = configured_symbols(page)
    wait_for_charts(page)
    second = symbols[1]
    page.click(f"#dl-symbol button[data-value='{second}']")
    wait_js(page, "(s) => depthlens.lastFrame && depthlens.lastFrame.symbol === s", FIRST_DATA_S,
            second)
    with page.expect_download() as csv_download:
        page.click("#dl-download-csv")
    text = open(csv_download.value.path(), encoding="utf-8").read().splitlines()
    assert text[0].startswith('"market","time","ts","mid_price"')
    rows = [line for line in text[1:] if line]
    assert len(rows) >= 2 and all(row.startswith(f'"{second}",') for row in rows)
    assert csv_download.value.suggested_filename.endswith(".csv")
    with page.expect_download() as pq_download:
        page.click("#dl-download-parquet")
    table = pq.read_table(io.BytesIO(open(pq_download.value.path(), "rb").read()))
    assert set(table.column("market").to_pylist()) == {second}
    cells = [c for c in table.column("heatmap").to_pylist() if c is not None]
    assert cells and {len(c) for c in cells} == {Config().heatmap_rows}  # the server's default
