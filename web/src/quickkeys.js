// Quick keys: the store's most sold products, one tap each. From the API's quick-keys route when
// it answers (the whole store's sales), kept on the phone for offline use; else from this
// device's own sales history in the outbox.

import { request } from './api.js';
import * as idb from './idb.js';

export const QUICK_KEYS = 8;

/** [{sku, sold}] most sold first, from outbox records of sales that count. */
export function fromHistory(records, limit = QUICK_KEYS) {
  const sold = new Map();
  for (const r of records) {
    if (r.event?.type !== 'sale' || !['waiting', 'synced'].includes(r.state)) continue;
    for (const l of r.event.lines) sold.set(l.sku, (sold.get(l.sku) ?? 0) + 1);
  }
  return [...sold.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit).map(([sku, n]) => ({ sku, sold: n }));
}

/** The route's items ([{sku, name, names, unit, sold}]), or the saved ones, or null. */
export async function loadQuickKeys(storeId) {
  const key = `quick-keys:${storeId}`;
  try {
    const res = await request(`/v1/stores/${encodeURIComponent(storeId)}/quick-keys`);
    if (res.ok && Array.isArray(res.data?.items)) {
      await idb.put('kv', res.data.items, key).catch(() => {});
      return res.data.items;
    }
    if (res.status === 404 || res.status === 405) return null; // no such route on this server yet
  } catch { /* offline */ }
  return idb.get('kv', key).catch(() => null);
}
