"""Shared fixtures: paths to the real recordings (read in place, never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderbook.instrument import Instrument

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
