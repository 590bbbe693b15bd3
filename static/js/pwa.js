// Registers the service worker (/sw.js, see static/sw.js) and sends a failed boosted link to the offline page.
(function () {
  "use strict";
  var root = document.documentElement;
  var worker = root.getAttribute("data-service-worker");
  if (worker && "serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register(worker, { scope: root.getAttribute("data-service-worker-scope") || "/" });
    });
  }

  // A boosted link is fetched by htmx, not navigated: when the network is gone, navigate for real so the service
  // worker answers with the offline page. Other htmx requests say so in the live region.
  document.addEventListener("htmx:sendError", function (event) {
    var config = event.detail && event.detail.requestConfig;
    if (config && config.boosted && config.verb === "get" && event.detail.pathInfo) {
      window.location.assign(event.detail.pathInfo.requestPath);
      return;
    }
    var live = document.getElementById("live-region");
    if (live) live.textContent = "You appear to be offline: nothing was sent. Try again when you are connected.";
  });
})();
