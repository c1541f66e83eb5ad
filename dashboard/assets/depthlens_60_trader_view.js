/* depthlens: the trader view (second tab): metric time series and two gauges.
 *
 * Same page, same socket: it draws the series that depthlens_50_insights.js keeps from the app's
 * messages. Drawn only while its tab is shown (and the page is visible); the book charts pause
 * meanwhile (depthlens_30_app.js skips them while `depthlens.view` is not "book"). The series
 * figure is patched with Plotly.react (uirevision keeps a zoom); the gauges are re-drawn only
 * when a shown value changes.
 *
 * Test hooks: window.depthlensTrader (renders, perf, view).
 */
(function () {
  "use strict";

  const VIEW_KEY = "depthlens.view";
  const PERF_KEEP = 600;

  function $(id) { return document.getElementById(id); }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function clone(o) { return JSON.parse(JSON.stringify(o)); }
  function round(v, d) { return v === null ? null : Number(v.toFixed(d)); }

  const S = { cfg: null, tpl: null, dirty: true, gaugeKey: "", rafPending: false, rev: 0 };
  const pub = (window.depthlensTrader = {
    view: "book", renders: { series: 0, gauges: 0 }, perf: { series: [], gauges: [] },
  });

  function push(list, v) { list.push(v); if (list.length > PERF_KEEP) list.splice(0, list.length - PERF_KEEP); }

  /** The figure skeletons in the current theme's colours (rebuilt when the theme changes). */
  function templates() {
    if (!S.tpl) {
      const t = clone(S.cfg.traderFigures);
      if (window.depthlensTheme) { window.depthlensTheme.style(t.series); window.depthlensTheme.style(t.gauges); window.depthlensTheme.style(t.velocityBands); }
      S.tpl = t;
    }
    return S.tpl;
  }

  function react(id, fig) {
    const p = window.Plotly.react($(id), fig.data, fig.layout, { displaylogo: false, responsive: true,
      modeBarButtonsToRemove: ["lasso2d", "select2d", "toImage"] });
    if (p && p.catch) p.catch((err) => console.error("depthlens: trader chart failed", err));
  }

  function timed(list, fn) { const t0 = performance.now(); fn(); push(list, performance.now() - t0); }

  /* ---------------- figures ---------------- */

  function seriesFigure(s, symbol, decimals) {
    const tpl = templates().series;
    const x = s.ts.map((t) => t * 1000);
    const ys = [s.mid, s.vwap, s.spreadBps, s.imbalance, s.vol, s.vol1s, s.cvd];
    const x0 = x.length ? x[0] : null, x1 = x.length ? x[x.length - 1] : null;
    const data = tpl.data.map(function (t, i) {
      if (i < ys.length) return Object.assign({}, t, { x: x, y: ys[i].slice() });
      // Guide lines: y holds segments [a, a, null, b, b, ...]; each spans the whole window.
      return Object.assign({}, t, { x: t.y.map((y, j) => (x0 === null || j % 3 === 2 ? null : j % 3 ? x1 : x0)) });
    });
    const layout = Object.assign({}, tpl.layout, { uirevision: symbol, datarevision: ++S.rev });
    layout.yaxis = Object.assign({}, tpl.layout.yaxis, { tickformat: ",." + decimals + "f" });
    return { data: data, layout: layout };
  }

  /** Gauge values as shown (rounded), so an unchanged reading costs no redraw. */
  function gaugeValues(f) {
    const v = round(num(f && f.velocity_3s), 1), base = round(num(f && f.velocity_baseline), 1);
    const bp = num(f && f.buy_pressure_30s);
    return { velocity: v, baseline: base, pressure: bp === null ? null : round(bp * 100, 0) };
  }

  function gaugesFigure(g) {
    const tpl = templates();
    const data = clone(tpl.gauges.data);
    const vel = data[0], pr = data[1];
    const base = g.baseline;
    const top = Math.max(1, (g.velocity || 0) * 1.2, (base || 0) * 3);
    vel.value = g.velocity;
    vel.gauge.axis.range = [0, Number(top.toPrecision(2))];
    if (base !== null && base > 0) {
      vel.gauge.threshold.value = base;
      vel.delta.reference = base;
      const b = tpl.velocityBands;
      vel.gauge.steps = [{ range: [0, 0.5 * base], color: b.quiet }, { range: [0.5 * base, 2 * base], color: b.normal },
        { range: [2 * base, Math.max(top, 2 * base)], color: b.busy }];
    } else {
      vel.mode = "gauge+number";
      vel.gauge.threshold.line.width = 0;
    }
    pr.value = g.pressure;
    return { data: data, layout: Object.assign({}, tpl.gauges.layout) };
  }

  /* ---------------- drawing ---------------- */

  function shown() { return pub.view === "trader" && !document.hidden; }

  function schedule() {
    if (S.rafPending || !shown()) return;
    S.rafPending = true;
    requestAnimationFrame(draw);
  }

  function draw() {
    S.rafPending = false;
    if (!shown() || !window.Plotly || !window.depthlensInsights) return;
    const ins = window.depthlensInsights;
    const symbol = window.depthlens ? window.depthlens.symbol : "";
    if (S.dirty) {
      const fig = seriesFigure(ins.series(), symbol, ins.priceDecimals());
      timed(pub.perf.series, () => react("dl-trader-series", fig));
      pub.renders.series++;
      S.dirty = false;
    }
    const g = gaugeValues(window.depthlens ? window.depthlens.lastFrame : null);
    const key = JSON.stringify(g) + (window.depthlensTheme ? window.depthlensTheme.name : "");
    if (key !== S.gaugeKey) {
      S.gaugeKey = key;
      const fig = gaugesFigure(g);
      timed(pub.perf.gauges, () => react("dl-trader-gauges", fig));
      pub.renders.gauges++;
    }
  }

  /* ---------------- views ---------------- */

  function setView(view, remember) {
    view = view === "trader" ? "trader" : "book";
    pub.view = view;
    if (window.depthlens) window.depthlens.view = view;
    $("dl-root").setAttribute("data-view", view);
    $("dl-trader").hidden = view !== "trader";
    document.querySelectorAll("#dl-view .dl-seg-btn").forEach(function (b) {
      const on = b.getAttribute("data-value") === view;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-selected", String(on));
    });
    if (remember) { try { localStorage.setItem(VIEW_KEY, view); } catch (err) { /* private mode */ } }
    if (view === "trader") {
      S.dirty = true; S.gaugeKey = "";
      schedule();
    } else if (window.depthlens && window.depthlens.redraw) {
      // The book charts were not drawn while hidden: fit them to their panels, then catch up.
      ["dl-heatmap", "dl-depth", "dl-surface"].forEach(function (id) {
        const gd = $(id) && $(id).querySelector(".js-plotly-plot");
        if (gd && gd._fullLayout) window.Plotly.Plots.resize(gd);
      });
      window.depthlens.redraw();
    }
  }

  function start() {
    const root = $("dl-root");
    if (!root || !$("dl-trader") || !window.depthlens || !window.depthlens.ready) { setTimeout(start, 50); return; }
    S.cfg = JSON.parse(root.getAttribute("data-config"));
    pub.setView = (v) => setView(v, true);
    setView(pub.view, false);
    pub.ready = true;
  }

  function savedView() {
    try { return localStorage.getItem(VIEW_KEY) === "trader" ? "trader" : "book"; } catch (err) { return "book"; }
  }

  // Known before the app's first render, so a page reopened on the trader view never draws the
  // book charts first.
  pub.view = savedView();
  if (window.depthlens) window.depthlens.view = pub.view;

  function markDirty() { S.dirty = true; schedule(); }
  window.addEventListener("depthlens:frame", markDirty);
  window.addEventListener("depthlens:snapshot", markDirty);
  window.addEventListener("depthlens:reset", markDirty);
  window.addEventListener("depthlens:theme", function () { S.tpl = null; S.gaugeKey = ""; markDirty(); });
  document.addEventListener("visibilitychange", schedule);
  document.addEventListener("click", function (ev) {
    const btn = ev.target.closest("#dl-view .dl-seg-btn");
    if (btn) setView(btn.getAttribute("data-value"), true);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
