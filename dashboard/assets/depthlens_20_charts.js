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

  /* ---------------- the grid as pre-coloured pixels ---------------- */

  // The grid is painted here into a PNG (through a 256-entry colour lookup table) and shown as a
  // layout image, which Plotly only positions: no per-cell work inside Plotly.react. (A heatmap
  // trace rasterises every frame; an image trace does too on a date axis, see figures.py.)
  const painter = { canvas: null, ctx: null, lut: null, lutKey: null, grid: null, zmax: 1 };

  let cachedScale = null;
  function pageColorscale() {
    if (!cachedScale) {
      const root = document.getElementById("dl-root");
      const cfg = root ? JSON.parse(root.getAttribute("data-config")) : {};
      cachedScale = cfg.colorscale || [[0, "#0b0e13"], [1, "#fff6d8"]];
    }
    return cachedScale;
  }

  function hexRgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  /** RGBA lookup table: entry i is the colourscale at i / 255, linear between the stops. */
  function colorLut(scale) {
    const lut = new Uint8ClampedArray(256 * 4);
    const stops = scale.map((s) => [s[0], hexRgb(s[1])]);
    for (let i = 0, k = 0; i < 256; i++) {
      const t = i / 255;
      while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
      const a = stops[k], b = stops[k + 1];
      const f = b[0] > a[0] ? Math.min(1, Math.max(0, (t - a[0]) / (b[0] - a[0]))) : 0;
      for (let c = 0; c < 3; c++) lut[i * 4 + c] = Math.round(a[1][c] + f * (b[1][c] - a[1][c]));
      lut[i * 4 + 3] = 255;
    }
    return lut;
  }

  /** PNG data URI of the grid: the top pixel row is the highest price row. Cells without data
   * stay transparent. */
  function paintGrid(grid, zmax, scale) {
    scale = scale || pageColorscale();
    const key = JSON.stringify(scale);
    if (painter.lutKey !== key) { painter.lut = colorLut(scale); painter.lutKey = key; }
    if (!painter.canvas) {
      painter.canvas = document.createElement("canvas");
      painter.ctx = painter.canvas.getContext("2d");
    }
    const cv = painter.canvas, lut = painter.lut;
    if (cv.width !== grid.cols || cv.height !== grid.rows) { cv.width = grid.cols; cv.height = grid.rows; }
    const img = painter.ctx.createImageData(grid.cols, grid.rows);
    const px = img.data;
    const k = 255 / (zmax > 0 ? zmax : 1);
    for (let r = grid.rows - 1, o = 0; r >= 0; r--) {
      const row = grid.z[r];
      for (let c = 0; c < grid.cols; c++, o += 4) {
        const v = row[c];
        if (v !== v) continue; // NaN: no book that second, leave transparent
        const i = (v >= zmax ? 255 : v <= 0 ? 0 : (v * k) | 0) * 4;
        px[o] = lut[i]; px[o + 1] = lut[i + 1]; px[o + 2] = lut[i + 2]; px[o + 3] = 255;
      }
    }
    painter.ctx.putImageData(img, 0, 0);
    painter.grid = grid; painter.zmax = zmax;
    return cv.toDataURL("image/png");
  }

  /** The grid cell under a heatmap point (x in ms, y a price): {sec, price, size} or null. */
  function cellAt(x, y) {
    const g = painter.grid;
    if (!g) return null;
    const c = Math.round(x / 1000 + 0.5) - g.firstSec;
    const r = Math.round((y - g.y0) / g.dy);
    if (c < 0 || c >= g.cols || r < 0 || r >= g.rows) return null;
    const v = g.z[r][c];
    return { sec: g.firstSec + c, price: g.y0 + r * g.dy, size: v === v ? v : null };
  }

  function finiteCells(grid) {
    let n = 0;
    for (let r = 0; r < grid.rows; r++) { const row = grid.z[r]; for (let c = 0; c < grid.cols; c++) if (row[c] === row[c]) n++; }
    return n;
  }

  /** Heatmap figure data + layout. `view` = {ring, grid, zmax, meta, uirevision, latest}.
   * Liquidity events are drawn over it by depthlens_40_events.js. */
  function heatmap(tpl, view) {
    const data = clone(tpl.data);
    const layout = clone(tpl.layout);
    const dec = view.meta.priceDecimals;
    const qdec = view.meta.qtyDecimals;
    layout.uirevision = view.uirevision;
    layout.yaxis.tickformat = priceFormat(dec);
    layout.yaxis.hoverformat = priceFormat(dec);
    const grid = view.grid;
    if (!grid) { painter.grid = null; return { data: data, layout: layout }; }
    const ring = view.ring;
    const top = grid.y0 + (grid.rows - 0.5) * grid.dy;
    // Column c covers second firstSec + c, centred at (firstSec + c - 0.5) s (as the trades).
    const x0 = (grid.firstSec - 1) * 1000, x1 = (grid.firstSec + grid.cols - 1) * 1000;
    Object.assign(layout.images[0], {
      source: paintGrid(grid, view.zmax), x: x0, y: top, sizex: x1 - x0, sizey: grid.rows * grid.dy,
    });
    // For readers of the figure (tests, benchmarks): the grid's shape and how many cells it fills.
    layout.meta = { rows: grid.rows, cols: grid.cols, cells: finiteCells(grid), zmax: view.zmax,
      y0: grid.y0, dy: grid.dy, x0: x0 };
    // Explicit ranges: marker padding would otherwise widen the axes past the data. They move
    // every frame, so uirevision alone would not keep a user's zoom: the app re-applies the
    // user's ranges over these (depthlens_30_app.js, keepUserZoom).
    layout.xaxis.range = [x0, x1];
    layout.xaxis.autorange = false;
    layout.yaxis.range = [grid.y0 - grid.dy / 2, top];
    layout.yaxis.autorange = false;

    const bx = [], bid = [], ask = [];
    for (let c = 0; c < grid.cols; c++) {
      const col = ring.get(grid.firstSec + c);
      bx.push((grid.firstSec + c - 0.5) * 1000);
      bid.push(col ? col.bestBid : null);
      ask.push(col ? col.bestAsk : null);
    }
    data[0].x = bx; data[0].y = bid;
    data[1].x = bx; data[1].y = ask;

    const buys = tradeDots(ring, grid.firstSec, grid.cols, "buy");
    const sells = tradeDots(ring, grid.firstSec, grid.cols, "sell");
    const maxVol = Math.max(buys.maxVol, sells.maxVol) || 1;
    [[2, buys], [3, sells]].forEach(function (pair) {
      const t = data[pair[0]], d = pair[1];
      t.x = d.x; t.y = d.y;
      t.marker.size = d.vol.map((v) => 3 + 15 * Math.sqrt(v / maxVol));
      t.customdata = d.vol.map((v) => v.toFixed(qdec));
    });

    const latest = view.latest;
    layout.annotations = [];
    if (latest && latest.best_bid !== null) layout.annotations.push(priceTag(latest.best_bid, "#22c77a", dec, false));
    if (latest && latest.best_ask !== null) layout.annotations.push(priceTag(latest.best_ask, "#f2495c", dec, true));
    if (window.depthlensEvents) window.depthlensEvents.decorate(data, layout, view);
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

  window.depthlensCharts = { heatmap: heatmap, depth: depth, surface: surface, cellAt: cellAt, colorLut: colorLut,
    lastGrid: () => painter.grid,
    // Benchmarks: paint the last grid again (ceiling scaled by k) and return its data URI.
    repaint: (k) => (painter.grid ? paintGrid(painter.grid, painter.zmax * (k || 1)) : null) };
})();
