/* depthlens: Plotly traces and layouts for each chart, from the model's grids and columns.
 *
 * The trace templates and base layouts come from the Python figure builders (dashboard/figures.py)
 * through the page config; this file only fills in data arrays and a few per-frame layout bits.
 * Every layout carries a `uirevision` that changes only with symbol, band or grouping, so a user's
 * zoom, pan and 3D camera survive the per-second updates.
 */
(function () {
  "use strict";

  function clone(obj) {
    return JSON.parse(JSON.stringify(obj));
  }

  function priceFormat(decimals) {
    return ",." + Math.max(0, Math.min(8, decimals | 0)) + "f";
  }

  // Price tags on the right axis; the ask's sits just above its price and the bid's just below,
  // so both stay readable when the spread is one tick.
  function priceTag(price, color, decimals, above) {
    return {
      xref: "paper", x: 1, xanchor: "left", yref: "y", y: price, yanchor: above ? "bottom" : "top",
      text: price.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals }), showarrow: false, bgcolor: color, borderpad: 2,
      font: { color: "#06080b", size: 11, family: "JetBrains Mono, Menlo, Consolas, monospace" },
    };
  }

  /** Trades of the window as marker arrays; dot area grows with the second's volume. */
  function tradeDots(ring, firstSec, seconds, side) {
    const x = [], y = [], size = [], vol = [];
    let maxVol = 0;
    for (let c = 0; c < seconds; c++) {
      const col = ring.get(firstSec + c);
      if (!col) continue;
      const v = side === "buy" ? col.buyVol : col.sellVol;
      const p = side === "buy" ? col.buyVwap : col.sellVwap;
      if (!(v > 0) || p === null) continue;
      x.push((col.sec - 0.5) * 1000);
      y.push(p);
      vol.push(v);
      if (v > maxVol) maxVol = v;
    }
    return { x: x, y: y, vol: vol, maxVol: maxVol, size: size };
  }

  /** Heatmap figure data + layout. `view` = {ring, grid, zmax, meta, uirevision, latest}. */
  function heatmap(tpl, view) {
    const data = clone(tpl.data);
    const layout = clone(tpl.layout);
    const dec = view.meta.priceDecimals;
    const qdec = view.meta.qtyDecimals;
    layout.uirevision = view.uirevision;
    layout.yaxis.tickformat = priceFormat(dec);
    layout.yaxis.hoverformat = priceFormat(dec);
    const grid = view.grid;
    if (!grid) return { data: data, layout: layout };
    const ring = view.ring;
    const heat = data[0];
    heat.z = grid.z;
    heat.x0 = (grid.firstSec - 0.5) * 1000;
    heat.dx = 1000;
    heat.y0 = grid.y0;
    heat.dy = grid.dy;
    heat.zmax = view.zmax;
    heat.zauto = false;
    // Explicit ranges: marker padding would otherwise widen the axes past the data. They move
    // every frame, so uirevision alone would not keep a user's zoom: the app re-applies the
    // user's ranges over these (depthlens_30_app.js, keepUserZoom).
    layout.xaxis.range = [heat.x0, (grid.firstSec + grid.cols - 0.5) * 1000];
    layout.xaxis.autorange = false;
    layout.yaxis.range = [grid.y0 - grid.dy / 2, grid.y0 + (grid.rows - 0.5) * grid.dy];
    layout.yaxis.autorange = false;
    heat.hovertemplate = "%{x|%H:%M:%S}  %{y:" + priceFormat(dec) + "}<br>resting %{z:." + qdec +
      "f}<extra></extra>";

    const bx = [], bid = [], ask = [];
    for (let c = 0; c < grid.cols; c++) {
      const col = ring.get(grid.firstSec + c);
      bx.push((grid.firstSec + c - 0.5) * 1000);
      bid.push(col ? col.bestBid : null);
      ask.push(col ? col.bestAsk : null);
    }
    data[1].x = bx; data[1].y = bid;
    data[2].x = bx; data[2].y = ask;

    const buys = tradeDots(ring, grid.firstSec, grid.cols, "buy");
    const sells = tradeDots(ring, grid.firstSec, grid.cols, "sell");
    const maxVol = Math.max(buys.maxVol, sells.maxVol) || 1;
    [[3, buys], [4, sells]].forEach(function (pair) {
      const t = data[pair[0]], d = pair[1];
      t.x = d.x; t.y = d.y;
      t.marker.size = d.vol.map((v) => 3 + 15 * Math.sqrt(v / maxVol));
      t.customdata = d.vol.map((v) => v.toFixed(qdec));
    });

    const latest = view.latest;
    layout.annotations = [];
    if (latest && latest.best_bid !== null) layout.annotations.push(priceTag(latest.best_bid, "#22c77a", dec, false));
    if (latest && latest.best_ask !== null) layout.annotations.push(priceTag(latest.best_ask, "#f2495c", dec, true));
    return { data: data, layout: layout };
  }

  /** Depth curve from the newest heatmap column, plus the exact top-N levels as circles. */
  function depth(tpl, view) {
    const data = clone(tpl.data);
    const layout = clone(tpl.layout);
    const dec = view.meta.priceDecimals;
    layout.uirevision = view.uirevision;
    layout.xaxis.tickformat = priceFormat(dec);
    layout.xaxis.hoverformat = priceFormat(dec);
    const d = view.depth;
    data[0].x = d.bidX; data[0].y = d.bidY;
    data[1].x = d.askX; data[1].y = d.askY;
    const latest = view.latest;
    if (latest) {
      const bl = latest.bid_levels || [], al = latest.ask_levels || [];
      data[2].x = bl.map((l) => l[0]); data[2].y = latest.cum_bid || [];
      data[3].x = al.map((l) => l[0]); data[3].y = latest.cum_ask || [];
      if (latest.mid_price !== null) {
        layout.shapes = [{
          type: "line", xref: "x", yref: "paper", x0: latest.mid_price, x1: latest.mid_price,
          y0: 0, y1: 1, line: { color: "#8b98a9", width: 1, dash: "dot" },
        }];
      }
    }
    return { data: data, layout: layout };
  }

  /** 3D surface: seconds ago x price x resting size, on a downsampled grid. */
  function surface(tpl, view) {
    const data = clone(tpl.data);
    const layout = clone(tpl.layout);
    const dec = view.meta.priceDecimals;
    layout.uirevision = view.uirevision;
    layout.scene.yaxis.tickformat = priceFormat(dec);
    const s = view.surface;
    if (s) {
      data[0].x = s.x; data[0].y = s.y; data[0].z = s.z;
      data[0].cmax = view.zmax;
      data[0].hovertemplate = "%{x:.0f} s  %{y:" + priceFormat(dec) + "}<br>resting %{z:." +
        view.meta.qtyDecimals + "f}<extra></extra>";
    }
    return { data: data, layout: layout };
  }

  window.depthlensCharts = { heatmap: heatmap, depth: depth, surface: surface };
})();
