"""What one frame costs the dashboard in headless Chromium (software WebGL).

Starts the real server (``main.py --source sim``) like the browser tests, or uses ``--url`` of a
running one, opens the page with the default 180 s window and price band, lets it warm up, then
for ``--seconds``:

* time to apply one frame to each chart: the page's own ``performance.now()`` samples around each
  ``Plotly.react`` call (``window.depthlens.perf``), median / p95 / max;
* main-thread busy time per second: Chrome's ``TaskDuration`` metric (every task on the renderer's
  main thread, over the DevTools protocol), long tasks (> 50 ms, PerformanceObserver), and the
  time requestAnimationFrame callbacks came late against a 60 Hz budget.

It ends with the verdict against issue 9's budget (long tasks <= 150 ms per second with every
panel live: KPI header, insight panel, heatmap with its liquidity events, depth curve, surface,
event tape), how many events the page held, and the load average, since the machine is shared.

``--view trader`` measures the second tab instead (its series figure and gauges; the book charts
pause while it is shown).

Usage: ``python benchmarks/dashboard_frame_cost.py [--seconds 30] [--fill] [--url URL]
[--view book|trader]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_support import (  # noqa: E402
    ServerProcess,
    free_port,
    launch_chromium,
    open_dashboard,
    wait_js,
)

# Installed before the page's own scripts: long tasks and requestAnimationFrame lateness.
PROBES = """
window.__bench = { longtaskMs: 0, longtasks: 0, rafLateMs: 0, rafFrames: 0, last: null };
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { window.__bench.longtaskMs += e.duration; window.__bench.longtasks++; }
  }).observe({ type: 'longtask', buffered: true });
} catch (e) { /* no longtask support */ }
(function loop(t) {
  const b = window.__bench;
  if (b.last !== null) { b.rafLateMs += Math.max(0, t - b.last - 1000 / 60); b.rafFrames++; }
  b.last = t;
  requestAnimationFrame(loop);
})(performance.now());
"""

# Issue 9's rendering budget: main-thread long tasks per second with every panel live.
LONGTASK_BUDGET_MS_PER_S = 150

CHARTS = ("heatmap", "depth", "surface", "kpi", "build", "render", "series", "gauges")
LABELS = {
    "heatmap": "heatmap (Plotly.react)",
    "depth": "depth curve (Plotly.react)",
    "surface": "3D surface (Plotly.react)",
    "kpi": "KPI header (DOM)",
    "build": "building figures (JS)",
    "render": "whole frame, all charts",
    "series": "trader series (Plotly.react)",
    "gauges": "trader gauges (Plotly.react)",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def task_duration(cdp: Any) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


def measure(browser: Any, url: str, warmup_s: float, seconds: float,
            fill: bool, view: str = "book") -> dict[str, Any]:
    page = open_dashboard(browser, url, init_scripts=(PROBES,))
    wait_js(page, "() => window.__dl.cells('dl-heatmap') > 0 && depthlens.renders.surface > 0", 90)
    if fill:  # a fresh server has little history; wait until the 180 s window is (nearly) full
        wait_js(page, "() => depthlens.historyColumns() >= 175", 240)
    if view == "trader":
        page.evaluate("depthlensTrader.setView('trader')")
        wait_js(page, "() => depthlensTrader.renders.series > 0", 30)
    time.sleep(warmup_s)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.evaluate("() => { for (const k in depthlens.perf) depthlens.perf[k].length = 0;"
                  " for (const k in depthlensTrader.perf) depthlensTrader.perf[k].length = 0;"
                  " Object.assign(window.__bench, {longtaskMs: 0, longtasks: 0, rafLateMs: 0, rafFrames: 0}); }")
    frames0 = page.evaluate("depthlens.framesReceived")
    load0 = os.getloadavg()[0]
    busy0, t0 = task_duration(cdp), time.monotonic()
    time.sleep(seconds)
    busy1, t1 = task_duration(cdp), time.monotonic()
    result = page.evaluate("() => ({perf: Object.assign({}, depthlens.perf, depthlensTrader.perf),"
                           " bench: window.__bench,"
                           " frames: depthlens.framesReceived, span: window.__dl.heatmapSpan(),"
                           " columns: depthlens.historyColumns(), events: window.depthlensEvents ?"
                           " depthlensEvents.store().size : 0, tapeRows: document"
                           ".querySelectorAll('#dl-event-tape-body tr').length})")
    page.context.close()
    wall = t1 - t0
    result["wall_s"] = wall
    result["frames"] -= frames0
    result["busy_ms_per_s"] = (busy1 - busy0) * 1000 / wall
    result["load"] = (load0, os.getloadavg()[0])
    return result


def report(result: dict[str, Any]) -> str:
    wall = result["wall_s"]
    span = result["span"] or {}
    lines = [
        (f"dashboard frame cost: {result['frames']} frames in {wall:.1f} s, heatmap "
        f"{span.get('rows', '?')} price rows x 180 s (default band, {result['columns']} of 180 "
        "seconds filled), headless Chromium, software WebGL"),
        "",
        f"{'chart':<28}{'samples':>8}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}",
    ]
    for key in CHARTS:
        samples = result["perf"].get(key) or []
        if not samples:
            lines.append(f"{LABELS[key]:<28}{0:>8}{'-':>11}{'-':>9}{'-':>9}")
            continue
        lines.append(f"{LABELS[key]:<28}{len(samples):>8}{statistics.median(samples):>11.1f}"
                     f"{percentile(samples, 0.95):>9.1f}{max(samples):>9.1f}")
    bench = result["bench"]
    lines += [
        "",
        f"{'main thread, per second':<40}{'ms':>8}",
        f"{'busy (Chrome TaskDuration)':<40}{result['busy_ms_per_s']:>8.0f}",
        (f"{'long tasks > 50 ms (' + str(bench['longtasks']) + ' tasks)':<40}"
        f"{bench['longtaskMs'] / wall:>8.0f}"),
        f"{'rAF lateness vs 60 Hz':<40}{bench['rafLateMs'] / wall:>8.0f}",
        "",
        (f"long-task budget {LONGTASK_BUDGET_MS_PER_S} ms/s: "
         f"{'within' if bench['longtaskMs'] / wall <= LONGTASK_BUDGET_MS_PER_S else 'OVER'}"),
        (f"liquidity events held by the page: {result['events']} ({result['tapeRows']} rows in "
         "the tape)"),
        # Everything above shares two cores with whatever else runs: say how busy they were.
        f"load average (1 min) at start / end: {result['load'][0]:.2f} / {result['load'][1]:.2f}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement length")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before measuring")
    parser.add_argument("--url", help="a running depthlens (default: start main.py --source sim)")
    parser.add_argument("--view", choices=("book", "trader"), default="book",
                        help="the tab shown while measuring")
    parser.add_argument("--fill", action="store_true",
                        help="first wait until the page holds a full 180 s of history (~3 min "
                        "on a fresh server)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = None if args.url else ServerProcess(free_port())
    try:
        if server is not None:
            server.start()
        url = args.url or server.url  # type: ignore[union-attr]
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                result = measure(browser, url, args.warmup, args.seconds, args.fill, args.view)
            finally:
                browser.close()
    finally:
        if server is not None:
            server.stop()
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
