// Live notifications: a WebSocket pushes the bell's badge (and announces the newest notification in
// #live-region); it reconnects with exponential backoff, and HTMX polling of the badge takes over
// while the socket cannot connect. The server sends ready-made HTML with hx-swap-oob parts.
(function () {
  "use strict";
  var POLL_MS = 15000, MAX_DELAY_MS = 30000;
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

  function reconnectLater() {
    var delay = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, attempts)) * (0.75 + Math.random() / 2);
    attempts += 1;
    if (attempts >= 2) { startPolling(); }
    setTimeout(connect, delay);
  }

  function connect() {
    // The page's own host and scheme (ws: or wss:), whatever host the server wrote into data-ws-url.
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + new URL(wsPath, location.href).pathname);
    } catch (err) {
      reconnectLater();
      return;
    }
    socket.onopen = function () { attempts = 0; stopPolling(); };
    socket.onmessage = function (event) {
      htmx.swap(document.body, event.data, { swapStyle: "none" });
    };
    socket.onclose = function () { socket = null; reconnectLater(); };
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
