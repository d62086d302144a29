import { useEffect, useState } from 'preact/hooks';
import { app, currentStore, useI18n, useStore } from '../state.js';
import { localDay, rowsOf, voids } from '../reports.js';

/** The name part of an actor ("Asif (k_12ab)" -> "Asif"): the id stays in the title. */
export const actorName = (actor) => (actor ? String(actor).replace(/\s*\([^()]*\)$/, '') || String(actor) : '');

/** The day's voids with who did them (GET /v1/stores/{id}/reports/voids?date=: one row a void,
 * docs/analytics.md); a void the stock worker did not apply (its sale unknown, already voided,
 * too old) is shown flagged with the worker's verdict. */
export function Voids({ storeId }) {
  const state = useStore(app);
  const { t, money, when } = useI18n();
  const tz = currentStore(state).timezone;
  const [got, setGot] = useState(null);

  useEffect(() => { voids(storeId, { date: localDay(tz) }).then(setGot); }, [storeId, tz]);

  let body;
  if (!got) body = <p class="muted">…</p>;
  else if (!got.available) body = <p class="muted" data-report="unavailable">{t('not_available')}</p>;
  else if (!got.data) body = <p class="muted">{got.error === 'forbidden' ? t('forbidden') : t('load_error', { reason: got.error })}</p>;
  else {
    const rows = rowsOf(got.data);
    body = rows.length ? (
      <ul class="voids">
        {rows.map((r) => {
          const flagged = r.applied === false;
          return (
            <li data-event-id={r.void_event_id} class={flagged ? 'flagged' : ''}>
              <span class="who" title={r.actor}>{actorName(r.actor) || '—'}</span>
              <span class="small">{when(r.voided_at)}</span>
              {r.amount != null ? <span class="num">{money(r.amount)}</span> : null}
              <span class={`tag ${flagged ? 'neg' : 'low'}`} title={flagged ? r.verdict : undefined}>{t(flagged ? 'v_flagged' : 'v_applied')}</span>
              {r.original_event_id ? <span class="sku">{t('v_sale', { id: String(r.original_event_id).slice(0, 8) })}</span> : null}
            </li>
          );
        })}
      </ul>
    ) : <p class="muted">{t('no_voids')}</p>;
  }
  return (
    <section class="card voids-card" aria-labelledby="voids-h">
      <h2 id="voids-h">{t('voids_h')}</h2>
      {body}
    </section>
  );
}
