// Stores and products: from the API when it answers, else from what was saved on this device
// (IndexedDB), so the counter finds products offline. The service worker keeps a copy too.

import { useEffect, useState } from 'preact/hooks';
import { paths, request } from './api.js';
import * as idb from './idb.js';
import { entry } from './search.js';

const PAGE = 500;
const MAX_PAGES = 100;

async function pages(path, limit) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const res = await request(path, { query: { limit, cursor } });
    if (!res.ok) throw Object.assign(new Error(res.data?.error || `HTTP ${res.status}`), { status: res.status });
    const data = res.data;
    const page = Array.isArray(data) ? data : data?.items ?? [];
    items.push(...page);
    cursor = Array.isArray(data) ? null : data?.next_cursor;
    if (!cursor) break;
  }
  return items;
}

async function cached(key, load) {
  try {
    const items = await load();
    const value = { items, saved_at: new Date().toISOString() };
    await idb.put('kv', value, key);
    return { ...value, fromCache: false };
  } catch (err) {
    const value = await idb.get('kv', key).catch(() => null);
    if (value) return { ...value, fromCache: true, error: String(err.message || err) };
    return { items: [], saved_at: null, fromCache: true, error: String(err.message || err) };
  }
}

export function loadStores() {
  return cached('stores', () => pages(paths.stores(), 1000));
}

let catalog = null;
const listeners = new Set();

/** Products with their search entries: {products, entries, bySku, saved_at, fromCache}. */
export async function loadCatalog() {
  const got = await cached('products', () => pages(paths.products(), PAGE));
  catalog = {
    ...got,
    products: got.items,
    entries: got.items.map(entry),
    bySku: new Map(got.items.map((p) => [p.sku, p])),
  };
  for (const fn of listeners) fn(catalog);
  return catalog;
}

export function onCatalog(fn) {
  listeners.add(fn);
  if (catalog) fn(catalog);
  return () => listeners.delete(fn);
}

const EMPTY = { products: [], entries: [], bySku: new Map(), saved_at: null, fromCache: true, loading: true };

export function useCatalog() {
  const [c, set] = useState(catalog ?? EMPTY);
  useEffect(() => onCatalog(set), []);
  return c;
}
