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
