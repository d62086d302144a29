import { useEffect, useState } from 'preact/hooks';
import { useCatalog } from '../catalog.js';
import { useI18n } from '../state.js';
import { movementRows, movements } from '../reports.js';

/** Movement history of one product (movement_history report): newest first, with the stock after
 * each. The stock list opens it in the row right under the product clicked, with a Close button. */
export function Movements({ storeId, sku, onClose }) {
  const { t, qty, when, lang } = useI18n();
  const catalog = useCatalog();
  const [report, setReport] = useState(null);
  const p = sku ? catalog.bySku.get(sku) : null;
  const name = (p?.names && p.names[lang]) || p?.name || sku;

  useEffect(() => {
    setReport(null);
    if (sku) movements(storeId, { sku }).then(setReport);
  }, [storeId, sku]);

  let body;
  if (!sku) body = <p class="muted">{t('pick_product')}</p>;
  else if (!report) body = <p class="muted">…</p>;
  else if (!report.available) body = <p class="muted" data-report="unavailable">{t('not_available')}</p>;
  else if (!report.data) body = <p class="muted">{report.error === 'forbidden' ? t('forbidden') : t('load_error', { reason: report.error })}</p>;
  else {
    const rows = movementRows(report.data);
    body = rows.length ? (
      <table class="moves">
        <thead><tr><th scope="col">{t('when')}</th><th scope="col">{t('type')}</th><th scope="col" class="num">{t('quantity')}</th><th scope="col" class="num">{t('on_hand')}</th></tr></thead>
        <tbody>
          {rows.map((r) => (
            <tr>
              <td class="small">{when(r.occurred_at)}</td>
              <td>{t(r.type)}{r.reason ? ` (${t(`reason_${r.reason}`)})` : ''}{r.supplier ? ` · ${r.supplier}` : ''}</td>
              <td class="num">{qty(r.quantity ?? '0', p?.unit)}</td>
              <td class="num">{r.level_after != null ? qty(r.level_after, p?.unit) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    ) : <p class="muted">{t('no_movements')}</p>;
  }
  return (
    <section class="moves-card" aria-labelledby="moves-h" id="moves">
      <div class="moves-head">
        <h3 id="moves-h">{t('movements_of', { name })}</h3>
        {onClose ? <button type="button" class="close" onClick={onClose}>{t('close_moves')}</button> : null}
      </div>
      {body}
    </section>
  );
}
