"""Build the Dash app and mount it on the API's FastAPI app, so one process serves one port.

The Dash app is a plain Flask app mounted at ``/`` through a2wsgi: the API's routes (``/health``,
``/ws/{symbol}``, ``/metrics``...) must be declared before :func:`mount` is called, because a mount
at ``/`` answers every path no earlier route claimed. The page registers no server-side callback:
charts are fed in the browser from ``/ws/{symbol}`` (see ``assets/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from a2wsgi import WSGIMiddleware
from dash import Dash
from fastapi import FastAPI

from dashboard.layout import build_layout

ASSETS_FOLDER = Path(__file__).resolve().parent / "assets"


def create_dash_app(symbols: Sequence[str], *, title: str = "depthlens") -> Dash:
    """A Dash (Flask) app showing ``symbols``; the first one is shown when the page opens."""
    names = [s.upper() for s in symbols]
    app = Dash(
        __name__,
        title=title,
        update_title="",  # keep the tab title steady
        assets_folder=str(ASSETS_FOLDER),
        serve_locally=True,
        compress=False,
    )
    app.layout = build_layout(names)
    return app


def mount(api: FastAPI, symbols: Sequence[str], *, title: str = "depthlens") -> Dash:
    """Serve the dashboard at ``/`` of ``api``. Call it after every API route is declared."""
    dash_app = create_dash_app(symbols, title=title)
    api.mount("/", WSGIMiddleware(dash_app.server), name="dashboard")  # type: ignore[arg-type]
    return dash_app


class _HasSymbols(Protocol):
    @property
    def symbols(self) -> Sequence[str]: ...


def mount_dashboard(api: FastAPI, config: _HasSymbols) -> Dash:
    """:func:`mount` with the configured symbols of a ``config.Config`` (or anything with ``.symbols``)."""
    return mount(api, config.symbols)
