/* depthlens: the running markets — switcher, integrity chips, start and stop.
 *
 * Markets start and stop while pages are open (this page or anyone else's), so the list is the
 * server's: GET /symbols when the page loads, after this page starts or stops one, and whenever
 * a frame's `integrity` (a map of every running market) names other markets than those shown.
 * The switcher groups markets by base asset (BTC from BTCUSDT or BTC-USD) with one button per
 * venue, and the asset's name as a button to its cross-venue view; the integrity bar has one chip per market, with its stop button. The chips' states are
 * filled by depthlens_30_app.js, which also owns the socket and switching (`depthlens.setMarkets`).
 */
(function () {
  "use strict";

  // Quote assets stripped from a Binance symbol to find its base; longest first (USDT before USD).
  const QUOTES = ["FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "TRY", "BTC", "ETH", "BNB"];
  const DEFAULT_VENUE = "binance-usdm";
  const REFRESH_GAP_MS = 1000;   // at most one /symbols request a second, however many frames differ
  const MESSAGE_KEEP_MS = 8000;  // a success note fades; an error stays until the next action

  const M = { cfg: null, markets: [], shownKeys: "", switcherSig: "", seq: 0, inflight: 0, again: false, lastAt: 0,
    timer: null, msgTimer: null, busy: false };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* ---------------- market naming ---------------- */

  /** A market from its runtime key: bare symbols are USDT-M, others are "venue:symbol". */
  function fromKey(key) {
    const i = key.lastIndexOf(":");
    return i < 0 ? { key: key, venue: DEFAULT_VENUE, symbol: key }
      : { key: key, venue: key.slice(0, i), symbol: key.slice(i + 1) };
  }

  function baseAsset(symbol) {
    if (symbol.indexOf("-") > 0) return symbol.split("-")[0];  // Coinbase: BASE-QUOTE
    const quote = QUOTES.find((q) => symbol.length > q.length && symbol.endsWith(q));
    return quote ? symbol.slice(0, -quote.length) : symbol;
  }

  function venueLabel(venue) { return venue.replace(/^binance-/, ""); }

  /** Markets grouped by base asset, in the server's order of first appearance. */
  function groupByAsset(markets) {
    const groups = [];
    const byAsset = {};
    markets.forEach(function (m) {
      const asset = baseAsset(m.symbol);
      if (!byAsset[asset]) { byAsset[asset] = { asset: asset, markets: [] }; groups.push(byAsset[asset]); }
      byAsset[asset].markets.push(m);
    });
    return groups;
  }

  /* ---------------- drawing ---------------- */

  function renderSwitcher() {
    const box = $("dl-market-groups");
    const current = window.depthlens.symbol;
    const cross = window.depthlensCross ? window.depthlensCross.asset : null;  // its view is open
    const sig = M.shownKeys + "|" + current + "|" + cross;
    if (sig === M.switcherSig) return;  // unchanged: keep the buttons (and a hover or focus on them)
    M.switcherSig = sig;
    box.replaceChildren.apply(box, groupByAsset(M.markets).map(function (g) {
      const buttons = g.markets.map(function (m) {
        const b = el("button", "dl-seg-btn" + (m.key === current ? " is-active" : ""), venueLabel(m.venue));
        b.type = "button";
        b.setAttribute("data-value", m.key);
        b.setAttribute("aria-pressed", String(m.key === current));
        b.setAttribute("aria-label", "Show " + m.key);
        b.title = m.venue + ":" + m.symbol;
        return b;
      });
      const seg = el("div", "dl-seg");
      seg.replaceChildren.apply(seg, buttons);
      // The asset's name opens its cross-venue view (depthlens_80_cross_venue.js); a venue
      // button goes back to that single market.
      const name = el("button", "dl-mkt-asset" + (g.asset === cross ? " is-active" : ""), g.asset);
      name.type = "button";
      name.setAttribute("data-asset", g.asset);
      name.setAttribute("aria-pressed", String(g.asset === cross));
      name.setAttribute("aria-label", "Cross-venue view of " + g.asset);
      name.title = g.asset + " across its venues: best bid/ask per venue, basis and funding, " +
        "merged depth, arbitrage after fees, 24 h statistics.";
      const group = el("div", "dl-mkt-group");
      group.setAttribute("data-asset", g.asset);
      group.replaceChildren(name, seg);
      return group;
    }));
  }

  function chip(m) {
    const c = el("div", "dl-int-chip");
    c.setAttribute("data-symbol", m.key);
    c.setAttribute("data-state", "unknown");
    c.title = m.key + ": book sync state, age of the last book event, update-id gaps detected and " +
      "snapshots re-fetched since start. Click to show it.";
    const stop = el("button", "dl-mkt-stop", "×");
    stop.type = "button";
    stop.setAttribute("data-market", m.key);
    stop.setAttribute("aria-label", "Stop " + m.key);
    stop.title = "Stop " + m.key;
    c.replaceChildren(el("span", "dl-dot"), el("span", "dl-int-symbol", m.key),
      el("span", "dl-int-status", "waiting"), el("span", "dl-int-detail", ""), stop);
    return c;
  }

  /** Take a new market list: redraw only if it changed, then tell the app (it may switch). */
  function apply(markets) {
    const keys = markets.map((m) => m.key);
    const sig = keys.join("\n");
    M.markets = markets;
    if (sig !== M.shownKeys) {
      M.shownKeys = sig;
      const box = $("dl-int-chips");
      box.replaceChildren.apply(box, markets.map(chip));
    }
    window.depthlens.setMarkets(keys);
    renderSwitcher();  // after setMarkets: the active button is the symbol it settled on
  }

  /* ---------------- the server's list ---------------- */

  function parseSymbols(body) {
    const list = body && Array.isArray(body.symbols) ? body.symbols : null;
    if (!list) throw new Error("GET /symbols: no symbols list");
    // `key` names the market in every route and frame (the bare symbol for USDT-M, else
    // venue:symbol); `symbol` is the venue's own name, which the base asset is read from.
    return list.map(function (s) {
      const key = s && (typeof s.key === "string" && s.key ? s.key : s.symbol);
      if (typeof key !== "string" || !key) return null;
      const m = fromKey(key);
      if (typeof s.venue === "string" && s.venue) m.venue = s.venue;
      if (typeof s.symbol === "string" && s.symbol) m.symbol = s.symbol;
      return m;
    }).filter(Boolean);
  }

  async function refresh() {
    const mine = ++M.seq;
    M.inflight++; M.again = false; M.lastAt = performance.now();
    try {
      const r = await fetch(M.cfg.symbolsPath, { cache: "no-store", headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error("GET /symbols: HTTP " + r.status);
      const markets = parseSymbols(await r.json());
      // Only the newest request's answer counts: an older one may predate a start or a stop.
      // An empty list is a server starting or stopping: keep the last.
      if (mine === M.seq && markets.length) apply(markets);
    } catch (err) {
      // The server being away is the app's banner's business; the list is retried on the next mismatch.
      console.warn("depthlens: market list not refreshed:", String(err));
    } finally {
      M.inflight--;
      if (M.again && !M.inflight) requestRefresh();
    }
  }

  /** Refresh soon: one request at a time, at most one a REFRESH_GAP_MS. */
  function requestRefresh() {
    if (M.inflight) { M.again = true; return; }
    if (M.timer) return;
    const wait = Math.max(0, M.lastAt + REFRESH_GAP_MS - performance.now());
    M.timer = setTimeout(function () { M.timer = null; refresh(); }, wait);
  }

  function onIntegrity(integrity) {
    if (!integrity || typeof integrity !== "object") return;
    const seen = Object.keys(integrity).sort().join("\n");
    const shown = M.markets.map((m) => m.key).sort().join("\n");
    if (seen !== shown) requestRefresh();
  }

  /* ---------------- start and stop ---------------- */

  function say(text, kind) {
    const msg = $("dl-market-msg");
    msg.textContent = text;
    msg.setAttribute("data-kind", text ? kind : "none");
    clearTimeout(M.msgTimer);
    if (kind === "ok") M.msgTimer = setTimeout(() => say("", "none"), MESSAGE_KEEP_MS);
  }

  /** The API's error as one plain sentence: `detail` is a string, or a list from validation. */
  async function errorText(response) {
    let detail = "";
    try {
      const body = await response.json();
      detail = body && body.detail;
      if (Array.isArray(detail)) detail = detail.map((d) => (d && d.msg) || String(d)).join("; ");
    } catch (err) { detail = ""; }
    detail = String(detail || "HTTP " + response.status).trim();
    return /[.!?]$/.test(detail) ? detail : detail + ".";
  }

  async function call(method, url, body) {
    const init = { method: method, headers: { Accept: "application/json" } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(url, init);
  }

  async function startMarket() {
    const input = $("dl-market-input");
    const name = input.value.trim();
    if (!name) { say("Type a market to start, e.g. SOLUSDT or binance-usdm:SOLUSDT.", "error"); return; }
    if (M.busy) return;
    M.busy = true;
    $("dl-market-start").disabled = true;
    say("Starting " + name + "…", "busy");
    try {
      const r = await call("POST", M.cfg.marketsPath, { market: name });
      if (r.ok) {
        const reply = await r.json();
        input.value = "";
        say("Started " + reply.symbol + " (" + reply.state + "); it is live once its book syncs.", "ok");
      } else {
        say("Could not start " + name + ": " + (await errorText(r)), "error");
      }
    } catch (err) {
      say("Could not reach the server to start " + name + ".", "error");
    } finally {
      M.busy = false;
      $("dl-market-start").disabled = false;
      refresh();
    }
  }

  async function stopMarket(key) {
    if (M.busy) return;
    if (M.markets.length <= 1) {
      say("The last market cannot be stopped from here; start another one first.", "error");
      return;
    }
    M.busy = true;
    say("Stopping " + key + "…", "busy");
    try {
      const r = await call("DELETE", M.cfg.marketsPath + "/" + encodeURIComponent(key));
      if (r.ok || r.status === 404) {
        // Gone either way (a 404: someone else stopped it first); move off it before the
        // socket's reconnect would ask for it again.
        M.seq++;  // a list requested before the stop must not bring it back
        apply(M.markets.filter((m) => m.key !== key));
        say(r.ok ? "Stopped " + key + "." : key + " was not running.", "ok");
      } else {
        say("Could not stop " + key + ": " + (await errorText(r)), "error");
      }
    } catch (err) {
      say("Could not reach the server to stop " + key + ".", "error");
    } finally {
      M.busy = false;
      refresh();
    }
  }

  function onClick(ev) {
    const stop = ev.target.closest(".dl-mkt-stop");
    if (stop) { ev.preventDefault(); stopMarket(stop.getAttribute("data-market")); return; }
    if (ev.target.closest("#dl-market-start")) { ev.preventDefault(); startMarket(); }
  }

  function onKey(ev) {
    if (ev.key === "Enter" && ev.target && ev.target.id === "dl-market-input") { ev.preventDefault(); startMarket(); }
  }

  function init() {
    const root = $("dl-root");
    if (!root || !$("dl-market-groups") || !window.depthlens || !window.depthlens.ready) { setTimeout(init, 50); return; }
    M.cfg = JSON.parse(root.getAttribute("data-config"));
    // Drawn at once from the page's configured markets, then corrected by the server's list.
    apply(M.cfg.symbols.map(fromKey));
    document.addEventListener("click", onClick);
    document.addEventListener("keydown", onKey);
    window.addEventListener("depthlens:frame", (ev) => onIntegrity(ev.detail && ev.detail.integrity));
    window.addEventListener("depthlens:snapshot", (ev) => onIntegrity(ev.detail && ev.detail.latest && ev.detail.latest.integrity));
    window.addEventListener("depthlens:closed", () => requestRefresh());
    const pub = window.depthlens;
    pub.refreshMarkets = refresh;
    pub.renderSwitcher = renderSwitcher;
    const described = (markets) => groupByAsset(markets).map((g) => ({ asset: g.asset,
      venues: g.markets.map((m) => venueLabel(m.venue)), keys: g.markets.map((m) => m.key) }));
    pub.marketGroups = () => described(M.markets);
    pub.groupMarkets = (keys) => described(keys.map(fromKey));  // test hook: any keys, no DOM
    pub.baseAsset = baseAsset;
    refresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
