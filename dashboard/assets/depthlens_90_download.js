/* The rolling-window download links (GET /window/{market}?format=csv|parquet) follow the
 * market on screen: their href is set whenever a snapshot for a market arrives. */
(function () {
  "use strict";

  function point(market) {
    if (!market) return;
    ["csv", "parquet"].forEach(function (fmt) {
      const a = document.getElementById("dl-download-" + fmt);
      if (a) a.href = "/window/" + encodeURIComponent(market) + "?format=" + fmt;
    });
  }

  window.addEventListener("depthlens:snapshot", function (ev) {
    const msg = ev.detail || {};
    point(msg.market || msg.symbol);
  });
  window.addEventListener("depthlens:reset", function (ev) { point(ev.detail); });
})();
