// The app's small shared state (language, store, stores, reachability) and the hooks that read it.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { formatDateTime, formatMoney, formatNumber, formatQty, localeFor, translate, unitName, applyLanguage } from './i18n.js';
import { isOnline, onChange } from './connection.js';
import { auth } from './api.js';

function createStore(initial) {
  let state = initial;
  const subs = new Set();
  return {
    get: () => state,
    set(patch) {
      state = { ...state, ...patch };
      for (const fn of subs) fn(state);
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
  };
}

export function useStore(store) {
  const [s, set] = useState(store.get());
  useEffect(() => {
    set(store.get());
    return store.subscribe(set);
  }, [store]);
  return s;
}

const saved = (key, fallback) => {
  try { return localStorage.getItem(key) ?? fallback; } catch { return fallback; }
};

function initialStore() {
  const fromUrl = new URLSearchParams(location.search).get('store');
  return fromUrl || saved('bazaar.store', '');
}

/** The language a locale tag ("ur-PK", "hi-IN") asks for, when the app has it. */
export function languageOf(locale) {
  const base = String(locale || '').split(/[-_]/)[0].toLowerCase();
  return ['en', 'ur'].includes(base) ? base : null;
}

export const app = createStore({
  // the person's choice; at first start, the phone's language (the store's, once known: App.jsx)
  lang: saved('bazaar.lang', null) ?? (typeof navigator !== 'undefined' && languageOf(navigator.language)) ?? 'en',
  storeId: initialStore(),
  stores: [],
  storesFromCache: false,
  online: isOnline(),
  path: location.pathname,
});

onChange((online) => app.set({ online }));

export function setLanguage(lang) {
  localStorage.setItem('bazaar.lang', lang);
  applyLanguage(lang);
  app.set({ lang });
}

/** At first start (no language chosen on this phone yet): the store's locale picks it. */
export function autoLanguage(locale) {
  if (saved('bazaar.lang', null) !== null) return;
  const lang = languageOf(locale);
  if (lang && lang !== app.get().lang) {
    applyLanguage(lang);
    app.set({ lang });
  }
}

export function setStore(storeId) {
  localStorage.setItem('bazaar.store', storeId);
  const url = new URL(location.href);
  url.searchParams.set('store', storeId);
  history.replaceState(history.state, '', url);
  app.set({ storeId });
}

export function navigate(path) {
  const url = new URL(path, location.href);
  if (app.get().storeId) url.searchParams.set('store', app.get().storeId);
  history.pushState(null, '', url);
  app.set({ path: url.pathname });
  window.scrollTo(0, 0);
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => app.set({ path: location.pathname }));
}

const DEFAULT_STORE = { locale: 'en-PK', currency: 'PKR', timezone: 'Asia/Karachi' };

/** The current store (with defaults when the catalog does not know it). */
export function currentStore(state) {
  return state.stores.find((s) => s.store_id === state.storeId) ?? { ...DEFAULT_STORE, store_id: state.storeId, name: state.storeId };
}

/** This device's credential: {paired, reason, credential} (auth.js), kept current. */
export function useAuth() {
  const [s, set] = useState(auth.state());
  useEffect(() => {
    set(auth.state());
    return auth.subscribe(set);
  }, []);
  return s;
}

/** Strings and formatters for the current language and store. */
export function useI18n() {
  const state = useStore(app);
  const store = currentStore(state);
  const { lang } = state;
  return useMemo(() => {
    const locale = localeFor(lang, store.locale);
    const tz = store.timezone;
    return {
      lang,
      locale,
      t: (key, vars) => translate(lang, key, vars),
      unit: (u) => unitName(lang, u),
      money: (v) => formatMoney(v, store.currency, locale),
      num: (v) => formatNumber(v, locale),
      qty: (v, u) => formatQty(v, u, lang, locale),
      when: (iso) => formatDateTime(iso, locale, tz),
    };
  }, [lang, store.locale, store.currency, store.timezone]);
}
