// Live notifications: a WebSocket pushes the bell's badge (and announces the newest notification in
// #live-region); it reconnects with exponential backoff, and HTMX polling of the badge takes over
// while the socket cannot connect. The server sends ready-made HTML with hx-swap-oob parts.
// data-ws-url is a path on this site (served here, or routed to the live tier by a proxy) or an absolute
// URL of the live tier (LIVE_SOCKET_URL: same host, another port). Every delay is jittered, and a server
// restart (close code 1001) spreads the reconnects of all open tabs over RESTART_SPREAD_MS.
(function () {
  "use strict";
  var POLL_MS = 15000, MAX_DELAY_MS = 30000, RESTART_SPREAD_MS = 5000, GOING_AWAY = 1001;
  var wsPath, badgeUrl, socket = null, attempts = 0, pollTimer = null;

  function poll() {
    if (document.getElementById("notification-badge")) {
      htmx.ajax("GET", badgeUrl, { target: "#notification-badge", swap: "outerHTML" });
    }
  }

  function startPolling() {
    if (!pollTimer && badgeUrl) { pollTimer = setInterval(poll, POLL_MS); }
  }

  function stopPolling() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  function reconnectLater(code) {
    var delay = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random());
    if (code === GOING_AWAY && attempts === 0) { delay = Math.random() * RESTART_SPREAD_MS; }
    attempts += 1;
    if (attempts >= 2) { startPolling(); }
    setTimeout(connect, delay);
  }

  function socketUrl() {
    // An absolute data-ws-url names the live tier (http(s): becomes ws(s):); a path stays on this page's host.
    if (/^(wss?|https?):\/\//i.test(wsPath)) { return wsPath.replace(/^http/i, "ws"); }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + new URL(wsPath, location.href).pathname;
  }

  function connect() {
    try {
      socket = new WebSocket(socketUrl());
    } catch (err) {
      reconnectLater();
      return;
    }
    socket.onopen = function () { attempts = 0; stopPolling(); };
    socket.onmessage = function (event) {
      htmx.swap(document.body, event.data, { swapStyle: "none" });
    };
    socket.onclose = function (event) { socket = null; reconnectLater(event.code); };
  }

  function start() {
    var conn = document.getElementById("live-connection");
    if (!conn || typeof htmx === "undefined") { return; }
    wsPath = conn.getAttribute("data-ws-url");
    badgeUrl = conn.getAttribute("data-badge-url");
    if (!("WebSocket" in window) || !wsPath) { startPolling(); return; }
    connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
