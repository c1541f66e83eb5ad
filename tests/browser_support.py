"""Helpers for the real-browser tests and the dashboard benchmark.

Starts the real server (``python main.py --source sim --port P``) as a subprocess, waits for
``GET /health`` to answer, and launches Debian's Chromium through Playwright (``playwright
install`` cannot work offline, so the system browser is the browser).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Self

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-unsafe-swiftshader",
]
VIEWPORT = {"width": 1600, "height": 1000}


def chromium_path() -> Path | None:
    """Debian's Chromium, wherever it is installed; None without one."""
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``main.py --source sim`` on a fixed port; restartable on the same port."""

    def __init__(self, port: int, extra_args: tuple[str, ...] = ()) -> None:
        self.port = port
        self.extra_args = extra_args
        self.url = f"http://127.0.0.1:{port}/"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.log_path = ARTIFACTS / f"server-{port}.log"

    def command(self) -> list[str]:
        # Two markets unless a test asks for others: the default three-venue set costs the
        # server more CPU than most browser checks need on a 2-core machine.
        markets = () if "--symbols" in self.extra_args else ("--symbols", "BTCUSDT,ETHUSDT")
        return [sys.executable, "main.py", "--source", "sim", "--port", str(self.port),
                *markets, *self.extra_args]

    def start(self, timeout: float = 60.0) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.command(), cwd=ROOT, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; "
                                   f"log: {self.log_path}\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "health", timeout=2) as response:
                    if response.status < 500:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"GET /health did not answer within {timeout} s\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from the system package."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium found; run scripts/ensure_chromium.sh")
    return playwright.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS,
                                      headless=True)


# In-page helpers: a cheap fingerprint of each chart's current data, to tell "has data" and
# "changed since" apart without shipping whole arrays back to Python.
PAGE_HELPERS = """
window.__dl = {
  gd(id) { const el = document.getElementById(id); return el && el.querySelector('.js-plotly-plot'); },
  cells(id) {
    const g = this.gd(id); if (!g || !g.data) return 0;
    // The heatmap's grid is a layout image; its figure says how many cells it filled.
    let n = (g.layout && g.layout.meta && g.layout.meta.cells) || 0;
    for (const t of g.data) {
      if (t.z) for (const row of t.z) for (const v of row) if (v !== null && v === v) n++;
      if (!t.z && t.y) n += t.y.filter(v => v !== null).length;
    }
    return n;
  },
  fingerprint(id) {
    const g = this.gd(id); if (!g || !g.data) return '';
    let s = 0, n = 0;
    for (const t of g.data) {
      for (const k of ['x', 'y', 'z']) {
        const arr = t[k]; if (!arr) continue;
        for (const a of arr) {
          if (a && typeof a === 'object') { for (const v of a) if (v === v && v !== null) { s += v; n++; } }
          else if (typeof a === 'number' && a === a) { s += a; n++; }
        }
      }
      if (typeof t.x0 === 'number') s += t.x0;
      if (typeof t.y0 === 'number') s += t.y0;
    }
    const m = g.layout && g.layout.meta;
    if (m && typeof m.x0 === 'number') { s += m.x0 + m.y0 + m.cells; n += m.cells; }
    return n + ':' + s.toPrecision(15);
  },
  heatmapSpan() {
    const m = this.gd('dl-heatmap').layout.meta;
    if (!m || !m.rows) return null;
    return { lo: m.y0 - m.dy / 2, hi: m.y0 + (m.rows - 0.5) * m.dy, dy: m.dy, rows: m.rows };
  },
};
"""


def wait_js(page: Any, expression: str, timeout_s: float, arg: Any = None) -> Any:
    """Wait until ``expression`` (a JS function of ``arg``) is truthy; return its value."""
    handle = page.wait_for_function(expression, arg=arg, timeout=timeout_s * 1000, polling=100)
    return handle.json_value()


def open_dashboard(browser: Any, url: str, console: list[str] | None = None,
                   init_scripts: tuple[str, ...] = ()) -> Any:
    """A fresh page on the dashboard, with helpers installed and console errors collected."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    for script in (PAGE_HELPERS, *init_scripts):
        page.add_init_script(script)
    if console is not None:
        page.on("console", lambda m: console.append(f"console: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.goto(url, wait_until="load")
    wait_js(page, "() => window.depthlens && window.depthlens.ready", 30)
    return page


def http_json(server: ServerProcess, method: str, path: str,
              body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """The app's own answer to a request, JSON-decoded (errors included)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path.lstrip("/"), data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
