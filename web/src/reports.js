// The analytics reports (api/routes/reports.py): {report, params, columns, rows}. When the report
// or the analytics process is not there (404, 503 analytics_unavailable) the dashboard says
// "not available" instead of failing.

import { paths, request } from './api.js';
import { parse } from './decimal.js';
import * as idb from './idb.js';

/** {available, data, error} */
export async function fetchReport(path, query) {
  try {
    const res = await request(path, { query });
    if (res.status === 404 || (res.status === 503 && res.data?.error === 'analytics_unavailable')) {
      return { available: false, data: null };
    }
    if (!res.ok) return { available: true, data: null, error: res.data?.error || `HTTP ${res.status}` };
    return { available: true, data: res.data };
  } catch (err) {
    return { available: true, data: null, error: 'offline' };
  }
}

/**
 * fetchReport, remembered on this device: an answer is saved (with when), and while offline the
 * saved one comes back with `saved_at` so the page can say how old it is.
 */
export async function fetchSaved(path, query, key) {
  const got = await fetchReport(path, query);
  if (got.data) {
    idb.put('kv', { data: got.data, saved_at: new Date().toISOString() }, key).catch(() => {});
    return got;
  }
  if (got.error !== 'offline') return got;
  const saved = await idb.get('kv', key).catch(() => null);
  return saved ? { available: true, data: saved.data, saved_at: saved.saved_at, error: 'offline' } : got;
}

export const dailySales = (store, query) => fetchSaved(paths.dailySales(store), query, `sales:${store}`);
export const topSellers = (store, query) => fetchSaved(paths.topSellers(store), query, `top:${store}:${query.from}`);
export const voids = (store, query) => fetchSaved(paths.voids(store), query, `voids:${store}:${query.date}`);
export const reorder = (store) => fetchSaved(paths.reorder(store), {}, `reorder:${store}`);
export const movements = (store, query) => fetchReport(paths.movements(store), query);

/** The day as a date string in the store's time zone: "2026-11-22". */
export function localDay(timeZone, date = new Date()) {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
  } catch {
    return date.toISOString().slice(0, 10);
  }
}

/** The last `n` local days of the store, oldest first. */
export function lastDays(timeZone, n, now = new Date()) {
  return Array.from({ length: n }, (_, i) => localDay(timeZone, new Date(now.getTime() - (n - 1 - i) * 86_400_000)));
}

/**
 * daily_sales rows -> today's figures and one bar per day (days without sales are zero).
 * Values stay the report's exact decimal strings.
 */
export function salesDays(data, days) {
  const rows = Array.isArray(data?.rows) ? data.rows : [];
  const byDay = new Map();
  for (const r of rows) byDay.set(String(r.day), r);
  const today = byDay.get(days[days.length - 1]) ?? {};
  const revenue = today.revenue ?? '0.00';
  const margin = today.revenue == null ? '0.00' : today.gross_margin ?? null; // null: a line's cost is unknown
  return {
    today: { revenue, bills: today.bills ?? 0, margin, pct: percentOf(margin, revenue), uncosted: Number(today.uncosted_lines ?? 0) },
    bars: days.map((d) => ({ day: d, revenue: String(byDay.get(d)?.revenue ?? '0') })),
  };
}

/** part / whole in percent to one decimal, exact (decimal strings through BigInt); null when undefined. */
export function percentOf(part, whole) {
  const a = parse(String(part ?? ''), 5); // revenue is exact to the thousandth of a paisa
  const b = parse(String(whole ?? ''), 5);
  if (a === null || b === null || b === 0n) return null;
  const tenths = (a * 1000n) / b; // truncated toward zero
  const sign = tenths < 0n ? '-' : '';
  const abs = tenths < 0n ? -tenths : tenths;
  return `${sign}${abs / 10n}.${abs % 10n}`;
}

/** movement_history rows, newest first, at most `limit`. */
export function movementRows(data, limit = 50) {
  const rows = Array.isArray(data?.rows) ? data.rows : [];
  return rows.slice(-limit).reverse();
}

/** "5 minutes ago" in the page's language (Intl.RelativeTimeFormat), from an ISO instant. */
export function ago(iso, locale, now = Date.now()) {
  const s = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Number.isNaN(s)) return '';
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const abs = Math.abs(s);
  if (abs < 60) return rtf.format(0, 'second');
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86_400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86_400), 'day');
}

/** Rows of an answer that is a report table ({rows}), a list ({items}) or a bare array. */
export function rowsOf(data) {
  if (Array.isArray(data)) return data;
  return Array.isArray(data?.rows) ? data.rows : Array.isArray(data?.items) ? data.items : [];
}
