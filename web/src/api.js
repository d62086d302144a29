// The one place that talks to the API: every request goes through `request`, which attaches the
// credentials (a bearer token once the token scheme exists) and reports reachability, so a failed
// fetch counts as offline whatever navigator.onLine says.

import { reportReachable } from './connection.js';

const TOKEN_KEY = 'bazaar.token';
const DEFAULT_TIMEOUT_MS = 10_000;

export class NetworkError extends Error {}

export function token() {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

function headers(body) {
  const h = { Accept: 'application/json' };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

/**
 * fetch + JSON. Resolves with {status, ok, data, headers} for any HTTP answer; rejects with
 * NetworkError when no answer came (offline, timeout), after telling connection.js.
 */
export async function request(path, { method = 'GET', body, timeoutMs = DEFAULT_TIMEOUT_MS, query } = {}) {
  const url = withQuery(path, query);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: headers(body),
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
  return { status: res.status, ok: res.ok, data, headers: res.headers };
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

/** EventSource cannot send headers: the token, when there is one, goes in the query. */
export function eventSource(path) {
  const t = token();
  return new EventSource(t ? withQuery(path, { access_token: t }) : path, { withCredentials: true });
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
  health: () => '/health',
};

/** POST a batch of events (the outbox's only way out). */
export function postEvents(events) {
  return request(paths.events(), { method: 'POST', body: { events }, timeoutMs: 20_000 });
}
