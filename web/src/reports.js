// The analytics reports (api/routes/reports.py): {report, params, columns, rows}. When the report
// or the analytics process is not there (404, 503 analytics_unavailable) the dashboard says
// "not available" instead of failing.

import { paths, request } from './api.js';

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

export const dailySales = (store, query) => fetchReport(paths.dailySales(store), query);
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
  return {
    today: { revenue: today.revenue ?? '0.00', bills: today.bills ?? 0, units: today.units ?? '0' },
    bars: days.map((d) => ({ day: d, revenue: String(byDay.get(d)?.revenue ?? '0') })),
  };
}

/** movement_history rows, newest first, at most `limit`. */
export function movementRows(data, limit = 50) {
  const rows = Array.isArray(data?.rows) ? data.rows : [];
  return rows.slice(-limit).reverse();
}
