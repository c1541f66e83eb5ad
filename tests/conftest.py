"""Shared fixtures: paths to the real recordings (read in place, never copied)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orderbook.instrument import Instrument
from tests.browser_support import ServerProcess, free_port, launch_chromium

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
USDM = DATA / "binance_usdm"


@pytest.fixture(scope="session")
def usdm_dir() -> Path:
    if not USDM.is_dir():
        pytest.fail(f"real recordings not found at {USDM} (shared/ must sit beside the repo)")
    return USDM


def futures_instruments() -> dict[str, Instrument]:
    """Binance's published BTCUSDT / ETHUSDT precision (exchangeInfo, 2024-2026)."""
    return {
        "BTCUSDT": Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3),
        "ETHUSDT": Instrument.from_steps("ETHUSDT", "0.01", "0.001", 2, 3),
    }


# ---- the browser tests' shared fixtures (each module gets its own server and browser) --------

@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """The real server, ``main.py --source sim`` on a free port, for one test module."""
    with ServerProcess(free_port()) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright, for one test module."""
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def console() -> list[str]:
    """Console errors and page errors a test's page collects (see ``open_dashboard``)."""
    return []
