/* depthlens: theme, the trader's KPI header and the insight panel.
 *
 * Follows the app's messages through its window events (depthlens:snapshot / frame / reset,
 * dispatched by depthlens_30_app.js): no socket of its own. Keeps a small columnar series of the
 * trader metrics (from the snapshot history, then one row per frame) that the KPI header reads
 * for the change over the window and the trader view (depthlens_60_trader_view.js) draws.
 *
 * Test hooks: window.depthlensTheme, window.depthlensInsights.
 */
(function () {
  "use strict";

  const THEME_KEY = "depthlens.theme";
  const WIDE_SPREAD_BPS = 6, TIGHT_SPREAD_BPS = 2;       // the default rules 1 and 2
  const BUSY_VELOCITY = 2, QUIET_VELOCITY = 0.5;         // rules 7 and 8, times the baseline
  const LATE_FRAME_MS = 3500;
  const PRIORITY_ICON = { HIGH: "!", MEDIUM: "!", LOW: "i" };

  function $(id) { return document.getElementById(id); }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function fmt(v, d, signed) {
    v = num(v);
    return v === null ? "—" : (signed && v > 0 ? "+" : "") + v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function config() {
    const root = $("dl-root");
    return root ? JSON.parse(root.getAttribute("data-config")) : null;
  }
  function duration(s) {
    s = Math.max(0, Math.round(s));
    return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60 ? (s % 60) + " s" : "");
  }

  /* ---------------- theme ---------------- */

  const theme = {
    name: "dark", maps: null,
    load() { try { return localStorage.getItem(THEME_KEY) === "light" ? "light" : "dark"; } catch (err) { return "dark"; } },
    map() {
      if (!this.maps) { const cfg = config(); if (!cfg) return null; this.maps = cfg.themes || {}; }
      return this.maps[this.name] || null;
    },
    /** Swap the dark palette for the current theme's, in place; skips data arrays. */
    style(obj) {
      const m = this.map();
      if (m && Object.keys(m).length) recolor(obj, m);
      return obj;
    },
    set(name, remember) {
      this.name = name === "light" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", this.name);
      if (remember) { try { localStorage.setItem(THEME_KEY, this.name); } catch (err) { /* private mode */ } }
      const btn = $("dl-theme-toggle");
      if (btn) btn.setAttribute("aria-pressed", String(this.name === "light"));
      window.dispatchEvent(new CustomEvent("depthlens:theme", { detail: this.name }));
      if (window.depthlens && window.depthlens.redraw) window.depthlens.redraw();
    },
    toggle() { this.set(this.name === "light" ? "dark" : "light", true); },
  };

  function recolor(obj, m) {
    if (Array.isArray(obj)) {
      // Colorscales and shape lists hold objects or arrays; number arrays are data.
      if (obj.length && obj[0] !== null && typeof obj[0] === "object") obj.forEach((o) => recolor(o, m));
      return;
    }
    for (const k in obj) {
      const v = obj[k];
      if (typeof v === "string") { if (v.length === 7 && v[0] === "#") { const r = m[v.toLowerCase()]; if (r) obj[k] = r; } }
      else if (v !== null && typeof v === "object" && !ArrayBuffer.isView(v)) recolor(v, m);
    }
  }

  /* ---------------- series: one row per second ---------------- */

  const COLUMNS = {  // series column -> snapshot history column
    ts: "ts", venueTs: "venue_ts", mid: "mid_price", spreadBps: "spread_bps", imbalance: "imbalance",
    vwap: "vwap_30s", velocity: "velocity_3s", velocityBase: "velocity_baseline",
    vol: "volatility_60s_bps", vol1s: "volatility_1s_60s_bps", buyPressure: "buy_pressure_30s", cvd: "cvd",
  };

  function Series(capacity) {
    this.capacity = Math.max(1, capacity | 0);
    this.rev = 0;
    for (const k in COLUMNS) this[k] = [];
  }
  Series.prototype.push = function (row) {
    const n = this.ts.length;
    if (n && row.ts <= this.ts[n - 1]) {  // the snapshot's latest frame may repeat its last row
      if (row.ts < this.ts[n - 1]) return;
      for (const k in COLUMNS) this[k][n - 1] = row[k];
    } else {
      for (const k in COLUMNS) this[k].push(row[k]);
      if (this.ts.length > this.capacity) for (const k in COLUMNS) this[k].shift();
    }
    this.rev++;
  };
  Series.prototype.size = function () { return this.ts.length; };

  function spreadBps(bps, spread, mid) {
    if (num(bps) !== null) return bps;
    return num(spread) !== null && num(mid) ? spread / mid * 1e4 : null;
  }

  function rowFromFrame(f) {
    const row = {};
    for (const k in COLUMNS) { const v = f[COLUMNS[k]]; row[k] = num(v); }
    row.spreadBps = spreadBps(f.spread_bps, f.spread, f.mid_price);
    return row;
  }

  function seriesFromSnapshot(msg) {
    const h = msg.history || {}, ts = h.ts || [];
    const s = new Series((msg.meta && msg.meta.history_seconds) || 180);
    for (let i = 0; i < ts.length; i++) {
      const row = {};
      for (const k in COLUMNS) row[k] = h[COLUMNS[k]] ? num(h[COLUMNS[k]][i]) : null;
      row.spreadBps = spreadBps(row.spreadBps, h.spread ? h.spread[i] : null, row.mid);
      if (row.ts !== null) s.push(row);
    }
    if (msg.latest) s.push(rowFromFrame(msg.latest));
    return s;
  }

  /* ---------------- KPI header ---------------- */

  const S = { series: new Series(180), latest: null, receivedAt: 0, meta: null, insightKey: "" };

  function setCard(key, value, sub, level) {
    const el = $("dl-kpi-" + key);
    if (!el) return;
    el.textContent = value;
    $("dl-kpi-" + key + "-sub").textContent = sub;
    el.closest(".dl-kpi").setAttribute("data-level", level || "none");
  }

  function priceDecimals(f) {
    if (S.meta && Number.isInteger(S.meta.price_decimals)) return S.meta.price_decimals;
    return num(f.mid_price) !== null && f.mid_price < 100 ? 3 : 2;
  }

  function windowChange(f, d) {
    const s = S.series;
    let first = null, firstTs = null;
    for (let i = 0; i < s.size() && first === null; i++) if (s.mid[i] !== null) { first = s.mid[i]; firstTs = s.ts[i]; }
    const now = num(f.mid_price);
    if (first === null || now === null || num(f.ts) === null) return ["—", "", "none"];
    const pct = (now - first) / first * 100;
    return [fmt(pct, 3, true) + " %", fmt(now - first, d, true) + " in " + Math.round(f.ts - firstTs) + " s",
      pct > 0 ? "good" : pct < 0 ? "bad" : "none"];
  }

  function updateKpis() {
    const f = S.latest;
    if (!f) { ["price", "change", "velocity", "vwap"].forEach((k) => setCard(k, "—", "", "none")); return; }
    const d = priceDecimals(f);
    const traded = num(f.last_trade_price) !== null;
    setCard("price", fmt(traded ? f.last_trade_price : f.mid_price, d), traded ? "last trade" : "mid (no trade yet)", "none");
    setCard.apply(null, ["change"].concat(windowChange(f, d)));
    const bps = spreadBps(f.spread_bps, f.spread, f.mid_price);
    const spreadCard = $("dl-kpi-spread");
    if (spreadCard) spreadCard.closest(".dl-kpi").setAttribute("data-level",
      bps === null ? "none" : bps > WIDE_SPREAD_BPS ? "bad" : bps < TIGHT_SPREAD_BPS ? "good" : "none");
    const v = num(f.velocity_3s), base = num(f.velocity_baseline);
    const ratio = v !== null && base ? v / base : null;
    setCard("velocity", v === null ? "—" : fmt(v, 2) + " /s",
      base === null ? "no baseline yet" : (ratio === null ? "" : fmt(ratio, 2) + "× ") + "of " + fmt(base, 1) + "/s",
      ratio === null ? "none" : ratio > BUSY_VELOCITY ? "bad" : ratio < QUIET_VELOCITY ? "calm" : "none");
    const pv = num(f.price_vs_vwap_pct);
    setCard("vwap", fmt(f.vwap_30s, d), pv === null ? "no trades in 30 s" : "last " + fmt(pv, 3, true) + " %",
      pv === null ? "none" : pv > 0 ? "good" : pv < 0 ? "bad" : "none");
  }

  /** Connection, book state and age of the newest frame; ticks twice a second. */
  function updateStatus() {
    const conn = window.depthlens ? window.depthlens.connection : "connecting";
    const f = S.latest;
    let value, level;
    if (conn !== "open") { value = conn; level = "bad"; }
    else if (!f) { value = "waiting"; level = "none"; }
    else { value = f.status || "live"; level = f.stale ? "warn" : "good"; }
    let sub = "no data yet";
    if (f) {
      const venue = num(f.venue_ts) !== null ? f.venue_ts : f.ts;
      const age = performance.now() - S.receivedAt;
      sub = new Date(venue * 1000).toISOString().slice(11, 19) + " · " + (age < 1000 ? "<1 s" : duration(age / 1000)) + " ago";
      if (conn === "open" && age > LATE_FRAME_MS) level = "warn";
    }
    setCard("status", value, sub, level);
  }

  /* ---------------- insight cards ---------------- */

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function card(ins) {
    const c = el("article", "dl-insight");
    c.setAttribute("role", "listitem");
    c.setAttribute("data-rule-id", String(ins.id));
    c.setAttribute("data-priority", ins.priority);
    const head = el("div", "dl-insight-head");
    head.append(el("span", "dl-insight-icon", PRIORITY_ICON[ins.priority] || "i"),
      el("span", "dl-insight-prio", ins.priority), el("span", "dl-insight-age", ""));
    const body = el("dl", "dl-insight-body");
    [["Action", ins.action], ["Overcome", ins.how_to_overcome], ["Impact", ins.expected_impact]].forEach(function (p) {
      body.append(el("dt", "", p[0]), el("dd", "", p[1] || "—"));
    });
    c.append(head, el("div", "dl-insight-text", ins.insight || ""), body);
    return c;
  }

  function insightKey(list) {
    return list.map((i) => [i.id, i.priority, i.insight, i.action, i.how_to_overcome, i.expected_impact].join("\u0001")).join("\u0002");
  }

  function emptyText(f) {
    if (!f) return "Waiting for the first frame…";
    if (!Array.isArray(f.insights)) return "This server sends no insights.";
    return "No rule holds: the market is inside every rule's normal range.";
  }

  function updateInsights() {
    const f = S.latest;
    const list = f && Array.isArray(f.insights) ? f.insights.slice(0, 3) : [];
    const box = $("dl-insight-cards");
    if (!box) return;
    const key = insightKey(list) || "empty:" + emptyText(f);
    if (key !== S.insightKey) {  // rebuild only when the set or a text changes
      S.insightKey = key;
      box.replaceChildren.apply(box, list.length ? list.map(card) : [el("div", "dl-insights-empty", emptyText(f))]);
      pub.cardRenders++;
    }
    const now = f ? num(f.ts) : null;  // triggered_at is the ts of the frame the rule began on
    box.querySelectorAll(".dl-insight").forEach(function (c, i) {
      const ins = list[i];
      c.setAttribute("data-holding", String(!!ins.holding));
      const held = now !== null && num(ins.triggered_at) !== null ? now - ins.triggered_at : null;
      c.querySelector(".dl-insight-age").textContent = (held === null ? "" : "for " + duration(held)) + (ins.holding ? " · easing" : "");
    });
    const rules = $("dl-insights-rules");
    if (rules) rules.textContent = f && Array.isArray(f.rules) ? (f.rules.length ? "rules holding: " + f.rules.join(", ") : "no rule holding") : "";
  }

  /* ---------------- wiring ---------------- */

  const pub = (window.depthlensInsights = {
    Series: Series, seriesFromSnapshot: seriesFromSnapshot, rowFromFrame: rowFromFrame,
    series: () => S.series, meta: () => S.meta, cardRenders: 0, frames: 0, perf: [],
    priceDecimals: () => (S.latest ? priceDecimals(S.latest) : 2),
    render: function (frame) { S.latest = frame; S.receivedAt = performance.now(); refresh(); },
  });
  window.depthlensTheme = theme;

  function refresh() { updateKpis(); updateStatus(); updateInsights(); }

  window.addEventListener("depthlens:reset", function () {
    S.series = new Series(180); S.latest = null; S.meta = null; refresh();
  });
  window.addEventListener("depthlens:snapshot", function (ev) {
    S.meta = ev.detail.meta || null;
    S.series = seriesFromSnapshot(ev.detail);
    if (ev.detail.latest) { S.latest = ev.detail.latest; S.receivedAt = performance.now(); }
    refresh();
  });
  window.addEventListener("depthlens:frame", function (ev) {
    pub.frames++;
    S.series.push(rowFromFrame(ev.detail));
    S.latest = ev.detail; S.receivedAt = performance.now();
    refresh();
    pub.perf.push(performance.now() - S.receivedAt);  // header + cards, per frame (ms)
    if (pub.perf.length > 600) pub.perf.shift();
  });
  document.addEventListener("click", function (ev) {
    if (ev.target.closest("#dl-theme-toggle")) theme.toggle();
  });

  theme.set(theme.load(), false);  // before the first paint, so a light page never flashes dark
  setInterval(updateStatus, 500);
})();
