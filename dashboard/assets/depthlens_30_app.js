/* depthlens: WebSocket push, render loop and DOM updates.
 *
 * One native WebSocket to /ws/{symbol}. The snapshot fills the ring at once; each frame is added
 * to the ring and marks the charts dirty; one requestAnimationFrame callback draws whatever is
 * newest, so a page that falls behind skips to the latest state instead of queueing. The socket
 * reconnects by itself with capped exponential backoff and jitter, and the page says so.
 *
 * The markets a page may show change while it is open (depthlens_70_markets.js keeps the list
 * and calls `depthlens.setMarkets`); when the viewed one goes away the page moves to the first.
 *
 * Test and benchmark hooks live on `window.depthlens` (counters, perf samples, current state).
 */
(function () {
  "use strict";

  const G = () => window.depthlensGrid;
  const CH = () => window.depthlensCharts;
  const PERF_KEEP = 600;
  const FRAME_STALE_MS = 3500;     // no frame for this long: say the charts are stale
  const SILENT_SOCKET_MS = 10000;  // no message for this long: drop the socket and reconnect
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

  const pub = (window.depthlens = {
    framesReceived: 0, snapshotsReceived: 0, messagesReceived: 0, reconnects: 0,
    framesBySymbol: {}, renders: { heatmap: 0, depth: 0, surface: 0, kpi: 0 },
    perf: { heatmap: [], depth: [], surface: [], kpi: [], build: [], render: [] },
    symbol: null, band: null, group: 1, connection: "connecting", lastFrame: null, chartSymbol: null,
    ready: false,
  });

  const S = {
    cfg: null, markets: [], ws: null, gen: 0, attempt: 0, retryAt: 0, retryTimer: null, closeReason: "",
    meta: null, step: null, ring: null, latest: null, lastMsgAt: 0, lastFrameAt: 0,
    integrity: {}, integrityAt: 0, dirty: { heatmap: true, depth: true, surface: true, kpi: true },
    rafPending: false, lastSurfaceAt: -Infinity, surfaceVisible: true,
    userRange: {}, userRangeRev: null, userCamera: null,
  };

  function push(list, v) { list.push(v); if (list.length > PERF_KEEP) list.splice(0, list.length - PERF_KEEP); }
  function $(id) { return document.getElementById(id); }
  function gd(id) { const el = $(id); return el && (el.classList.contains("js-plotly-plot") ? el : el.querySelector(".js-plotly-plot")); }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function fmt(v, d, signed) { v = num(v); return v === null ? "—" : (signed && v > 0 ? "+" : "") + v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }); }
  function ageText(ms) { return ms === null ? "—" : ms < 1000 ? Math.round(ms) + " ms" : ms < 60000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms / 60000) + " min"; }

  function metaFrom(meta, frame) {
    const tick = (meta && num(meta.tick_size)) || null;
    const guess = tick ? Math.max(0, Math.round(-Math.log10(tick))) : 2;
    return {
      priceDecimals: meta && Number.isInteger(meta.price_decimals) ? meta.price_decimals : guess,
      qtyDecimals: meta && Number.isInteger(meta.qty_decimals) ? meta.qty_decimals : 3,
      seconds: (meta && meta.history_seconds) || 180,
      step: (meta && num(meta.heatmap_step)) || (frame && frame.heatmap && num(frame.heatmap.step)) || null,
    };
  }

  /* ---------------- socket ---------------- */

  function connect() {
    const gen = ++S.gen;
    clearTimeout(S.retryTimer);
    setConnection(S.attempt ? "reconnecting" : "connecting");
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + S.cfg.wsPath + encodeURIComponent(pub.symbol);
    const ws = new WebSocket(url);
    S.ws = ws;
    ws.onopen = function () {
      if (gen !== S.gen) return;
      if (S.attempt) pub.reconnects++;
      S.attempt = 0; S.closeReason = ""; S.lastMsgAt = performance.now();
      setConnection("open");
    };
    ws.onmessage = function (ev) {
      if (gen !== S.gen) return;
      S.lastMsgAt = performance.now();
      pub.messagesReceived++;
      let msg;
      try { msg = JSON.parse(ev.data); } catch (err) { console.warn("depthlens: unreadable message", String(ev.data).slice(0, 200)); return; }
      // `market` is the key the socket was opened with (`symbol` alone is ambiguous across venues).
      const name = msg && (msg.market || msg.symbol);
      if (!msg || (name && String(name).toUpperCase() !== pub.symbol.toUpperCase())) return;
      if (msg.type === "snapshot") onSnapshot(msg);
      else if (msg.type === "frame") onFrame(msg);
    };
    ws.onclose = function (ev) {
      if (gen !== S.gen) return;
      S.ws = null;
      if (ev.code === 1008) S.closeReason = ev.reason || "rejected by the server";
      // 1001: the market was stopped (or the server is going down). Reconnect as usual, and let
      // the market list check whether it still exists; if not, the page moves to another one.
      if (ev.code === 1001) S.closeReason = ev.reason || "going away";
      scheduleReconnect();
      if (ev.code === 1001 || ev.code === 1008) emit("closed", { symbol: pub.symbol, code: ev.code, reason: ev.reason });
    };
  }

  function scheduleReconnect() {
    const base = BACKOFF_MS[Math.min(S.attempt, BACKOFF_MS.length - 1)];
    const delay = base * (0.75 + Math.random() * 0.5);
    S.attempt++;
    S.retryAt = performance.now() + delay;
    setConnection("reconnecting");
    S.retryTimer = setTimeout(connect, delay);
  }

  function dropSocket() {
    S.gen++;
    clearTimeout(S.retryTimer);
    if (S.ws) { try { S.ws.close(1000, "client switched"); } catch (err) { /* already closed */ } }
    S.ws = null;
  }

  function setConnection(state) {
    pub.connection = state;
    const el = $("dl-conn");
    if (!el) return;
    el.setAttribute("data-state", state);
    $("dl-conn-text").textContent = state === "open" ? "live stream" : state;
  }

  /* ---------------- model ---------------- */

  /* Other page scripts (insights, trader view) follow the same messages through these events. */
  function emit(kind, detail) { window.dispatchEvent(new CustomEvent("depthlens:" + kind, { detail: detail })); }

  function resetModel() {
    S.meta = metaFrom(null, null); S.step = null; S.latest = null; S.lastFrameAt = 0;
    S.ring = new (G().ColumnRing)(S.meta.seconds);
    pub.lastFrame = null;
    markDirty(true);
    emit("reset", pub.symbol);
  }

  function onSnapshot(msg) {
    pub.snapshotsReceived++;
    S.meta = metaFrom(msg.meta, msg.latest);
    S.step = S.meta.step;
    S.ring = new (G().ColumnRing)(S.meta.seconds);
    if (S.step) G().columnsFromSnapshot(msg.history, S.step).forEach((c) => S.ring.put(c));
    if (msg.latest) { S.latest = msg.latest; pub.lastFrame = msg.latest; takeIntegrity(msg.latest); }
    markDirty(true);
    emit("snapshot", msg);
  }

  function onFrame(frame) {
    pub.framesReceived++;
    pub.framesBySymbol[pub.symbol] = (pub.framesBySymbol[pub.symbol] || 0) + 1;
    if (!S.step && frame.heatmap && num(frame.heatmap.step)) { S.step = frame.heatmap.step; S.meta.step = S.step; }
    S.ring.put(G().columnFromFrame(frame, S.step));
    S.latest = frame; pub.lastFrame = frame;
    S.lastFrameAt = performance.now();
    takeIntegrity(frame);
    markDirty(false);
    emit("frame", frame);
  }

  function takeIntegrity(frame) {
    if (frame.integrity) { S.integrity = frame.integrity; S.integrityAt = performance.now(); }
  }

  function markDirty(all) {
    S.dirty.heatmap = S.dirty.depth = S.dirty.kpi = true;
    S.dirty.surface = true;
    if (all) S.lastSurfaceAt = -Infinity;
    scheduleRender();
  }

  /* ---------------- rendering ---------------- */

  function scheduleRender() {
    if (S.rafPending) return;
    S.rafPending = true;
    requestAnimationFrame(render);
  }

  function timed(list, fn) {
    const t0 = performance.now();
    fn();
    push(list, performance.now() - t0);
  }

  function react(el, fig) {
    if (window.depthlensTheme) window.depthlensTheme.style(fig.layout);
    const p = window.Plotly.react(el, fig.data, fig.layout);
    if (p && p.catch) p.catch((err) => console.error("depthlens: plot failed", err));
  }

  function surfaceCeiling(s) {
    const vals = [];
    s.z.forEach((row) => row.forEach((v) => { if (v > 0) vals.push(v); }));
    if (!vals.length) return 1;
    vals.sort((a, b) => a - b);
    return vals[Math.floor(0.985 * (vals.length - 1))];
  }

  /** Figures for every chart that needs drawing now (null for the others); pure JS work. */
  function buildFigures(surfaceDue) {
    const figs = S.cfg.figures;
    const mid = S.latest ? num(S.latest.mid_price) : null;
    const grid = S.dirty.heatmap || surfaceDue
      ? G().buildGrid(S.ring, { step: S.step, group: pub.group, bandBps: pub.band, mid: mid, seconds: S.meta.seconds })
      : null;
    const base = { ring: S.ring, grid: grid, meta: S.meta, latest: S.latest,
      uirevision: [pub.symbol, pub.band, pub.group].join("|") };
    const out = { heatmap: null, depth: null, surface: null };
    if (S.dirty.heatmap) {
      out.heatmap = CH().heatmap(figs.heatmap, Object.assign({ zmax: G().colorCeiling(grid, 0.985) }, base));
      keepUserZoom(out.heatmap.layout, base.uirevision);
    }
    if (S.dirty.depth) out.depth = CH().depth(figs.depth, Object.assign({ depth: G().depthFromColumn(S.ring.latest(), S.step, mid, pub.band) }, base));
    if (surfaceDue) {
      const s = G().downsample(grid, 100, 90);
      out.surface = CH().surface(figs.surface, Object.assign({ surface: s, zmax: s ? surfaceCeiling(s) : 1 }, base));
      keepUserCamera(out.surface.layout, base.uirevision);
    }
    return out;
  }

  /* The heatmap's axis ranges follow the data every frame; a range the user zoomed or panned to
   * wins until they double-click (autorange) or switch symbol, band or grouping. */
  function onHeatmapRelayout(ev) {
    ["xaxis", "yaxis"].forEach(function (ax) {
      if (ev[ax + ".autorange"]) { delete S.userRange[ax]; return; }
      const r = ev[ax + ".range"] ||
        (ev[ax + ".range[0]"] !== undefined ? [ev[ax + ".range[0]"], ev[ax + ".range[1]"]] : null);
      if (r) S.userRange[ax] = r.slice();
    });
  }

  /* The same for the 3D camera: the one the user turned to stays until the view changes. */
  function onSurfaceRelayout(ev) {
    const cam = ev["scene.camera"];
    if (cam) { S.userCamera = JSON.parse(JSON.stringify(cam)); return; }
    ["eye", "center", "up"].forEach(function (k) {
      if (ev["scene.camera." + k]) {
        const base = S.userCamera || JSON.parse(JSON.stringify(gd("dl-surface")._fullLayout.scene.camera));
        base[k] = Object.assign({}, ev["scene.camera." + k]);
        S.userCamera = base;
      }
    });
  }

  function keepUserCamera(layout, uirevision) {
    if (S.userCameraRev !== uirevision) { S.userCamera = null; S.userCameraRev = uirevision; }
    if (S.userCamera && layout.scene) layout.scene.camera = JSON.parse(JSON.stringify(S.userCamera));
  }

  function keepUserZoom(layout, uirevision) {
    if (S.userRangeRev !== uirevision) { S.userRange = {}; S.userRangeRev = uirevision; }
    Object.keys(S.userRange).forEach(function (ax) {
      if (layout[ax]) { layout[ax].range = S.userRange[ax].slice(); layout[ax].autorange = false; }
    });
  }

  function render() {
    S.rafPending = false;
    const els = { heatmap: gd("dl-heatmap"), depth: gd("dl-depth"), surface: gd("dl-surface") };
    if (!window.Plotly || !els.heatmap || !els.depth || !els.surface || !els.heatmap._fullLayout) {
      setTimeout(scheduleRender, 100);
      return;
    }
    if (!els.heatmap.__dlZoomHook) {
      els.heatmap.on("plotly_relayout", onHeatmapRelayout);
      els.surface.on("plotly_relayout", onSurfaceRelayout);
      els.heatmap.__dlZoomHook = true;
    }
    const t0 = performance.now();
    const surfaceDue = S.dirty.surface && S.surfaceVisible && !document.hidden &&
      t0 - S.lastSurfaceAt >= S.cfg.surfaceEverySeconds * 1000;
    if (S.dirty.kpi) { timed(pub.perf.kpi, updateKpis); pub.renders.kpi++; S.dirty.kpi = false; }
    if (pub.view && pub.view !== "book") return; // hidden charts wait; redraw() catches them up
    let figs = null;
    timed(pub.perf.build, () => { figs = buildFigures(surfaceDue); });
    const names = ["heatmap", "depth", "surface"].filter((name) => figs[name]);
    if (!names.length) return;
    names.forEach((name) => { S.dirty[name] = false; });
    if (figs.surface) S.lastSurfaceAt = t0;
    pub.chartSymbol = pub.symbol;
    let spent = performance.now() - t0;
    // One chart per main-thread task: input and paint get in between, and no task holds the
    // thread for all three charts at once (issue 9's long-task budget). Only the Plotly calls
    // are inside the per-chart timings: what applying one frame costs each chart.
    (function next(i) {
      const t1 = performance.now();
      timed(pub.perf[names[i]], () => react(els[names[i]], figs[names[i]]));
      pub.renders[names[i]]++;
      spent += performance.now() - t1;
      if (i + 1 < names.length) { setTimeout(() => next(i + 1), 0); return; }
      push(pub.perf.render, spent);
      $("dl-footer-render").textContent = "last render " + spent.toFixed(1) + " ms";
    })(0);
  }

  /* ---------------- DOM: KPIs, integrity, banner ---------------- */

  function setKpi(key, value, sub, sign) {
    const el = $("dl-kpi-" + key);
    el.textContent = value;
    el.classList.toggle("is-pos", sign > 0);
    el.classList.toggle("is-neg", sign < 0);
    $("dl-kpi-" + key + "-sub").textContent = sub;
  }

  function updateKpis() {
    const f = S.latest;
    if (!f) { ["mid", "spread", "microprice", "imbalance", "ofi", "tps", "latency"].forEach((k) => setKpi(k, "—", "", 0)); return; }
    const d = S.meta.priceDecimals, q = S.meta.qtyDecimals;
    const t = f.trades || {};
    const mp = num(f.microprice), mid = num(f.mid_price);
    setKpi("mid", fmt(mid, d), "bid " + fmt(f.best_bid, d) + " · ask " + fmt(f.best_ask, d), 0);
    setKpi("spread", num(f.spread_bps) === null ? "—" : fmt(f.spread_bps, 2) + " bp", fmt(f.spread, d), 0);
    setKpi("microprice", fmt(mp, d + 1), mp !== null && mid !== null ? fmt(mp - mid, d + 1, true) + " vs mid" : "", 0);
    setKpi("imbalance", fmt(f.imbalance, 3, true), "best level " + fmt(f.imbalance_best, 3, true), Math.sign(num(f.imbalance) || 0));
    setKpi("ofi", fmt(f.ofi, q, true), "best level " + fmt(f.ofi_best, q, true), Math.sign(num(f.ofi) || 0));
    setKpi("tps", fmt(t.count, 0), "buy " + fmt(t.buy_volume, q) + " · sell " + fmt(t.sell_volume, q), 0);
    setKpi("latency", num(f.latency_ms) === null ? "—" : fmt(f.latency_ms, 1) + " ms", fmt(f.updates, 0) + " updates/s", 0);
    $("dl-footer-frames").textContent = "frames " + pub.framesReceived;
    $("dl-footer-last").textContent = "last frame " + new Date(f.ts * 1000).toISOString().slice(11, 19) + " UTC · update id " + (f.last_update_id === null ? "—" : f.last_update_id);
  }

  function updateIntegrity(now) {
    const open = pub.connection === "open";
    document.querySelectorAll(".dl-int-chip").forEach(function (chip) {
      const sym = chip.getAttribute("data-symbol");
      const info = S.integrity[sym];
      chip.classList.toggle("is-current", sym === pub.symbol);
      let state = "unknown", status = "waiting", detail = "";
      if (!open) { state = "disconnected"; status = "disconnected"; }
      else if (info) { state = status = info.status || "unknown"; }
      if (info) {
        const age = num(info.last_event_age_ms) === null ? null : info.last_event_age_ms + (now - S.integrityAt);
        detail = "age " + ageText(age) + " · gaps " + (info.gaps || 0) + " · resyncs " + (info.resyncs || 0);
      }
      chip.setAttribute("data-state", state);
      chip.querySelector(".dl-int-status").textContent = status;
      chip.querySelector(".dl-int-detail").textContent = detail;
    });
  }

  function updateBanner(now) {
    let state = "hidden", text = "";
    if (pub.connection !== "open") {
      const wait = Math.max(0, (S.retryAt - now) / 1000);
      state = "disconnected";
      text = (pub.connection === "connecting" ? "Connecting to the server…" : "Connection lost — reconnecting " + (wait < 0.5 ? "now" : "in " + Math.ceil(wait) + " s") + " (attempt " + S.attempt + ").") +
        (S.closeReason ? " Server said: " + S.closeReason + "." : "") + (S.latest ? " Charts show the last data received." : "");
    } else if (!S.latest) {
      state = "waiting"; text = "Connected — waiting for the first frame of " + pub.symbol + "…";
    } else if (now - S.lastFrameAt > FRAME_STALE_MS && S.lastFrameAt > 0) {
      state = "stale"; text = "Stale: no frame for " + ageText(now - S.lastFrameAt) + ". Charts show the last data received.";
    } else if (S.latest.stale) {
      state = "stale"; text = "Stale: " + pub.symbol + " is " + S.latest.status + " — book values may be outdated until it is live again.";
    }
    const el = $("dl-banner");
    el.setAttribute("data-state", state);
    el.textContent = text;
    $("dl-root").classList.toggle("is-stale", state === "stale" || (state === "disconnected" && !!S.latest));
  }

  function tick() {
    const now = performance.now();
    if (S.ws && pub.connection === "open" && now - S.lastMsgAt > SILENT_SOCKET_MS) {
      console.warn("depthlens: socket silent for " + Math.round((now - S.lastMsgAt) / 1000) + " s, reconnecting");
      try { S.ws.close(); } catch (err) { /* closing anyway */ }
    }
    updateIntegrity(now);
    updateBanner(now);
    if (S.dirty.surface && now - S.lastSurfaceAt >= S.cfg.surfaceEverySeconds * 1000) scheduleRender();
  }

  /* ---------------- controls ---------------- */

  function activate(groupId, value) {
    document.querySelectorAll("#" + groupId + " .dl-seg-btn").forEach(function (b) {
      const on = b.getAttribute("data-value") === String(value);
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-pressed", String(on));
    });
  }

  /** The running market named ``name`` (case-insensitive: keys may be "venue:SYMBOL"), or null. */
  function marketKey(name) {
    const wanted = String(name).toUpperCase();
    return S.markets.find((k) => k.toUpperCase() === wanted) || null;
  }

  function setSymbol(name) {
    const sym = marketKey(name);
    if (sym === null || sym === pub.symbol) return;
    dropSocket();
    pub.symbol = sym;
    activate("dl-symbol", sym);
    S.attempt = 0;
    resetModel();
    connect();
    tick();
  }

  /** The running markets changed: switch to the first if the one shown is no longer running. */
  function setMarkets(keys) {
    S.markets = keys.map(String);
    if (S.markets.length && !marketKey(pub.symbol)) setSymbol(S.markets[0]);
    activate("dl-symbol", pub.symbol);
    tick();
  }

  function setBand(value) {
    pub.band = value === "all" || value === null ? null : Number(value);
    activate("dl-band", pub.band === null ? "all" : String(pub.band));
    markDirty(true);
  }

  function setGroup(value) {
    pub.group = Math.max(1, parseInt(value, 10) || 1);
    activate("dl-group", String(pub.group));
    markDirty(true);
  }

  function onClick(ev) {
    const btn = ev.target.closest(".dl-seg-btn");
    const chip = ev.target.closest(".dl-int-chip");
    if (ev.target.closest(".dl-mkt-stop")) return; // stopping is depthlens_70_markets.js's job
    if (btn) {
      const group = btn.closest(".dl-control");
      const value = btn.getAttribute("data-value");
      if (group.id === "dl-symbol") setSymbol(value);
      else if (group.id === "dl-band") setBand(value);
      else if (group.id === "dl-group") setGroup(value);
    } else if (chip) {
      setSymbol(chip.getAttribute("data-symbol"));
    }
  }

  function start() {
    const root = $("dl-root");
    if (!root || !window.Plotly || !window.depthlensGrid || !window.depthlensCharts) { setTimeout(start, 50); return; }
    S.cfg = JSON.parse(root.getAttribute("data-config"));
    S.markets = S.cfg.symbols.slice();
    pub.symbol = S.cfg.symbols[0];
    pub.setSymbol = setSymbol; pub.setMarkets = setMarkets; pub.markets = () => S.markets.slice(); pub.setBand = setBand; pub.setGroup = setGroup;
    pub.redraw = () => markDirty(true);
    pub.historyColumns = () => (S.ring ? S.ring.size() : 0);
    document.addEventListener("click", onClick);
    const panel = document.querySelector(".dl-panel-surface");
    if (panel && "IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        S.surfaceVisible = entries[entries.length - 1].isIntersecting;
        if (S.surfaceVisible) scheduleRender();
      }).observe(panel);
    }
    resetModel();
    connect();
    setInterval(tick, 500);
    pub.ready = true;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
