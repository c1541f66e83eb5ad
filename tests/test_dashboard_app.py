"""The dashboard's Python side without a browser: figures, layout, and mounting on FastAPI."""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go
import pytest
from dash import dcc
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dashboard import create_dash_app, figures, mount, mount_dashboard
from dashboard.layout import KPIS, build_layout, page_config

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def walk(component: Any) -> list[Any]:
    """Every component in a Dash layout tree."""
    out = [component]
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            out.extend(walk(child))
    elif children is not None and hasattr(children, "to_plotly_json"):
        out.extend(walk(children))
    return out


@pytest.mark.parametrize("builder", [figures.heatmap_figure, figures.depth_figure,
                                     figures.surface_figure])
def test_figures_are_valid_plotly(builder: Any) -> None:
    go.Figure(builder())  # plotly validates every property name and value


def test_charts_use_cheap_traces_and_a_pre_coloured_heatmap() -> None:
    heat = figures.heatmap_figure()
    # The grid is a layout image the browser paints (no heatmap trace to rasterise per frame);
    # the overlays and the depth curve are SVG: cheaper than WebGL under software rendering.
    assert {t["type"] for t in heat["data"]} == {"scatter"}
    assert heat["layout"]["images"][0]["sizing"] == "stretch"
    assert {t["type"] for t in figures.depth_figure()["data"]} == {"scatter"}
    assert figures.surface_figure()["data"][0]["type"] == "surface"


def test_layout_embeds_config_and_has_no_polling() -> None:
    layout = build_layout(SYMBOLS)
    config = json.loads(layout.to_plotly_json()["props"]["data-config"])
    assert config["symbols"] == SYMBOLS
    assert set(config["figures"]) == {"heatmap", "depth", "surface"}
    assert config == json.loads(json.dumps(page_config(SYMBOLS)))
    components = walk(layout)
    assert not [c for c in components if isinstance(c, dcc.Interval)]
    ids = {getattr(c, "id", None) for c in components}
    assert {"dl-heatmap", "dl-depth", "dl-surface", "dl-banner", "dl-conn", "dl-integrity"} <= ids
    assert {f"dl-kpi-{k.key}" for k in KPIS} <= ids


def test_layout_needs_a_symbol() -> None:
    with pytest.raises(ValueError):
        build_layout([])


def test_no_server_side_callbacks() -> None:
    app = create_dash_app(SYMBOLS)
    assert app.callback_map == {}


def test_mount_serves_page_and_assets_beside_api_routes() -> None:
    api = FastAPI()

    @api.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    mount(api, ["btcusdt", "ETHUSDT"])
    client = TestClient(api)
    assert client.get("/health").json() == {"status": "ok"}
    index = client.get("/")
    assert index.status_code == 200
    for asset in ("depthlens.css", "depthlens_10_grid.js", "depthlens_20_charts.js",
                  "depthlens_30_app.js"):
        assert f"/assets/{asset}" in index.text
        assert client.get(f"/assets/{asset}").status_code == 200
    layout = client.get("/_dash-layout").json()
    assert json.loads(layout["props"]["data-config"])["symbols"] == ["BTCUSDT", "ETHUSDT"]


def test_mount_dashboard_takes_the_config() -> None:
    class Config:
        symbols = ("SOLUSDT",)

    api = FastAPI()
    mount_dashboard(api, Config())
    layout = TestClient(api).get("/_dash-layout").json()
    assert json.loads(layout["props"]["data-config"])["symbols"] == ["SOLUSDT"]
