/* depthlens: the client-side model. Pure data code, no DOM and no Plotly.
 *
 * A ring of one-second columns keyed by the integer second of the frame's `ts`. Every heatmap
 * column sits on the server's fixed price grid (`lo` is a multiple of `step`), so a column is
 * stored by its integer row offset `k0 = round(lo / step)` and cells are placed by integer
 * arithmetic, never by comparing float prices.
 */
(function () {
  "use strict";

  function finiteOrNull(v) {
    return typeof v === "number" && isFinite(v) ? v : null;
  }

  function floorDiv(a, b) {
    return Math.floor(a / b);
  }

  /** Fixed-capacity ring of columns, one slot per second. */
  function ColumnRing(capacity) {
    this.capacity = Math.max(1, capacity | 0);
    this.slots = new Array(this.capacity).fill(null);
    this.newest = null;
  }
  ColumnRing.prototype.put = function (col) {
    if (this.newest !== null && col.sec <= this.newest - this.capacity) return; // too old
    this.slots[((col.sec % this.capacity) + this.capacity) % this.capacity] = col;
    if (this.newest === null || col.sec > this.newest) this.newest = col.sec;
  };
  ColumnRing.prototype.get = function (sec) {
    const col = this.slots[((sec % this.capacity) + this.capacity) % this.capacity];
    return col !== null && col.sec === sec ? col : null;
  };
  ColumnRing.prototype.latest = function () {
    return this.newest === null ? null : this.get(this.newest);
  };
  ColumnRing.prototype.size = function () {
    return this.slots.reduce((n, c) => n + (c !== null && this.newest - c.sec < this.capacity ? 1 : 0), 0);
  };

  /** One ring column from explicit values; sizes may be null (no live book that second). */
  function makeColumn(ts, lo, sizes, step, v) {
    const hasGrid = sizes && step && lo !== null && lo !== undefined;
    return {
      sec: Math.round(ts),
      ts: ts,
      k0: hasGrid ? Math.round(lo / step) : null,
      sizes: hasGrid ? Float64Array.from(sizes, (x) => (typeof x === "number" ? x : NaN)) : null,
      bestBid: finiteOrNull(v.bestBid),
      bestAsk: finiteOrNull(v.bestAsk),
      mid: finiteOrNull(v.mid),
      buyVol: finiteOrNull(v.buyVol) || 0,
      sellVol: finiteOrNull(v.sellVol) || 0,
      buyVwap: finiteOrNull(v.buyVwap),
      sellVwap: finiteOrNull(v.sellVwap),
    };
  }

  function columnFromFrame(frame, step) {
    const hm = frame.heatmap || null;
    const t = frame.trades || {};
    return makeColumn(frame.ts, hm ? hm.lo : null, hm ? hm.sizes : null, step, {
      bestBid: frame.best_bid, bestAsk: frame.best_ask, mid: frame.mid_price,
      buyVol: t.buy_volume, sellVol: t.sell_volume, buyVwap: t.buy_vwap, sellVwap: t.sell_vwap,
    });
  }

  function columnsFromSnapshot(history, step) {
    const h = history || {};
    const ts = h.ts || [];
    const at = (key, i) => (h[key] ? h[key][i] : null);
    const cols = [];
    for (let i = 0; i < ts.length; i++) {
      cols.push(makeColumn(ts[i], at("heatmap_lo", i), at("heatmap", i), step, {
        bestBid: at("best_bid", i), bestAsk: at("best_ask", i), mid: at("mid_price", i),
        buyVol: at("buy_volume", i), sellVol: at("sell_volume", i),
        buyVwap: at("buy_vwap", i), sellVwap: at("sell_vwap", i),
      }));
    }
    return cols;
  }

  /** Grouped row range [gLo, gHi) to show: the band around `mid`, or the newest column's span. */
  function rowRange(ring, step, group, bandBps, mid) {
    const newest = ring.latest();
    let kLo, kHi;
    if (bandBps && mid) {
      const half = (mid * bandBps) / 1e4;
      kLo = Math.floor((mid - half) / step);
      kHi = Math.ceil((mid + half) / step);
    } else if (newest && newest.sizes) {
      kLo = newest.k0;
      kHi = newest.k0 + newest.sizes.length;
    } else {
      return null;
    }
    return { gLo: floorDiv(kLo, group), gHi: floorDiv(kHi - 1, group) + 1 };
  }

  /**
   * The heatmap grid over the last `seconds` seconds: z[row][col] (Float32Array rows, NaN where
   * there is no data), grouped by `group` cells, cropped to the band. Returns null without data.
   */
  function buildGrid(ring, opts) {
    const step = opts.step;
    const g = Math.max(1, opts.group | 0);
    if (!step || ring.newest === null) return null;
    const range = rowRange(ring, step, g, opts.bandBps, opts.mid);
    if (!range) return null;
    const C = opts.seconds;
    const R = range.gHi - range.gLo;
    const first = ring.newest - C + 1;
    const z = new Array(R);
    for (let r = 0; r < R; r++) z[r] = new Float32Array(C).fill(NaN);
    for (let c = 0; c < C; c++) {
      const col = ring.get(first + c);
      if (!col || !col.sizes) continue;
      const sizes = col.sizes;
      for (let i = 0; i < sizes.length; i++) {
        const v = sizes[i];
        if (v !== v) continue;
        const r = floorDiv(col.k0 + i, g) - range.gLo;
        if (r < 0 || r >= R) continue;
        const cur = z[r][c];
        z[r][c] = cur !== cur ? v : cur + v;
      }
    }
    const gstep = g * step;
    return { z: z, rows: R, cols: C, firstSec: first, y0: (range.gLo + 0.5) * gstep, dy: gstep };
  }

  /** The `q` quantile (0..1) of the finite positive cells: a colour ceiling that ignores outliers. */
  function colorCeiling(grid, q) {
    if (!grid) return 1;
    const total = grid.rows * grid.cols;
    const stride = Math.max(1, Math.floor(total / 40000));
    const sample = [];
    let n = 0;
    for (let r = 0; r < grid.rows; r++) {
      const row = grid.z[r];
      for (let c = 0; c < grid.cols; c++, n++) {
        if (n % stride !== 0) continue;
        const v = row[c];
        if (v > 0) sample.push(v);
      }
    }
    if (!sample.length) return 1;
    const arr = Float64Array.from(sample).sort();
    return arr[Math.min(arr.length - 1, Math.floor(q * (arr.length - 1)))] || 1;
  }

  /** Coarser copy of a grid for the 3D surface: at most maxRows x maxCols vertices. */
  function downsample(grid, maxRows, maxCols) {
    if (!grid) return null;
    const fr = Math.max(1, Math.ceil(grid.rows / maxRows));
    const fc = Math.max(1, Math.ceil(grid.cols / maxCols));
    const R = Math.ceil(grid.rows / fr);
    const C = Math.ceil(grid.cols / fc);
    const z = new Array(R);
    for (let r = 0; r < R; r++) {
      const out = new Array(C);
      for (let c = 0; c < C; c++) {
        let sum = 0, seen = 0;
        for (let c2 = c * fc; c2 < Math.min(grid.cols, (c + 1) * fc); c2++) {
          let colSum = 0, any = false;
          for (let r2 = r * fr; r2 < Math.min(grid.rows, (r + 1) * fr); r2++) {
            const v = grid.z[r2][c2];
            if (v === v) { colSum += v; any = true; }
          }
          if (any) { sum += colSum; seen++; }
        }
        out[c] = seen ? sum / seen : null;
      }
      z[r] = out;
    }
    const y = new Array(R);
    for (let r = 0; r < R; r++) y[r] = grid.y0 - grid.dy / 2 + (r * fr + fr / 2) * grid.dy;
    const x = new Array(C);
    for (let c = 0; c < C; c++) x[c] = -(grid.cols - 1) + (c * fc + (fc - 1) / 2);
    return { z: z, x: x, y: y };
  }

  /**
   * Cumulative resting quantity outward from the mid, from one heatmap column: cells whose centre
   * is below the mid count as bids, the others as asks. Cropped to the band if one is set.
   */
  function depthFromColumn(col, step, mid, bandBps) {
    const out = { bidX: [], bidY: [], askX: [], askY: [] };
    if (!col || !col.sizes || !step || mid === null) return out;
    const half = bandBps ? (mid * bandBps) / 1e4 : Infinity;
    const n = col.sizes.length;
    let split = 0;
    while (split < n && (col.k0 + split + 0.5) * step < mid) split++;
    let cum = 0;
    for (let i = split - 1; i >= 0; i--) {
      const p = (col.k0 + i + 0.5) * step;
      if (mid - p > half) break;
      const v = col.sizes[i];
      if (v === v) cum += v;
      out.bidX.push(p);
      out.bidY.push(cum);
    }
    cum = 0;
    for (let i = split; i < n; i++) {
      const p = (col.k0 + i + 0.5) * step;
      if (p - mid > half) break;
      const v = col.sizes[i];
      if (v === v) cum += v;
      out.askX.push(p);
      out.askY.push(cum);
    }
    return out;
  }

  window.depthlensGrid = {
    ColumnRing: ColumnRing,
    columnFromFrame: columnFromFrame,
    columnsFromSnapshot: columnsFromSnapshot,
    buildGrid: buildGrid,
    colorCeiling: colorCeiling,
    downsample: downsample,
    depthFromColumn: depthFromColumn,
  };
})();
