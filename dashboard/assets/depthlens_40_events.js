/* depthlens: liquidity events on the heatmap, the event tape and the per-type toggles.
 *
 * A bounded store keyed by event id merges the snapshot's events with each frame's changes (an
 * event keeps its id while it grows; ended events never change) and forgets those that ended
 * before the window. `decorate` adds them to the heatmap figure the charts module builds: one
 * marker trace (symbol by type, colour by side, hover: one plain sentence) and one line
 * trace per side for every outline (wall bands, sweep spans, layering brackets).
 * Event times are venue time; they are shifted onto the heatmap's server-clock axis by
 * (frame.ts - frame.venue_ts) when frames carry `venue_ts`.
 */
(function () {
  "use strict";

  const MAX_EVENTS = 2000;   // store bound (see prune)
  const TAPE_ROWS = 80;
  const BID = "#22c77a", ASK = "#f2495c";
  const TYPES = ["wall", "sweep", "absorption", "layering", "iceberg", "exhaustion"];
  const OUTLINE_OFFSET = 4;  // figures.EVENT_OUTLINE_OFFSET: after best bid, best ask, buys, sells
  const MARKER_OFFSET = 6;   // figures.EVENT_MARKER_OFFSET: one trace, every type

  const E = {
    byId: new Map(), version: 0, tapeVersion: -1, hidden: new Set(), windowS: 180,
    nowVenue: null, shiftS: 0, symbol: "", priceDecimals: 2, qtyDecimals: 3, labels: {}, styles: {},
  };

  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  const formats = {};  // one Intl formatter per decimals: toLocaleString builds one per call
  function fmt(v, d) {
    v = num(v);
    if (v === null) return "—";
    const f = formats[d] || (formats[d] = new Intl.NumberFormat("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
    return f.format(v);
  }
  function clock(ts) { return new Date(ts * 1000).toISOString().slice(11, 19); }
  function baseAsset() { return E.symbol.replace(/(USDT|USDC|BUSD|USD)$/, "") || "units"; }

  /* ---------------- the store ---------------- */

  function valid(e) {
    return e && typeof e.id === "string" && TYPES.indexOf(e.type) >= 0 && num(e.start_ts) !== null &&
      num(e.price) !== null && (e.side === "bid" || e.side === "ask");
  }

  function lastSeen(e) { return num(e.end_ts) !== null ? e.end_ts : Math.max(e.start_ts, num(e.detected_ts) || 0); }

  /** Merge events (a frame's changes or a snapshot's window); `now` is venue time, if known. */
  function merge(list, now) {
    let seen = null;
    const before = E.byId.size;
    (list || []).forEach(function (e) {
      if (!valid(e)) return;
      E.byId.set(e.id, e);
      seen = Math.max(seen === null ? -Infinity : seen, lastSeen(e));
    });
    if (num(now) !== null) E.nowVenue = Math.max(E.nowVenue || -Infinity, now);
    else if (seen !== null) E.nowVenue = Math.max(E.nowVenue || -Infinity, seen);
    const pruned = prune();
    if (seen !== null || pruned || E.byId.size !== before) E.version++;
  }

  /** Forget events that ended before the window; past the bound, the least recently seen go. */
  function prune() {
    if (E.nowVenue === null) return false;
    const size = E.byId.size, cutoff = E.nowVenue - E.windowS;
    E.byId.forEach(function (e, id) { if (num(e.end_ts) !== null && e.end_ts < cutoff) E.byId.delete(id); });
    if (E.byId.size > MAX_EVENTS) {
      const ordered = Array.from(E.byId.values()).sort((a, b) => lastSeen(a) - lastSeen(b));
      for (let i = 0; E.byId.size > MAX_EVENTS && i < ordered.length; i++) E.byId.delete(ordered[i].id);
    }
    return E.byId.size !== size;
  }

  /** Visible events, newest start first. */
  function visible() {
    return Array.from(E.byId.values()).filter((e) => !E.hidden.has(e.type))
      .sort((a, b) => b.start_ts - a.start_ts || (a.id < b.id ? 1 : -1));
  }

  function venueNow(frame) {
    return frame ? (num(frame.venue_ts) !== null ? frame.venue_ts : num(frame.ts)) : null;
  }

  function takeShift(frame) {
    if (frame && num(frame.venue_ts) !== null && num(frame.ts) !== null) E.shiftS = frame.ts - frame.venue_ts;
  }

  /* ---------------- one plain sentence per event ---------------- */

  function qty(v) { return fmt(v, E.qtyDecimals) + " " + baseAsset(); }
  function px(v) { return fmt(v, E.priceDecimals); }
  function lasted(e) {
    const end = num(e.end_ts) !== null ? e.end_ts : (E.nowVenue !== null ? Math.max(E.nowVenue, e.start_ts) : e.start_ts);
    const s = end - e.start_ts;
    if (s < 0.001) return "a single book update";
    return s < 1 ? (s * 1000).toFixed(0) + " ms" : s < 120 ? s.toFixed(s < 10 ? 1 : 0) + " s" : (s / 60).toFixed(1) + " min";
  }
  function multiple(e) {
    const d = e.detail || {};
    const m = num(d.multiple) !== null ? d.multiple : num(d.baseline) > 0 ? e.size / d.baseline : null;
    return m === null ? "" : " (" + m.toFixed(1) + "x the usual size here)";
  }
  function ending(e) {
    const d = e.detail || {};
    if (e.status !== "ended") return "; still active";
    const why = d.reason || d.end_reason;
    return why ? "; " + why : "; ended";
  }
  function span(e) {
    return num(e.price_from) !== null && num(e.price_to) !== null && e.price_from !== e.price_to
      ? " from " + px(e.price_from) + " to " + px(e.price_to) : " at " + px(e.price);
  }

  const SENTENCES = {
    wall: (e) => "Wall: " + qty(e.size) + " resting on the " + e.side + " at " + px(e.price) +
      " for " + lasted(e) + multiple(e) + ending(e),
    sweep: (e) => "Sweep: " + (e.side === "ask" ? "buyers" : "sellers") + " took " + qty(e.size) +
      " of " + e.side + "s" + span(e) + ((e.detail || {}).levels ? " across " + e.detail.levels + " levels" : "") +
      " in " + lasted(e),
    absorption: (e) => "Absorption: the " + e.side + " at " + px(e.price) + " absorbed " + qty(e.size) +
      " of aggressive " + (e.side === "bid" ? "selling" : "buying") + " without giving way, over " + lasted(e) + ending(e),
    layering: (e) => "Layering: " + qty(e.size) + " stacked on the " + e.side + span(e) +
      " (nearest the touch " + px(e.price) + ") for " + lasted(e) + ending(e),
    iceberg: (e) => "Iceberg-like: " + qty(e.size) + " traded on the " + e.side + " at " + px(e.price) +
      " while the level kept refilling" + ((e.detail || {}).refills ? " (" + e.detail.refills + " refills)" : "") +
      " over " + lasted(e) + ending(e),
    exhaustion: (e) => "Exhaustion: the " + e.side + " side thinned to " + qty(e.size) +
      " of depth, best " + e.side + " " + px(e.price) + ending(e),
  };

  const ended = new WeakMap();  // an ended event never changes: say it once
  function sentence(e) {
    if (e.status !== "ended") return SENTENCES[e.type](e);
    let text = ended.get(e);
    if (text === undefined) { text = SENTENCES[e.type](e); ended.set(e, text); }
    return text;
  }

  /* ---------------- drawing on the heatmap ---------------- */

  // Outlines are segments of one line trace per side, split by nulls (layout shapes cost about
  // half a millisecond each per frame: a few hundred walls made the heatmap four times dearer).
  function seg(o, x0, y0, x1, y1) { o.x.push(x0, x1, null); o.y.push(y0, y1, null); }

  function bounds(e) {
    const a = num(e.price_from) ?? e.price, b = num(e.price_to) ?? e.price;
    return [Math.min(a, b), Math.max(a, b)];
  }

  /** The outline of one event: wall band, sweep span, layering bracket, a level's lifetime. */
  function outline(o, e, x0, x1, dy) {
    const lh = bounds(e), lo = lh[0], hi = lh[1];
    if (e.type === "wall") {
      const y0 = e.price - dy / 2, y1 = e.price + dy / 2;
      o.x.push(x0, x1, x1, x0, x0, null); o.y.push(y0, y0, y1, y1, y0, null);
    } else if (e.type === "sweep") {
      if (hi > lo) seg(o, x1, lo, x1, hi);
    } else if (e.type === "layering") {
      const w = Math.max(1500, Math.min(6000, x1 - x0)), y0 = lo - dy / 2, y1 = hi + dy / 2;
      o.x.push(x1 - w, x1, x1, x1 - w, null); o.y.push(y0, y0, y1, y1, null);
    } else if ((e.type === "absorption" || e.type === "iceberg") && x1 - x0 >= 1000) {
      seg(o, x0, e.price, x1, e.price);
    }
  }

  function resetTraces(data) {
    const o = [data[OUTLINE_OFFSET], data[OUTLINE_OFFSET + 1]], m = data[MARKER_OFFSET];
    o.forEach((t) => { t.x = []; t.y = []; });
    m.x = []; m.y = []; m.hovertext = [];
    m.marker.color = []; m.marker.symbol = []; m.marker.size = [];
    return { bid: o[0], ask: o[1], markers: m };
  }

  /** Add the visible events to a heatmap figure built by depthlens_20_charts.js. */
  function decorate(data, layout, view) {
    const grid = view.grid;
    if (!grid || data.length <= MARKER_OFFSET) return;
    takeShift(view.latest);
    const shift = E.shiftS * 1000;
    const xLo = (grid.firstSec - 1) * 1000, xHi = (grid.firstSec + grid.cols - 1) * 1000;
    const tr = resetTraces(data), m = tr.markers;
    visible().forEach(function (e) {
      const x0 = e.start_ts * 1000 + shift;
      const x1 = Math.min(xHi, num(e.end_ts) !== null ? e.end_ts * 1000 + shift : xHi);
      if (x1 < xLo || x0 > xHi) return;
      outline(tr[e.side], e, Math.max(xLo, x0), x1, grid.dy);
      // Markers where the event is now or ended (sweeps and alerts: when detected).
      const instant = e.type === "sweep" || e.type === "exhaustion";
      const mx = instant && num(e.detected_ts) !== null ? Math.max(xLo, Math.min(x1, e.detected_ts * 1000 + shift)) : x1;
      const style = E.styles[e.type] || { symbol: "circle", size: 10 };
      m.x.push(mx); m.y.push(e.price); m.hovertext.push(sentence(e));
      m.marker.color.push(e.side === "bid" ? BID : ASK);
      m.marker.symbol.push(e.type === "sweep" && e.side === "bid" ? "triangle-down" : style.symbol);
      m.marker.size.push(style.size);
    });
  }

  /* ---------------- tape and toggles ---------------- */

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }

  function tapeRow(e) {
    const tr = document.createElement("tr");
    tr.title = sentence(e);
    tr.setAttribute("data-type", e.type);
    tr.setAttribute("data-side", e.side);
    tr.setAttribute("data-id", e.id);
    cell(tr, clock(e.start_ts));
    cell(tr, E.labels[e.type] || e.type, "dl-ev-type");
    cell(tr, e.side, "dl-ev-side");
    cell(tr, px(e.price));
    cell(tr, fmt(e.size, E.qtyDecimals));
    cell(tr, fmt(e.score, 2));
    const d = e.detail || {};
    cell(tr, e.status === "ended" ? (d.reason || d.end_reason || "ended") : "active", "dl-ev-status");
    return tr;
  }

  function updateCounts() {
    const counts = {};
    E.byId.forEach((e) => { counts[e.type] = (counts[e.type] || 0) + 1; });
    document.querySelectorAll(".dl-ev-toggle").forEach(function (b) {
      const c = b.querySelector(".dl-ev-count");
      if (c) c.textContent = String(counts[b.getAttribute("data-type")] || 0);
    });
  }

  /** Rebuild the tape if anything changed since it was last drawn (cheap: at most TAPE_ROWS rows). */
  function renderTape() {
    if (E.tapeVersion === E.version) return;
    E.tapeVersion = E.version;
    const body = document.getElementById("dl-event-tape-body");
    if (!body) return;
    const rows = visible().slice(0, TAPE_ROWS).map(tapeRow);
    body.replaceChildren.apply(body, rows);
    const empty = document.getElementById("dl-event-empty");
    if (empty) empty.style.display = rows.length ? "none" : "";
    updateCounts();
  }

  function redraw() {
    E.version++;
    renderTape();
    if (window.depthlens && window.depthlens.redraw) window.depthlens.redraw();
  }

  function setHidden(type, hidden) {
    if (TYPES.indexOf(type) < 0) return;
    if (hidden) E.hidden.add(type); else E.hidden.delete(type);
    document.querySelectorAll('.dl-ev-toggle[data-type="' + type + '"]').forEach(function (b) {
      b.classList.toggle("is-on", !hidden);
      b.setAttribute("aria-pressed", String(!hidden));
    });
    redraw();
  }

  function onClick(ev) {
    const b = ev.target.closest && ev.target.closest(".dl-ev-toggle");
    if (b) setHidden(b.getAttribute("data-type"), !E.hidden.has(b.getAttribute("data-type")));
  }

  /* ---------------- hover readout for the pre-coloured grid ---------------- */

  function readoutEl() {
    let el = document.getElementById("dl-heatmap-readout");
    const head = document.querySelector(".dl-panel-heatmap .dl-panel-head");
    if (!el && head) {
      el = document.createElement("span");
      el.id = "dl-heatmap-readout";
      el.className = "dl-heatmap-readout";
      head.appendChild(el);
    }
    return el;
  }

  /* The grid is an image, not a trace, so Plotly has no hover for it: the cursor's position is
   * turned into axis values here and the cell is read from the grid the charts module painted. */
  function onMouseMove(ev) {
    const gd = ev.currentTarget, fl = gd._fullLayout, el = readoutEl();
    if (!fl || !fl.xaxis || !el || !window.depthlensCharts.cellAt) return;
    const box = gd.getBoundingClientRect(), xa = fl.xaxis, ya = fl.yaxis;
    const cx = ev.clientX - box.left - xa._offset, cy = ev.clientY - box.top - ya._offset;
    const c = cx >= 0 && cx <= xa._length && cy >= 0 && cy <= ya._length
      ? window.depthlensCharts.cellAt(xa.p2c(cx), ya.p2c(cy)) : null;
    el.textContent = c ? clock(c.sec) + " · " + px(c.price) + " · resting " +
      (c.size === null ? "—" : fmt(c.size, E.qtyDecimals)) : "";
  }

  function hookHeatmap() {
    const host = document.getElementById("dl-heatmap");
    const gd = host && host.querySelector(".js-plotly-plot");
    if (!gd || gd.__dlEventsHook) return;
    gd.__dlEventsHook = true;
    gd.addEventListener("mousemove", onMouseMove);
    gd.addEventListener("mouseleave", () => { const el = readoutEl(); if (el) el.textContent = ""; });
  }

  /* ---------------- the app's messages (events dispatched by depthlens_30_app.js) ---------------- */

  function takeMeta(msg) {
    const m = msg.meta || {};
    if (Number.isInteger(m.price_decimals)) E.priceDecimals = m.price_decimals;
    if (Number.isInteger(m.qty_decimals)) E.qtyDecimals = m.qty_decimals;
    if (num(m.history_seconds)) E.windowS = m.history_seconds;
    if (msg.symbol) E.symbol = String(msg.symbol).toUpperCase();
  }

  function reset() {
    E.byId.clear(); E.nowVenue = null; E.shiftS = 0; E.version++;
    renderTape();
  }

  function onSnapshot(msg) {
    E.byId.clear(); E.nowVenue = null;
    takeMeta(msg);
    takeShift(msg.latest);
    merge(msg.events, venueNow(msg.latest));
    renderTape();
  }

  function onFrame(frame) {
    if (frame.symbol && !E.symbol) E.symbol = String(frame.symbol).toUpperCase();
    takeShift(frame);
    merge(frame.events, venueNow(frame));
    renderTape();
    hookHeatmap();
  }

  function init() {
    const root = document.getElementById("dl-root");
    if (!root) { setTimeout(init, 50); return; } // Dash renders the layout after page load
    const cfg = JSON.parse(root.getAttribute("data-config"));
    (cfg.eventStyles || []).forEach((s) => { E.labels[s.type] = s.label; E.styles[s.type] = s; });
    if (cfg.symbols && cfg.symbols.length && !E.symbol) E.symbol = cfg.symbols[0];
    document.addEventListener("click", onClick);
    E.version++;
    renderTape();
  }

  window.depthlensEvents = {
    reset: reset, onSnapshot: onSnapshot, onFrame: onFrame, decorate: decorate,
    sentence: sentence, merge: merge, store: () => E.byId, hidden: () => Array.from(E.hidden),
    decimals: () => ({ price: E.priceDecimals, qty: E.qtyDecimals }),
  };
  if (window.depthlens) {
    // Test hooks: events fed to the page directly, as if a frame had carried them.
    window.depthlens.ingestEvents = function (list) { merge(list, null); redraw(); };
    window.depthlens.eventsShown = () => visible().map((e) => e.id);
    window.depthlens.setEventTypeHidden = setHidden;
  }
  // depthlens_30_app.js announces every message it applies; registered at load, before its socket.
  window.addEventListener("depthlens:reset", () => reset());
  window.addEventListener("depthlens:snapshot", (ev) => onSnapshot(ev.detail));
  window.addEventListener("depthlens:frame", (ev) => onFrame(ev.detail));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
