// The participant page's service worker: the page and its files come from the phone's
// cache at once, then from the server for next time (stale while revalidate), so a
// phone on a lecture hall's bad Wi-Fi opens the room instantly, and offline it still
// shows the last question and keeps an answer to send (participant.js does that).
// Nothing live is cached: the API, WebSockets, the console, the screen and the login
// always go to the server.
const CACHE = "pollcast-app-v3";
const SHELL = [
  "/static/style.css",
  "/static/js/common.js",
  "/static/js/participant.js",
  "/static/js/index.js",
  "/static/favicon.svg",
  "/static/icons/icon-192.png",
  "/manifest.webmanifest",
];
// Paths that are never a room (the contract's reserved names).
const RESERVED = new Set(["api", "ws", "static", "present", "admin", "login", "logout", "qr", "sms", "metrics",
  "healthz", "join", "sw.js", "manifest.webmanifest"]);

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

/**
 * The key a request is cached under. A room page is kept under its own address, and
 * only once the server served it: a mistyped room is never answered from the cache
 * (it gets the server's "Room not found" page).
 */
function cacheKey(url, request) {
  const parts = url.pathname.split("/").filter(Boolean);
  if (request.mode === "navigate" && parts.length === 1 && !RESERVED.has(parts[0])) return url.pathname;
  if (request.mode === "navigate" && parts.length === 0) return "/";
  // The participant's files only: the console's and the screen's scripts always come
  // from the server, so an upgrade reaches the presenter at once.
  if (SHELL.includes(url.pathname) || url.pathname.startsWith("/static/icons/")) return url.pathname;
  return null;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const key = cacheKey(url, request);
  if (!key) return;
  event.respondWith(caches.open(CACHE).then(async (cache) => {
    const cached = await cache.match(key);
    const fresh = fetch(request).then((response) => {
      // Only a real page or file replaces the cached one; a room that is gone (404) is
      // forgotten, so the next visit gets the server's page.
      if (response.ok && response.type === "basic") cache.put(key, response.clone());
      else if (response.status === 404) cache.delete(key);
      return response;
    });
    if (cached) {
      event.waitUntil(fresh.catch(() => {}));
      return cached;
    }
    return fresh;
  }));
});
