import { useState } from 'preact/hooks';
import { app, setStore, useI18n, useStore } from '../state.js';

/** A select of the owner's stores; a typed store id when the store list cannot be had. */
export function StorePicker() {
  const state = useStore(app);
  const { t } = useI18n();
  const [typed, setTyped] = useState(state.storeId);
  const known = state.stores.some((s) => s.store_id === state.storeId);

  if (state.stores.length) {
    return (
      <label class="field inline">
        <span>{t('store')}</span>
        <select value={state.storeId} onChange={(e) => setStore(e.currentTarget.value)}>
          {!known && state.storeId ? <option value={state.storeId}>{state.storeId}</option> : null}
          {!state.storeId ? <option value="">{t('choose_store')}</option> : null}
          {state.stores.map((s) => <option value={s.store_id}>{s.name || s.store_id}</option>)}
        </select>
      </label>
    );
  }
  return (
    <form class="field inline" onSubmit={(e) => { e.preventDefault(); if (typed.trim()) setStore(typed.trim()); }}>
      <label for="store-id">{t('store_id_prompt')}</label>
      <input id="store-id" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} pattern="[A-Za-z0-9._:\-]{1,64}" required />
      <button type="submit">{t('use_store')}</button>
    </form>
  );
}

/** The first screen with no store chosen: every store as a big button (name, id, zone), no ids to type. */
export function StoreList({ stores }) {
  const { t } = useI18n();
  if (!stores.length) return <p class="muted">{t('no_stores')}</p>;
  return (
    <section class="page stores" aria-labelledby="stores-h">
      <h1 id="stores-h">{t('choose_store')}</h1>
      <ul class="store-list">
        {stores.map((s) => (
          <li key={s.store_id}>
            <button type="button" class="store-card" data-store={s.store_id} onClick={() => setStore(s.store_id)}>
              <strong>{s.name || s.store_id}</strong>
              <span class="muted small">{s.store_id} · {s.timezone}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
