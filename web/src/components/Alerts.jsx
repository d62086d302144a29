import { useEffect, useRef, useState } from 'preact/hooks';
import { liveStream, paths, request } from '../api.js';
import { useCatalog } from '../catalog.js';
import { useI18n } from '../state.js';
import { parseQty, qtyString } from '../decimal.js';
import { actorName } from './Voids.jsx';

const LEVEL = { negative_stock: 4, out_of_stock: 3, low_stock: 2, running_out: 1 };
const order = (a, b) => (LEVEL[b.kind] ?? 0) - (LEVEL[a.kind] ?? 0) || (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);

/** " (2 carton)" when the suggestion is rounded to a pack the product has. */
function inPacks(a, p, qty) {
  const pack = a.reorder_unit && p?.packs?.find((x) => x.unit === a.reorder_unit);
  const size = pack && parseQty(pack.size);
  const want = parseQty(a.suggested_reorder);
  if (!size || want === null || want % size !== 0n) return '';
  return ` (${qty(qtyString((want * 1000n) / size), a.reorder_unit)})`;
}

/** The acknowledged list with `alert` added (once), carrying who acknowledged it and when. */
function withAck(done, alert, ack) {
  const entry = { ...alert, state: 'acknowledged', acked_by: ack.by ?? null, acked_at: ack.acked_at ?? null };
  return [entry, ...done.filter((x) => x.alert_id !== alert.alert_id)];
}

/** Active alerts: listed, then kept live by server-sent events; each can be acknowledged, and the
 * acknowledged ones still open are listed with who acknowledged them and when. */
export function Alerts({ storeId, onChange }) {
  const { t, qty, num, when, lang } = useI18n();
  const catalog = useCatalog();
  const [items, setItems] = useState([]);
  const [acked, setAcked] = useState([]);
  const [live, setLive] = useState(false);
  const [error, setError] = useState(null);
  const refetch = useRef(null);

  /** The active alerts; resolves with the answer's status (0: no answer). */
  async function load() {
    try {
      const res = await request(paths.alerts(storeId));
      if (res.ok) {
        setItems((res.data?.items ?? res.data ?? []).slice().sort(order));
        setError(null);
        const all = await request(paths.alerts(storeId), { query: { state: 'all', limit: 50 } });
        if (all.ok) setAcked((all.data?.items ?? []).filter((a) => a.state === 'acknowledged'));
      }
      else setError(res.status === 404 ? t('not_available') : res.status === 403 ? t('forbidden') : t('load_error', { reason: res.data?.error || res.status }));
      return res.status;
    } catch {
      setError(t('offline_data'));
      return 0;
    }
  }

  useEffect(() => {
    const later = () => {
      clearTimeout(refetch.current);
      refetch.current = setTimeout(load, 400);
      onChange?.();
    };
    let opened = false;
    let stream = null;
    let gone = false;
    const open = () => liveStream(paths.alertStream(storeId), {
      open: () => {
        setLive(true);
        if (opened) later(); // opened again (a new token, the network back): catch up on what passed
        opened = true;
      },
      error: () => setLive(false),
      alert: (m) => {
        const a = JSON.parse(m.data);
        setLive(true);
        setItems((list) => (list.some((x) => x.alert_id === a.alert_id) ? list : [...list, a].sort(order)));
        later();
      },
      cleared: (m) => {
        const c = JSON.parse(m.data);
        setItems((list) => list.filter((x) => x.alert_id !== c.cleared_alert_id && !(c.cleared_alert_id == null && x.sku === c.sku && x.kind === c.kind)));
        later();
      },
      ack: (m) => {
        const k = JSON.parse(m.data);
        setItems((list) => {
          const a = list.find((x) => x.alert_id === k.alert_id);
          if (a) setAcked((done) => withAck(done, a, k));
          return list.filter((x) => x.alert_id !== k.alert_id);
        });
        later();
      },
    });
    // A key that may not list this store's alerts may not stream them either: no stream then.
    load().then((status) => { if (!gone && status !== 403) stream = open(); });
    return () => { gone = true; stream?.close(); clearTimeout(refetch.current); };
  }, [storeId]);

  async function ack(alert) {
    try {
      const res = await request(paths.alertAck(storeId, alert.alert_id), { method: 'POST', body: {} });
      if (res.ok) {
        setItems((list) => list.filter((x) => x.alert_id !== alert.alert_id));
        setAcked((done) => withAck(done, alert, res.data?.acknowledged ?? {}));
      }
      else setError(res.status === 403 ? t('forbidden') : t('load_error', { reason: res.data?.error || res.status }));
    } catch {
      setError(t('offline_data'));
    }
  }

  return (
    <section class="card alerts" aria-labelledby="alerts-h">
      <h2 id="alerts-h">
        {t('alerts')} <span class="count">{items.length}</span>
        <span class={`live ${live ? 'on' : ''}`}>{t(live ? 'live' : 'reconnecting')}</span>
      </h2>
      {error ? <p class="muted">{error}</p> : null}
      <ul class="alert-list" aria-live="polite">
        {items.map((a) => {
          const p = catalog.bySku.get(a.sku);
          const name = (p?.names && p.names[lang]) || p?.name || a.sku;
          return (
            <li class={`alert ${a.kind}`} data-alert-id={a.alert_id} data-kind={a.kind}>
              <div class="alert-head">
                <strong>{t(`kind_${a.kind}`)}</strong>
                <span class="name">{name}</span>
              </div>
              <p class="small">
                {t('on_hand')}: <b>{qty(a.on_hand, p?.unit)}</b>
                {a.kind === 'running_out' && a.days_of_cover != null
                  ? ` · ${t('days_cover', { n: num(a.days_of_cover) })}`
                  : a.kind === 'low_stock' ? ` · ${t('reorder_point')}: ${qty(a.threshold, p?.unit)}` : ''}
                {a.suggested_reorder != null ? ` · ${t('suggested')}: ${qty(a.suggested_reorder, p?.unit)}${inPacks(a, p, qty)}` : ''}
                {' · '}{when(a.occurred_at)}
              </p>
              <button type="button" onClick={() => ack(a)}>{t('ack')}</button>
            </li>
          );
        })}
      </ul>
      {!items.length && !error ? <p class="muted">{t('no_alerts')}</p> : null}
      {acked.length ? (
        <>
          <h3>{t('acked_h')}</h3>
          <ul class="acked-list">
            {acked.map((a) => {
              const p = catalog.bySku.get(a.sku);
              const name = (p?.names && p.names[lang]) || p?.name || a.sku;
              const by = actorName(a.acked_by);
              return (
                <li data-alert-id={a.alert_id}>
                  <span>{t(`kind_${a.kind}`)}: {name}</span>
                  <span class="small acked-by" title={a.acked_by ?? undefined}>
                    {by ? t('acked_by', { name: by, at: when(a.acked_at) }) : t('acked_anon', { at: when(a.acked_at) })}
                  </span>
                </li>
              );
            })}
          </ul>
        </>
      ) : null}
    </section>
  );
}
