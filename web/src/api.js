// The one place that talks to the API: every request goes through `request`, which attaches the
// device's access token (auth.js), renews it once on a 401 and retries, and reports reachability,
// so a failed fetch counts as offline whatever navigator.onLine says.

import { createAuth, KEY_ITEM, RenewFailed } from './auth.js';
import { reportReachable } from './connection.js';

const DEFAULT_TIMEOUT_MS = 10_000;

export class NetworkError extends Error {}

function headers(body, token) {
  const h = { Accept: 'application/json' };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

/**
 * One fetch + JSON with the given token (or none). Resolves with {status, ok, data, headers} for
 * any HTTP answer; rejects with NetworkError when no answer came (offline, timeout), after
 * telling connection.js.
 */
async function send(path, { method = 'GET', body, timeoutMs = DEFAULT_TIMEOUT_MS, query, token } = {}) {
  const url = withQuery(path, query);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: headers(body, token),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: abort.signal,
    });
  } catch (err) {
    reportReachable(false);
    throw new NetworkError(err?.name === 'AbortError' ? 'timed out' : String(err?.message || err));
  } finally {
    clearTimeout(timer);
  }
  reportReachable(true);
  let data = null;
  const text = await res.text().catch(() => '');
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: 'not_json', detail: [{ reason: text.slice(0, 200) }] }; }
  }
  return { status: res.status, ok: res.ok, data, text, headers: res.headers }; // text: a CSV export's body
}

const memoryStorage = () => {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
};

function deviceStorage() {
  try {
    localStorage.getItem(KEY_ITEM);
    return localStorage;
  } catch {
    return memoryStorage(); // storage refused (a locked-down browser): paired until the tab closes
  }
}

export const auth = createAuth({
  post: (path, body, { token, timeoutMs } = {}) => send(path, { method: 'POST', body, token, timeoutMs }),
  storage: typeof window === 'undefined' ? memoryStorage() : deviceStorage(),
});

if (typeof window !== 'undefined') {
  window.addEventListener('storage', (e) => { if (e.key === KEY_ITEM || e.key === null) auth.reload(); });
}

// What a request gets while the device holds no key: the same shape as the server's 401, so
// callers (the outbox above all) keep what they had and wait, without a round trip.
const NOT_PAIRED = Object.freeze({ status: 401, ok: false, data: { error: 'not_paired' }, headers: new Headers() });

/**
 * An authenticated request: resolves with {status, ok, data, headers} for any HTTP answer;
 * rejects with NetworkError when no answer came. A 401 renews the token once (shared with any
 * concurrent request) and retries; a key the server refuses returns the device to pairing.
 */
export async function request(path, options = {}) {
  if (options.auth === false) return send(path, options);
  try {
    let token = await auth.token();
    if (!token) return NOT_PAIRED;
    const first = await send(path, { ...options, token });
    if (first.status !== 401) return first;
    token = await auth.token({ stale: token });
    if (!token) return first;
    return await send(path, { ...options, token });
  } catch (err) {
    if (err instanceof RenewFailed) return err.answer;
    throw err;
  }
}

export function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

/**
 * A server-sent event stream that stays open: EventSource cannot send headers, so the access
 * token goes in the query (`?access_token=`). A stream the server ends (its token expired or was
 * revoked: 401 closes an EventSource for good) or that drops while its token is old is opened
 * again with a fresh token, after a growing pause. `on`: {open, error, <event name>: handler}.
 * Returns {close}.
 */
export function liveStream(path, on) {
  let es = null;
  let closed = false;
  let failures = 0;
  let timer = null;
  let latest = 0; // only the newest open() may start a stream (a re-pairing can overtake one)

  function again() {
    clearTimeout(timer);
    failures += 1;
    const ms = Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 6));
    // The second failure in a row renews the token even if it looks good (its jti may have been
    // revoked, by a sign-out elsewhere); later ones only wait longer.
    timer = setTimeout(() => open(failures === 2), ms / 2 + (ms / 2) * Math.random());
  }

  async function open(forceRenew) {
    if (closed) return;
    const mine = ++latest;
    let token;
    try {
      token = await auth.token({ force: forceRenew });
    } catch {
      if (mine === latest) again(); // offline, or the server is busy: try later
      return;
    }
    if (closed || !token || mine !== latest) return; // not paired: nothing may be streamed
    const stream = new EventSource(withQuery(path, { access_token: token }), { withCredentials: true });
    es = stream;
    stream.onopen = () => { failures = 0; on.open?.(); };
    stream.onerror = () => {
      on.error?.();
      // CLOSED: the server refused (401/403) or answered no stream; CONNECTING with a stale
      // token: the browser would retry with the same token, so take over with a fresh one.
      if (stream.readyState === EventSource.CLOSED || !auth.isFresh(token)) {
        stream.close();
        if (es === stream) again();
      }
    };
    for (const [name, fn] of Object.entries(on)) {
      if (name !== 'open' && name !== 'error') stream.addEventListener(name, fn);
    }
  }

  const unsubscribe = auth.subscribe((s) => { // re-paired (or signed out): start over with that key
    es?.close();
    es = null;
    failures = 0;
    clearTimeout(timer);
    if (s.paired) open(false);
  });
  open(false);
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      unsubscribe();
      es?.close();
    },
  };
}

const enc = encodeURIComponent;

export const paths = {
  events: () => '/v1/events',
  stores: () => '/v1/stores',
  products: () => '/v1/products',
  storeProducts: (store) => `/v1/stores/${enc(store)}/products`,
  stock: (store) => `/v1/stores/${enc(store)}/stock`,
  stockItem: (store, sku) => `/v1/stores/${enc(store)}/stock/${enc(sku)}`,
  alerts: (store) => `/v1/stores/${enc(store)}/alerts`,
  alertAck: (store, id) => `/v1/stores/${enc(store)}/alerts/${enc(id)}/ack`,
  alertStream: (store) => `/v1/stores/${enc(store)}/alerts/stream`,
  dailySales: (store) => `/v1/stores/${enc(store)}/reports/daily_sales`,
  movements: (store) => `/v1/stores/${enc(store)}/reports/movement_history`,
  topSellers: (store) => `/v1/stores/${enc(store)}/reports/top_sellers`,
  voids: (store) => `/v1/stores/${enc(store)}/reports/voids`,
  reorder: (store) => `/v1/stores/${enc(store)}/reorder`,
  health: () => '/health',
};

/** POST a batch of events (the outbox's only way out). */
export function postEvents(events) {
  return request(paths.events(), { method: 'POST', body: { events }, timeoutMs: 20_000 });
}
