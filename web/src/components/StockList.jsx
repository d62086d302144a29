import { useEffect, useMemo, useState } from 'preact/hooks';
import { paths, request, NetworkError } from '../api.js';
import { useCatalog } from '../catalog.js';
import { parseQty } from '../decimal.js';
import * as idb from '../idb.js';
import { readToken } from '../outbox.js';
import { entry, rank } from '../search.js';
import { useI18n } from '../state.js';
import { ago } from '../reports.js';
import { Movements } from './Movements.jsx';

const PAGE = 200;

async function fetchPage(storeId, { cursor, negative }) {
  const token = readToken();
  const query = { limit: PAGE, cursor, negative: negative ? 'true' : undefined };
  if (token) {
    // Read our own writes: the stock reflects every event this device has had accepted.
    const res = await request(paths.stock(storeId), { query: { ...query, after: token, timeout_ms: 3000 } });
    if (res.status !== 504) return res;
  }
  return request(paths.stock(storeId), { query });
}

function isLow(item, product) {
  if (item.negative) return true;
  const point = parseQty(product?.reorder_point ?? '');
  const onHand = parseQty(item.on_hand);
  return point !== null && onHand !== null && onHand <= point;
}

/** A store's stock: search, filter low or negative, exact quantities with units. */
export function StockList({ storeId, version, selected, onSelect }) {
  const { t, qty, when, lang, locale } = useI18n();
  const catalog = useCatalog();
  const [filter, setFilter] = useState('all');
  const [q, setQ] = useState('');
  const [items, setItems] = useState([]);
  const [next, setNext] = useState(null);
  const [note, setNote] = useState(null);
  const [loading, setLoading] = useState(false);
  const cacheKey = `stock:${storeId}:${filter === 'negative' ? 'neg' : 'all'}`;

  async function load(cursor = null) {
    setLoading(true);
    try {
      const res = await fetchPage(storeId, { cursor, negative: filter === 'negative' });
      if (!res.ok) {
        setNote(res.status === 403 ? t('forbidden') : t('load_error', { reason: res.data?.error || res.status }));
        if (!cursor) setItems([]);
        return;
      }
      const page = res.data?.items ?? [];
      const all = cursor ? [...items, ...page] : page;
      setItems(all);
      setNext(res.data?.next_cursor ?? null);
      setNote(null);
      if (!cursor) idb.put('kv', { items: all, saved_at: new Date().toISOString() }, cacheKey).catch(() => {});
    } catch (err) {
      if (!(err instanceof NetworkError)) throw err;
      const saved = await idb.get('kv', cacheKey).catch(() => null);
      if (saved && !cursor) { setItems(saved.items); setNext(null); }
      setNote(saved?.saved_at ? { saved: saved.saved_at } : t('offline_data')); // its age, in the language shown
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => { load(); }, [storeId, filter, version]);

  const shown = useMemo(() => {
    let list = items;
    if (filter === 'low') list = list.filter((i) => isLow(i, catalog.bySku.get(i.sku)));
    if (q.trim()) {
      list = list.filter((i) => {
        const p = catalog.bySku.get(i.sku);
        return rank(entry(p ?? { sku: i.sku, name: i.sku }), q) !== null;
      });
    }
    return list;
  }, [items, filter, q, catalog]);

  return (
    <section class="card stock" aria-labelledby="stock-h">
      <h2 id="stock-h">{t('stock')}</h2>
      <div class="filters">
        <label class="field grow">
          <span>{t('search_stock')}</span>
          <input id="stock-search" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} autoComplete="off" />
        </label>
        <fieldset class="seg">
          <legend>{t('filter')}</legend>
          {['all', 'low', 'negative'].map((f) => (
            <label class={filter === f ? 'on' : ''}>
              <input type="radio" name="stock-filter" value={f} checked={filter === f} onChange={() => setFilter(f)} />
              {t(`f_${f}`)}
            </label>
          ))}
        </fieldset>
        <button type="button" onClick={() => load()} disabled={loading}>{t('refresh')}</button>
      </div>
      {note ? <p class="muted saved-age" role="status">{note.saved ? t('saved_ago', { ago: ago(note.saved, locale) }) : note}</p> : null}
      {shown.length ? (
        <table class="stock-table">
          <thead>
            <tr><th scope="col">{t('product')}</th><th scope="col" class="num">{t('on_hand')}</th><th scope="col">{t('updated')}</th></tr>
          </thead>
          <tbody>
            {shown.map((i) => {
              const p = catalog.bySku.get(i.sku);
              const name = (p?.names && p.names[lang]) || p?.name || i.sku;
              const low = !i.negative && isLow(i, p);
              const open = selected === i.sku;
              return (
                <>
                <tr data-sku={i.sku} class={`${i.negative ? 'neg' : ''} ${low ? 'low' : ''} ${open ? 'sel' : ''}`}>
                  <td>
                    <button type="button" class="link" aria-expanded={open} onClick={() => onSelect(open ? null : i.sku)}>{name}</button>
                    <span class="sku">{i.sku}</span>
                  </td>
                  <td class="num">
                    <span class="on-hand" data-on-hand={i.on_hand}>{qty(i.on_hand, p?.unit)}</span>
                    {i.negative ? <span class="tag neg">{t('negative')}</span> : low ? <span class="tag low">{t('low')}</span> : null}
                  </td>
                  <td class="small">{when(i.updated_at)}</td>
                </tr>
                {open ? (
                  <tr class="moves-row" data-moves-for={i.sku}>
                    <td colSpan={3}><Movements storeId={storeId} sku={i.sku} onClose={() => onSelect(null)} /></td>
                  </tr>
                ) : null}
                </>
              );
            })}
          </tbody>
        </table>
      ) : <p class="muted">{loading ? '…' : t('no_stock')}</p>}
      {next ? <button type="button" onClick={() => load(next)} disabled={loading}>{t('load_more')}</button> : null}
    </section>
  );
}
