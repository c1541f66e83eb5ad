/* depthlens: the cross-venue view of one asset (BTC across usdm, spot, coinbase...).
 *
 * Opened by clicking an asset's name in the market switcher (depthlens_70_markets.js draws it as
 * a `.dl-mkt-asset` button), or from the address `#cross=BTC`; left by the back button, a venue
 * button, an integrity chip or a view tab. While open it owns a second native WebSocket to
 * /ws/asset/{asset} (schema: docs/frames.md, "cross-venue frames"): one `asset_snapshot`, then
 * one `asset_frame` a second. The single-market socket keeps running underneath, so going back
 * is instant; its charts pause like they do behind the trader view (`depthlens.view`).
 *
 * Tables and cards are rebuilt from each frame (a handful of rows, once a second); the two
 * charts are patched with Plotly.react, one per main-thread task.
 *
 * Test hooks: window.depthlensCross (asset, connection, lastFrame, history(), renders, open, close).
 */
(function () {
  "use strict";

  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
  const FRAME_STALE_MS = 3500;     // no frame for this long: say the view is stale
  const SILENT_SOCKET_MS = 10000;  // no message for this long: drop the socket and reconnect
  const HISTORY_KEEP = 3600;       // seconds of basis history kept in the page
  const HASH_RE = /^#cross=([A-Za-z0-9._-]{1,20})$/;

  const pub = (window.depthlensCross = {
    asset: null, connection: "idle", framesReceived: 0, snapshotsReceived: 0, lastFrame: null,
    renders: { tables: 0, basis: 0, depth: 0 }, perf: { tables: [], basis: [], depth: [] }, ready: false,
  });

  const S = {
    cfg: null, ws: null, gen: 0, attempt: 0, retryTimer: null, lastMsgAt: 0, lastFrameAt: 0,
    closeReason: "", history: [], latest: null, prevView: "book", rafPending: false, tpl: null,
    dirtyCharts: false,
  };

  function $(id) { return document.getElementById(id); }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function clone(o) { return JSON.parse(JSON.stringify(o)); }
  function push(list, v) { list.push(v); if (list.length > 600) list.splice(0, list.length - 600); }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  /* ---------------- formatting ---------------- */

  function fmt(v, d, signed) {
    v = num(v);
    if (v === null) return "n/a";
    return (signed && v > 0 ? "+" : "") + v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  /** Prices carry no tick size here: decimals by magnitude (BTC 2, a 0.5 USD coin 5). */
  function priceDecimals(v) { v = Math.abs(num(v) || 0); return v >= 1000 ? 2 : v >= 10 ? 3 : v >= 1 ? 4 : 6; }
  function price(v) { return fmt(v, priceDecimals(v)); }
  function qty(v) { v = num(v); return v === null ? "n/a" : fmt(v, Math.abs(v) >= 1000 ? 0 : Math.abs(v) >= 1 ? 3 : 4); }
  function usd(v) {
    v = num(v);
    if (v === null) return "n/a";
    const a = Math.abs(v);
    return a >= 1e9 ? fmt(v / 1e9, 2) + " B" : a >= 1e6 ? fmt(v / 1e6, 2) + " M" : a >= 1e4 ? fmt(v / 1e3, 1) + " k" : fmt(v, 2);
  }
  function bigQty(v) {
    v = num(v);
    if (v === null) return "n/a";
    return Math.abs(v) >= 1e6 ? fmt(v / 1e6, 2) + " M" : Math.abs(v) >= 1e4 ? fmt(v / 1e3, 1) + " k" : qty(v);
  }
  function duration(ms) {
    ms = num(ms);
    if (ms === null) return "n/a";
    if (ms < 1000) return Math.round(ms) + " ms";
    const s = ms / 1000;
    return s < 60 ? s.toFixed(1) + " s" : Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  }
  function clock(ms) { ms = num(ms); return ms === null ? "n/a" : new Date(ms).toISOString().slice(11, 19); }
  function venueLabel(venue) { return String(venue || "").replace(/^binance-/, ""); }

  /* ---------------- markets and colours ---------------- */

  function marketInfo(key) {
    const f = S.latest;
    const m = f && Array.isArray(f.markets) ? f.markets.find((x) => x.market === key) : null;
    const i = key.lastIndexOf(":");
    return { key: key, venue: m ? m.venue : i < 0 ? "binance-usdm" : key.slice(0, i), symbol: i < 0 ? key : key.slice(i + 1) };
  }
  function marketLabel(key) { const m = marketInfo(key); return venueLabel(m.venue) + " " + m.symbol; }

  function colorOf(key) {
    const cfg = S.cfg.cross;
    const venue = marketInfo(key).venue;
    if (cfg.venueColors[venue]) return cfg.venueColors[venue];
    const others = (S.latest && S.latest.markets ? S.latest.markets : []).map((m) => m.market)
      .filter((k) => !cfg.venueColors[marketInfo(k).venue]);
    const i = Math.max(0, others.indexOf(key));
    return cfg.fallbackColors[i % cfg.fallbackColors.length];
  }
  function alpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  /* ---------------- socket ---------------- */

  function connect() {
    const gen = ++S.gen;
    clearTimeout(S.retryTimer);
    setConnection(S.attempt ? "reconnecting" : "connecting");
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + S.cfg.cross.wsPath + encodeURIComponent(pub.asset);
    const ws = new WebSocket(url);
    S.ws = ws;
    ws.onopen = function () {
      if (gen !== S.gen) return;
      S.attempt = 0; S.closeReason = ""; S.lastMsgAt = performance.now();
      setConnection("open");
    };
    ws.onmessage = function (ev) {
      if (gen !== S.gen) return;
      S.lastMsgAt = performance.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (err) { console.warn("depthlens: unreadable asset message", String(ev.data).slice(0, 200)); return; }
      if (!msg || (msg.asset && String(msg.asset).toUpperCase() !== pub.asset)) return;
      if (msg.type === "asset_snapshot") onSnapshot(msg);
      else if (msg.type === "asset_frame") onFrame(msg);
    };
    ws.onclose = function (ev) {
      if (gen !== S.gen) return;
      S.ws = null;
      // 1008: no market of this asset runs; 1001: its last market stopped (or the server is
      // going down). Retry with backoff either way; tick() leaves the view once the market list
      // no longer has the asset.
      if (ev.code === 1008 || ev.code === 1001) {
        S.closeReason = ev.reason || (ev.code === 1008 ? "unknown asset" : "going away");
        if (window.depthlens && window.depthlens.refreshMarkets) window.depthlens.refreshMarkets();
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    const base = BACKOFF_MS[Math.min(S.attempt, BACKOFF_MS.length - 1)];
    S.attempt++;
    setConnection("reconnecting");
    S.retryTimer = setTimeout(connect, base * (0.75 + Math.random() * 0.5));
  }

  function dropSocket() {
    S.gen++;
    clearTimeout(S.retryTimer);
    if (S.ws) { try { S.ws.close(1000, "view closed"); } catch (err) { /* already closed */ } }
    S.ws = null;
  }

  function setConnection(state) { pub.connection = state; updateState(performance.now()); }

  /* ---------------- model ---------------- */

  function historyRow(h) {
    return { ts: num(h.ts), bps: num(h.basis_bps), funding: num(h.funding_rate) };
  }
  function frameRow(f) {
    const b = f.basis || {};
    return { ts: num(f.ts), bps: num(b.bps), funding: num(b.funding_rate) };
  }
  function addRow(row) {
    if (row.ts === null) return;
    const last = S.history[S.history.length - 1];
    if (last && row.ts <= last.ts) { if (row.ts === last.ts) S.history[S.history.length - 1] = row; return; }
    S.history.push(row);
    if (S.history.length > HISTORY_KEEP) S.history.splice(0, S.history.length - HISTORY_KEEP);
  }

  function onSnapshot(msg) {
    pub.snapshotsReceived++;
    S.history = [];
    (Array.isArray(msg.history) ? msg.history : []).forEach((h) => addRow(historyRow(h)));
    if (msg.frame) takeFrame(msg.frame);
    else scheduleRender();
  }

  function onFrame(f) {
    pub.framesReceived++;
    takeFrame(f);
  }

  function takeFrame(f) {
    S.latest = f; pub.lastFrame = f;
    S.lastFrameAt = performance.now();
    addRow(frameRow(f));
    S.dirtyCharts = true;
    scheduleRender();
  }

  /* ---------------- head ---------------- */

  function updateState(now) {
    const box = $("dl-cv-state");
    if (!box) return;
    let state = pub.connection, text = pub.connection;
    if (pub.connection === "open") {
      if (!S.latest) { state = "waiting"; text = "waiting for the first frame"; }
      else if (now - S.lastFrameAt > FRAME_STALE_MS) { state = "stale"; text = "stale · no frame for " + duration(now - S.lastFrameAt); }
      else { state = "live"; text = "live"; }
    } else if (pub.connection === "reconnecting") {
      text = "reconnecting" + (S.closeReason ? " · " + S.closeReason : "");
    }
    box.setAttribute("data-state", state);
    box.textContent = text;
    $("dl-cross").classList.toggle("is-stale", state !== "live" && !!S.latest);
  }

  function fact(key, text, title) {
    const e = $("dl-cv-" + key);
    e.textContent = text;
    if (title !== undefined) e.parentNode.title = title;
  }

  function renderHead(f) {
    const c = f.consolidated || {};
    fact("usdt", fmt(f.usdt_usd, 4));
    fact("skew", fmt(f.max_skew_ms, 0) + " ms");
    fact("cons", price(c.bid) + " / " + price(c.ask));
    const spread = $("dl-cv-spread");
    spread.textContent = fmt(c.spread_bps, 2, true) + " bp" + (c.crossed ? " · CROSSED" : "");
    spread.parentNode.setAttribute("data-crossed", String(!!c.crossed));
  }

  /* ---------------- ladder ---------------- */

  function cell(text, cls, value) {
    const td = el("td", cls, text);
    if (value !== undefined && value !== null) td.setAttribute("data-value", String(value));
    return td;
  }

  function marketCell(key, venue) {
    const td = el("td", "dl-cv-mkt");
    const sw = el("span", "dl-cv-swatch");
    sw.style.background = colorOf(key);
    td.append(sw, el("span", "dl-cv-venue", venueLabel(venue)), el("span", "dl-cv-key", marketInfo(key).symbol));
    td.title = key;
    return td;
  }

  function ladderRow(m, f) {
    const c = f.consolidated || {};
    const tr = el("tr");
    tr.setAttribute("data-market", m.market);
    tr.setAttribute("data-live", String(!!m.live));
    const bestBid = c.bid_market === m.market, bestAsk = c.ask_market === m.market;
    const d10 = m.depth && m.depth["10"];
    const lag = num(f.venue_ts) !== null && num(m.venue_ts) !== null ? f.venue_ts - m.venue_ts : null;
    tr.append(
      marketCell(m.market, m.venue),
      cell(qty(m.bid_qty), "dl-cv-num dl-cv-bidq", m.bid_qty),
      cell(price(m.bid), "dl-cv-num dl-cv-bid" + (bestBid ? " is-best" : ""), m.bid),
      cell(price(m.ask), "dl-cv-num dl-cv-ask" + (bestAsk ? " is-best" : ""), m.ask),
      cell(qty(m.ask_qty), "dl-cv-num dl-cv-askq", m.ask_qty),
      cell(num(m.spread_bps) === null ? "n/a" : fmt(m.spread_bps, 2) + " bp", "dl-cv-num", m.spread_bps),
      cell(d10 ? usd(d10.bid_usd) + " / " + usd(d10.ask_usd) : "n/a", "dl-cv-num dl-cv-depth10"),
      cell(num(m.taker_fee_bps) === null ? "n/a" : fmt(m.taker_fee_bps, 2) + " bp", "dl-cv-num dl-cv-fee", m.taker_fee_bps),
      cell(fmt(m.usd_per_quote, 4), "dl-cv-num dl-cv-rate", m.usd_per_quote),
      cell(m.live ? (lag === null ? "n/a" : duration(lag)) : "not live", "dl-cv-num dl-cv-lag", lag),
    );
    if (bestBid) tr.cells[2].title = "consolidated best bid";
    if (bestAsk) tr.cells[3].title = "consolidated best ask";
    return tr;
  }

  function consolidatedRow(f) {
    const c = f.consolidated || {};
    const tr = el("tr", "dl-cv-cons-row" + (c.crossed ? " is-crossed" : ""));
    tr.setAttribute("data-crossed", String(!!c.crossed));
    const name = el("td", "dl-cv-mkt", "Consolidated");
    if (c.crossed) name.append(el("span", "dl-cv-badge", "crossed"));
    const bidFrom = c.bid_market ? "on " + marketLabel(c.bid_market) : "";
    const askFrom = c.ask_market ? "on " + marketLabel(c.ask_market) : "";
    tr.append(name, cell(bidFrom, "dl-cv-num dl-cv-from"), cell(price(c.bid), "dl-cv-num dl-cv-bid is-best", c.bid),
      cell(price(c.ask), "dl-cv-num dl-cv-ask is-best", c.ask), cell(askFrom, "dl-cv-from"),
      cell(num(c.spread_bps) === null ? "n/a" : fmt(c.spread_bps, 2, true) + " bp", "dl-cv-num", c.spread_bps),
      cell("mid " + price(c.mid), "dl-cv-num"), cell(""), cell(""), cell(""));
    return tr;
  }

  function renderLadder(f) {
    const markets = Array.isArray(f.markets) ? f.markets : [];
    $("dl-cv-ladder-body").replaceChildren.apply($("dl-cv-ladder-body"),
      markets.map((m) => ladderRow(m, f)).concat(markets.length ? [consolidatedRow(f)] : []));
    $("dl-cv-ladder-empty").hidden = markets.length > 0;
    $("dl-cv-ladder-empty").textContent = "No market of " + pub.asset + " in the frame.";
  }

  /* ---------------- opportunities and pairs ---------------- */

  function oppRow(o, state, f) {
    const tr = el("tr", "dl-cv-opp is-" + state);
    tr.setAttribute("data-state", state);
    tr.setAttribute("data-buy", o.buy);
    tr.setAttribute("data-sell", o.sell);
    let dur = num(o.duration_ms);
    if (dur === null && state === "live" && num(o.start_ms) !== null && num(f.venue_ts) !== null) dur = f.venue_ts - o.start_ms;
    const maxSkew = num(o.max_skew_ms_seen);
    tr.append(
      el("td", "dl-cv-opp-state", state === "live" ? "LIVE" : "ended"),
      marketCell(o.buy, marketInfo(o.buy).venue),
      marketCell(o.sell, marketInfo(o.sell).venue),
      cell(fmt(o.peak_net_edge_bps, 2, true) + " bp", "dl-cv-num dl-cv-edge", o.peak_net_edge_bps),
      cell(qty(o.peak_size), "dl-cv-num", o.peak_size),
      cell("$" + usd(o.peak_profit_usd), "dl-cv-num", o.peak_profit_usd),
      skewCell(o.skew_ms_at_peak, maxSkew),
      cell(duration(dur), "dl-cv-num", dur),
      cell(clock(o.start_ms), "dl-cv-num", o.start_ms),
      cell(state === "live" ? "open" : o.end_reason || "n/a", "dl-cv-reason"),
    );
    return tr;
  }

  function skewCell(atPeak, maxSeen) {
    const td = cell(fmt(atPeak, 0) + " ms", "dl-cv-num", atPeak);
    if (maxSeen !== null) td.title = "largest skew seen while it lasted: " + fmt(maxSeen, 0) + " ms";
    return td;
  }

  function renderOpportunities(f) {
    const o = f.opportunities || {};
    const live = (Array.isArray(o.live) ? o.live : []).slice().sort((a, b) => (num(b.peak_net_edge_bps) || 0) - (num(a.peak_net_edge_bps) || 0));
    const recent = (Array.isArray(o.recent) ? o.recent : []).slice().reverse();  // newest first
    const rows = live.map((x) => oppRow(x, "live", f)).concat(recent.map((x) => oppRow(x, "recent", f)));
    $("dl-cv-opps-body").replaceChildren.apply($("dl-cv-opps-body"), rows);
    $("dl-cv-opps-empty").hidden = rows.length > 0;
    $("dl-cv-opps-hint").textContent = live.length + " live · " + recent.length + " recent · skew bound " + fmt(f.max_skew_ms, 0) + " ms";
  }

  function bestSizeCell(p) {
    const td = cell(num(p.best_size) ? qty(p.best_size) : "—", "dl-cv-num", p.best_size);
    if (num(p.best_size)) td.title = "average net edge at this size " + fmt(p.best_net_edge_bps, 2, true) + " bp";
    return td;
  }

  function renderPairs(f) {
    const pairs = (Array.isArray(f.arbitrage) ? f.arbitrage : []).slice()
      .sort((a, b) => (num(b.net_edge_bps) ?? -Infinity) - (num(a.net_edge_bps) ?? -Infinity));
    const rows = pairs.map(function (p) {
      const tr = el("tr", "dl-cv-pair" + (p.eligible ? " is-eligible" : ""));
      tr.setAttribute("data-buy", p.buy);
      tr.setAttribute("data-sell", p.sell);
      tr.setAttribute("data-eligible", String(!!p.eligible));
      const net = num(p.net_edge_bps);
      tr.append(
        marketCell(p.buy, marketInfo(p.buy).venue),
        marketCell(p.sell, marketInfo(p.sell).venue),
        cell(fmt(p.gross_edge_bps, 2, true) + " bp", "dl-cv-num", p.gross_edge_bps),
        cell(fmt(net, 2, true) + " bp", "dl-cv-num dl-cv-edge" + (net !== null && net > 0 ? " is-pos" : ""), net),
        bestSizeCell(p),
        cell(num(p.best_profit_usd) ? "$" + usd(p.best_profit_usd) : "—", "dl-cv-num", p.best_profit_usd),
        cell(num(p.max_size) ? qty(p.max_size) + (p.depth_limited ? "+" : "") : "0", "dl-cv-num", p.max_size),
        cell(fmt(p.skew_ms, 0) + " ms", "dl-cv-num", p.skew_ms),
        cell(p.eligible ? "yes" : "no", "dl-cv-elig"),
      );
      return tr;
    });
    $("dl-cv-pairs-body").replaceChildren.apply($("dl-cv-pairs-body"), rows);
    $("dl-cv-pairs-empty").hidden = rows.length > 0;
  }

  /* ---------------- 24 h stats ---------------- */

  /** One market's statistics, flat as docs/frames.md lists them. The server may also send them
   * nested as the store keeps them (`{market, mark: {...}, ticker: {last_price, ...}}`). */
  function statsOf(raw) {
    if (!raw || typeof raw !== "object") return null;
    if (!("ticker" in raw) && !("mark" in raw)) return raw;
    const t = raw.ticker, mk = raw.mark;
    if (!t) return null;  // a mark price alone has no 24-hour numbers
    return { last: t.last_price, open: t.open_price, high: t.high_price, low: t.low_price, change_pct: t.change_pct,
      volume: t.volume, quote_volume: t.quote_volume, age_ms: num(t.receive_age_s) === null ? null : t.receive_age_s * 1000,
      mark_price: mk ? mk.mark_price : null, funding_rate: mk ? mk.funding_rate : null };
  }

  function statsCard(key, s) {
    const card = el("article", "dl-cv-card");
    card.setAttribute("data-market", key);
    card.style.setProperty("--venue", colorOf(key));
    const head = el("div", "dl-cv-card-head");
    // The venue's own numbers, in its quote currency (the ladder above is in USD).
    const m = (S.latest.markets || []).find((x) => x.market === key);
    head.append(el("span", "dl-cv-venue", venueLabel(marketInfo(key).venue)), el("span", "dl-cv-key", marketInfo(key).symbol),
      el("span", "dl-cv-quote", m && m.quote ? " · " + m.quote : ""));
    const change = s ? num(s.change_pct) : null;
    const last = el("div", "dl-cv-card-last", s ? price(s.last) : "n/a");
    const chg = el("span", "dl-cv-card-change" + (change === null ? "" : change > 0 ? " is-pos" : change < 0 ? " is-neg" : ""),
      change === null ? (s ? "n/a" : "") : fmt(change, 2, true) + " %");
    chg.setAttribute("data-stat", "change_pct");
    last.setAttribute("data-stat", "last");
    last.append(chg);
    const dl = el("dl", "dl-cv-card-body");
    [["High", "high", s && price(s.high)], ["Low", "low", s && price(s.low)],
      ["Volume", "volume", s && bigQty(s.volume)], ["Quote vol", "quote_volume", s && (num(s.quote_volume) === null ? "n/a" : usd(s.quote_volume))],
    ].forEach(function (row) {
      const dd = el("dd", "", row[2] || "n/a");
      dd.setAttribute("data-stat", row[1]);
      dl.append(el("dt", "", row[0]), dd);
    });
    card.append(head, last, dl);
    if (!s) card.append(el("div", "dl-cv-card-note", "no ticker yet"));
    else if (num(s.age_ms) !== null) card.title = key + ": ticker " + duration(s.age_ms) + " old";
    return card;
  }

  function renderStats(f) {
    const stats = f.stats24h || {};
    const keys = (Array.isArray(f.markets) ? f.markets.map((m) => m.market) : []);
    Object.keys(stats).forEach((k) => { if (keys.indexOf(k) < 0) keys.push(k); });
    $("dl-cv-stats").replaceChildren.apply($("dl-cv-stats"), keys.map((k) => statsCard(k, statsOf(stats[k]))));
  }

  /* ---------------- charts ---------------- */

  function templates() {
    if (!S.tpl) {
      const t = clone(S.cfg.cross);
      if (window.depthlensTheme) { window.depthlensTheme.style(t.figures.basis.layout); window.depthlensTheme.style(t.figures.depth.layout); }
      S.tpl = t;
    }
    return S.tpl;
  }

  function basisFigure(f) {
    const tpl = templates().figures.basis;
    const x = S.history.map((h) => h.ts * 1000);
    const data = [
      Object.assign({}, tpl.data[0], { x: x, y: S.history.map((h) => h.bps) }),
      Object.assign({}, tpl.data[1], { x: x, y: S.history.map((h) => (h.funding === null ? null : h.funding * 100)) }),
    ];
    const layout = Object.assign({}, tpl.layout, { uirevision: pub.asset });
    layout.yaxis2 = Object.assign({}, tpl.layout.yaxis2, fundingRange(data[1].y));
    return { data: data, layout: layout };
  }

  /** The funding rate changes rarely: a constant one would get Plotly's ±1 autorange, so the
   * axis is fitted with a floor of ±0.005 % (half a basis point per 8 h) around it. */
  function fundingRange(ys) {
    const vals = ys.filter((v) => v !== null);
    if (!vals.length) return { autorange: true };
    const lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
    const pad = Math.max((hi - lo) * 0.15, 0.005);
    return { range: [lo - pad, hi + pad], autorange: false };
  }

  function basisReadout(f) {
    const b = f.basis;
    if (!b) return "needs a perpetual and a spot market of " + pub.asset;
    const next = num(b.next_funding_ms) !== null && num(f.venue_ts) !== null ? b.next_funding_ms - f.venue_ts : null;
    return marketLabel(b.perp) + " vs " + marketLabel(b.spot) + " · basis " + fmt(b.bps, 2, true) + " bp ($" + fmt(b.price, 2, true) + ")" +
      " · mark " + price(b.mark_price) + " · index " + price(b.index_price) +
      " · funding " + (num(b.funding_rate) === null ? "n/a" : fmt(b.funding_rate * 100, 4, true) + " %") +
      (next === null ? "" : " · next in " + duration(Math.max(0, next)));
  }

  function depthFigure(f) {
    const tpl = templates();
    const dc = f.depth_curve || {};
    const prices = Array.isArray(dc.prices) ? dc.prices : [];
    const markets = Object.keys(dc.bids || {}).concat(Object.keys(dc.asks || {}).filter((k) => !(dc.bids || {})[k]));
    const data = [];
    markets.forEach(function (key) {
      const color = colorOf(key), label = marketLabel(key);
      const bids = (dc.bids || {})[key], asks = (dc.asks || {})[key];
      if (bids) data.push(Object.assign(clone(tpl.depthTraces.bid), { name: label, legendgroup: key, x: prices, y: bids,
        line: { color: color, width: 1, shape: "hv" }, fillcolor: alpha(color, 0.45) }));
      if (asks) data.push(Object.assign(clone(tpl.depthTraces.ask), { name: label, legendgroup: key, x: prices, y: asks,
        line: { color: color, width: 1, shape: "hv" }, fillcolor: alpha(color, 0.22) }));
    });
    const mid = num((f.consolidated || {}).mid);
    const layout = Object.assign({}, tpl.figures.depth.layout, { uirevision: pub.asset });
    layout.shapes = mid === null ? [] : [{ type: "line", xref: "x", yref: "paper", x0: mid, x1: mid, y0: 0, y1: 1,
      line: { color: "#8b98a9", width: 1, dash: "dot" } }];
    return { data: data, layout: layout };
  }

  function react(id, fig) {
    const p = window.Plotly.react($(id), fig.data, fig.layout, { displaylogo: false, responsive: true,
      modeBarButtonsToRemove: ["lasso2d", "select2d", "toImage"] });
    if (p && p.catch) p.catch((err) => console.error("depthlens: cross-venue chart failed", err));
  }

  /* ---------------- render loop ---------------- */

  function shown() { return pub.asset !== null && !document.hidden; }

  function scheduleRender() {
    if (S.rafPending || !shown()) return;
    S.rafPending = true;
    requestAnimationFrame(render);
  }

  function render() {
    S.rafPending = false;
    const f = S.latest;
    if (!shown() || !f || !window.Plotly) return;
    let t0 = performance.now();
    renderHead(f);
    renderLadder(f);
    renderOpportunities(f);
    renderPairs(f);
    renderStats(f);
    $("dl-cv-basis-hint").textContent = basisReadout(f);
    push(pub.perf.tables, performance.now() - t0);
    pub.renders.tables++;
    if (!S.dirtyCharts) return;
    S.dirtyCharts = false;
    const asset = pub.asset;
    // One chart per main-thread task, as the book view does: input and paint get in between.
    setTimeout(function () {
      if (pub.asset !== asset) return;
      t0 = performance.now();
      react("dl-cv-basis", basisFigure(f));
      push(pub.perf.basis, performance.now() - t0);
      pub.renders.basis++;
      setTimeout(function () {
        if (pub.asset !== asset) return;
        t0 = performance.now();
        react("dl-cv-depth", depthFigure(f));
        push(pub.perf.depth, performance.now() - t0);
        pub.renders.depth++;
      }, 0);
    }, 0);
  }

  function tick() {
    if (pub.asset === null) return;
    const now = performance.now();
    if (S.ws && pub.connection === "open" && now - S.lastMsgAt > SILENT_SOCKET_MS) {
      console.warn("depthlens: asset socket silent for " + Math.round((now - S.lastMsgAt) / 1000) + " s, reconnecting");
      try { S.ws.close(); } catch (err) { /* closing anyway */ }
    }
    updateState(now);
    // The asset's last market stopped (the server's list no longer has it): back to a market.
    const groups = window.depthlens && window.depthlens.marketGroups ? window.depthlens.marketGroups() : null;
    if (groups && groups.length && !groups.some((g) => g.asset === pub.asset) && S.closeReason) close(S.prevView);
  }

  /* ---------------- opening and closing ---------------- */

  function setTabs(view) {
    document.querySelectorAll("#dl-view .dl-seg-btn").forEach(function (b) {
      const on = b.getAttribute("data-value") === view;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-selected", String(on));
    });
  }

  function redrawSwitcher() { if (window.depthlens && window.depthlens.renderSwitcher) window.depthlens.renderSwitcher(); }

  function open(asset) {
    asset = String(asset || "").toUpperCase();
    if (!asset) return;
    if (asset === pub.asset) return;
    const app = window.depthlens, trader = window.depthlensTrader;
    if (pub.asset === null) S.prevView = app && app.view === "trader" ? "trader" : "book";
    dropSocket();
    pub.asset = asset;
    S.history = []; S.latest = null; pub.lastFrame = null; S.attempt = 0; S.closeReason = ""; S.dirtyCharts = true;
    // The other views pause while hidden: the book charts skip rendering unless `view` is
    // "book", the trader view draws only while its own `view` is "trader".
    if (app) app.view = "cross";
    if (trader) trader.view = "cross";
    $("dl-root").setAttribute("data-view", "cross");
    $("dl-trader").hidden = true;
    $("dl-cross").hidden = false;
    $("dl-cv-asset").textContent = asset;
    ["dl-cv-ladder-body", "dl-cv-opps-body", "dl-cv-pairs-body", "dl-cv-stats"].forEach((id) => $(id).replaceChildren());
    ["dl-cv-ladder-empty", "dl-cv-opps-empty", "dl-cv-pairs-empty"].forEach((id) => { $(id).hidden = false; });
    $("dl-cv-ladder-empty").textContent = "Waiting for the first frame of " + asset + "…";
    setTabs(null);
    if (history.replaceState) history.replaceState(null, "", "#cross=" + encodeURIComponent(asset));
    redrawSwitcher();
    connect();
    window.dispatchEvent(new CustomEvent("depthlens:cross", { detail: asset }));
  }

  /** Leave the view; `view` ("book" or "trader") is shown again unless a tab already chose one. */
  function close(view) {
    if (pub.asset === null) return;
    dropSocket();
    pub.asset = null;
    setConnection("idle");
    $("dl-cross").hidden = true;
    if (history.replaceState && HASH_RE.test(location.hash)) history.replaceState(null, "", location.pathname + location.search);
    if (view) {
      if (window.depthlensTrader && window.depthlensTrader.setView) window.depthlensTrader.setView(view);
      else { $("dl-root").setAttribute("data-view", "book"); if (window.depthlens) { window.depthlens.view = "book"; window.depthlens.redraw(); } }
    }
    redrawSwitcher();
    window.dispatchEvent(new CustomEvent("depthlens:cross", { detail: null }));
  }

  function onClick(ev) {
    const asset = ev.target.closest(".dl-mkt-asset[data-asset]");
    if (asset) { ev.preventDefault(); open(asset.getAttribute("data-asset")); return; }
    if (pub.asset === null) return;
    if (ev.target.closest("#dl-cv-back")) { close(S.prevView); return; }
    if (ev.target.closest(".dl-mkt-stop")) return;
    // A venue button or a chip picks a market (depthlens_30_app.js switches to it): show it.
    if (ev.target.closest("#dl-symbol .dl-seg-btn") || ev.target.closest(".dl-int-chip")) { close(S.prevView); return; }
    // A view tab: depthlens_60_trader_view.js has already shown that view.
    if (ev.target.closest("#dl-view .dl-seg-btn")) close(null);
  }

  function start() {
    const root = $("dl-root");
    if (!root || !$("dl-cross") || !window.depthlens || !window.depthlens.ready || !window.depthlensTrader || !window.depthlensTrader.ready) { setTimeout(start, 50); return; }
    S.cfg = JSON.parse(root.getAttribute("data-config"));
    if (!S.cfg.cross) return;  // a server without the cross-venue view
    pub.open = open;
    pub.close = () => close(S.prevView);
    pub.history = () => S.history.slice();
    document.addEventListener("click", onClick);
    window.addEventListener("depthlens:theme", function () { S.tpl = null; S.dirtyCharts = true; scheduleRender(); });
    document.addEventListener("visibilitychange", function () { S.dirtyCharts = true; scheduleRender(); });
    setInterval(tick, 500);
    const m = HASH_RE.exec(location.hash);
    if (m) open(decodeURIComponent(m[1]));
    pub.ready = true;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
