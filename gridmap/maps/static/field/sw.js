/* The grid worker's app's service worker: the app opens with no network.
 *
 * It keeps the app's shell (the page, its script, Leaflet, the icon) in a cache named by
 * their content (__VERSION__, filled in by the server), so a reload or a restart offline
 * opens the app; the data is not here but in IndexedDB (store.js), which the app reads.
 * Pages and the labels go to the network first and fall back to the cache; the versioned
 * assets come from the cache. Every other API request goes to the network untouched: an
 * edit made offline waits in the app's queue, never in a cache.
 */
const CACHE = "gridmap-field-__VERSION__";
const ASSETS = "__ASSETS__";
const NETWORK_FIRST = ["/api/v1/labels", "/api/v1/categories"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("gridmap-field-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const answer = await fetch(request);
    if (answer.ok) cache.put(request, answer.clone());
    return answer;
  } catch (e) {
    const kept = (await cache.match(request)) || (request.mode === "navigate" ? await cache.match(request, { ignoreSearch: true }) : null);
    if (kept) return kept;
    throw e;
  }
}

async function cacheFirst(request) {
  const kept = await caches.match(request);
  if (kept) return kept;
  const answer = await fetch(request);
  if (answer.ok) (await caches.open(CACHE)).put(request, answer.clone());
  return answer;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" || NETWORK_FIRST.includes(url.pathname)) {
    event.respondWith(networkFirst(request));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  }
});
