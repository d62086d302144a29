import { useEffect, useState } from 'preact/hooks';
import { paths, request } from '../api.js';
import { useI18n } from '../state.js';
import { ago, reorder } from '../reports.js';

/** "3 boxes (72 pcs)": the suggested order in whole packs, with what that is in base units. */
function orderText(line, qty) {
  if (line.pack_unit && line.packs != null) return `${qty(String(line.packs), line.pack_unit)} (${qty(line.suggested, line.unit)})`;
  return qty(line.suggested, line.unit);
}

/** The reorder list (GET /v1/stores/{id}/reorder): low products by supplier, the order in whole
 * packs, and a CSV export of it. */
export function Reorder({ storeId, version }) {
  const { t, qty, lang, locale } = useI18n();
  const [got, setGot] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => { reorder(storeId).then(setGot); }, [storeId, version]);

  async function exportCsv() {
    setError(null);
    try {
      const res = await request(paths.reorder(storeId), { query: { format: 'csv' } });
      if (!res.ok) { setError(t('load_error', { reason: res.data?.error || res.status })); return; }
      const url = URL.createObjectURL(new Blob([res.text], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `reorder-${storeId}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch {
      setError(t('offline_data'));
    }
  }

  let body;
  if (!got) body = <p class="muted">…</p>;
  else if (!got.available) body = <p class="muted" data-report="unavailable">{t('not_available')}</p>;
  else if (!got.data) body = <p class="muted">{got.error === 'forbidden' ? t('forbidden') : t('load_error', { reason: got.error })}</p>;
  else if (!got.data.groups?.length) body = <p class="muted">{t('reorder_none')}</p>;
  else {
    body = got.data.groups.map((g) => (
      <div class="supplier" data-supplier={g.supplier ?? ''}>
        <h3>{g.supplier ?? t('no_supplier')}{g.source === 'last_purchase' ? <span class="small muted"> · {t('from_purchase')}</span> : null}</h3>
        <ul class="reorder-lines">
          {g.lines.map((ln) => (
            <li data-sku={ln.sku}>
              <span class="name">{(ln.names && ln.names[lang]) || ln.name}</span>
              <span class="small muted">{t('on_hand')}: {qty(ln.on_hand, ln.unit)} · {t('reorder_point')}: {qty(ln.reorder_point, ln.unit)}</span>
              <span class="order"><b>{t('order_qty')}: </b><span class="order-qty">{orderText(ln, qty)}</span></span>
            </li>
          ))}
        </ul>
      </div>
    ));
  }
  return (
    <section class="card reorder" aria-labelledby="reorder-h">
      <div class="card-head">
        <h2 id="reorder-h">{t('reorder_h')}</h2>
        {got?.data?.groups?.length ? <button type="button" id="reorder-csv" onClick={exportCsv}>{t('export_csv')}</button> : null}
      </div>
      {got?.saved_at ? <p class="muted saved-age" role="status">{t('saved_ago', { ago: ago(got.saved_at, locale) })}</p> : null}
      {error ? <p class="muted" role="alert">{error}</p> : null}
      {body}
    </section>
  );
}
