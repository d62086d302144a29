// Service worker (template: the build fills in PRECACHE and VERSION, see vite.config.js).
// App shell: cached at install, served cache-first (assets are content-hashed); pages are
// network-first with the cached shell as the offline answer. The catalog (GET /v1/products,
// GET /v1/stores) is network-first with the last answer kept for offline. Everything else,
// events above all, goes to the network untouched: the page's outbox handles being offline.

const VERSION = '__VERSION__';
const PRECACHE = __PRECACHE__;
const SHELL = `bazaar-shell-${VERSION}`;
const DATA = 'bazaar-data-v1';
const PAGES = new Set(['/', '/counter', '/index.html']);
const CATALOG = new Set(['/v1/products', '/v1/stores']);

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('bazaar-shell-') && key !== SHELL) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

async function networkFirst(request, cacheName, cacheKey = request) {
  const cache = await caches.open(cacheName);
  try {
    const res = await fetch(request);
    if (res.ok) await cache.put(cacheKey, res.clone());
    return res;
  } catch (err) {
    const hit = await cache.match(cacheKey);
    if (hit) return hit;
    throw err;
  }
}

async function cacheFirst(request) {
  const hit = await caches.match(request);
  if (hit) return hit;
  const res = await fetch(request);
  if (res.ok) (await caches.open(SHELL)).put(request, res.clone());
  return res;
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate' || PAGES.has(url.pathname)) {
    event.respondWith(networkFirst(request, SHELL, '/').catch(() => caches.match('/')));
  } else if (url.pathname.startsWith('/assets/') || PRECACHE.includes(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (CATALOG.has(url.pathname)) {
    event.respondWith(networkFirst(request, DATA));
  }
});

self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});
