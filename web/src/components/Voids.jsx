import { useEffect, useState } from 'preact/hooks';
import { app, currentStore, useI18n, useStore } from '../state.js';
import { localDay, rowsOf, voids } from '../reports.js';

/** The name part of an actor ("Asif (k_12ab)" -> "Asif"): the id stays in the title. */
export const actorName = (actor) => (actor ? String(actor).replace(/\s*\([^()]*\)$/, '') || String(actor) : '');

const pick = (r, ...names) => names.map((n) => r[n]).find((v) => v != null && v !== '');

/** The day's voids with who did them (GET /v1/stores/{id}/reports/voids?date=); while the server
 * has no such report yet, the card says "not available" and nothing else. */
export function Voids({ storeId }) {
  const state = useStore(app);
  const { t, money, when } = useI18n();
  const tz = currentStore(state).timezone;
  const [got, setGot] = useState(null);

  useEffect(() => { voids(storeId, { date: localDay(tz) }).then(setGot); }, [storeId, tz]);

  let body;
  if (!got) body = <p class="muted">…</p>;
  else if (!got.available || (!got.data && got.error === 'invalid_parameter')) body = <p class="muted" data-report="unavailable">{t('not_available')}</p>;
  else if (!got.data) body = <p class="muted">{got.error === 'forbidden' ? t('forbidden') : t('load_error', { reason: got.error })}</p>;
  else {
    const rows = rowsOf(got.data);
    body = rows.length ? (
      <ul class="voids">
        {rows.map((r) => {
          const actor = pick(r, 'actor', 'by');
          const flagged = r.flagged === true || r.applied === false || pick(r, 'status', 'outcome') === 'flagged';
          const original = pick(r, 'original_event_id', 'original_sale_id', 'sale_id');
          return (
            <li data-event-id={pick(r, 'event_id', 'void_event_id')} class={flagged ? 'flagged' : ''}>
              <span class="who" title={actor}>{actorName(actor) || '—'}</span>
              <span class="small">{when(pick(r, 'occurred_at', 'at', 'when'))}</span>
              {pick(r, 'amount', 'refund') != null ? <span class="num">{money(pick(r, 'amount', 'refund'))}</span> : null}
              <span class={`tag ${flagged ? 'neg' : 'low'}`}>{t(flagged ? 'v_flagged' : 'v_applied')}</span>
              {original ? <span class="sku">{t('v_sale', { id: String(original).slice(0, 8) })}</span> : null}
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
