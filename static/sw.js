/* LeadFlow PM service worker (issue 20 item 3), served as /sw.js with its settings written above this line:
 * self.LEADFLOW_SW = {version, shell: [static URLs], offline: "/offline"}.
 *
 * - The shell (CSS, scripts, icons, the offline page) is cached at install, under a cache named by the version,
 *   and answered cache-first. A deploy that changes any of those files changes the version, so /sw.js changes,
 *   the new worker installs and the old cache is deleted.
 * - Everything else goes to the network and is never stored: pages (navigations), htmx fragments, downloads,
 *   and every figure of money on them. When a navigation fails, the offline page is shown instead.
 */
"use strict";

const SETTINGS = self.LEADFLOW_SW;
const PREFIX = "leadflow-shell-";
const CACHE = PREFIX + SETTINGS.version;
const SHELL = new Set(SETTINGS.shell);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...SETTINGS.shell, SETTINGS.offline].map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim())
  );
});

function offlinePage() {
  return caches.open(CACHE).then((cache) => cache.match(SETTINGS.offline, { ignoreVary: true })).then(
    (page) => page || new Response("You are offline.", { status: 503, headers: { "Content-Type": "text/plain" } })
  );
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // forms and actions: the network alone
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // Network only: a page is never answered from a cache, so no stale figure is ever shown as current.
    event.respondWith(fetch(request).catch(offlinePage));
    return;
  }
  if (!url.search && SHELL.has(url.pathname)) {
    event.respondWith(
      caches.open(CACHE).then((cache) => cache.match(request).then((hit) => hit || fetch(request)))
    );
  }
  // Anything else (htmx requests, badge counts, files, the API) is not touched: the browser's own network fetch.
});
