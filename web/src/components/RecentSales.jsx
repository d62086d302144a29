import { useState } from 'preact/hooks';
import { moneyString } from '../decimal.js';
import { eventTotal } from '../receipt.js';
import { useI18n } from '../state.js';

const WHY = ['why_wrong_qty', 'why_wrong_item', 'why_cancelled', 'why_other'];

function Sale({ r, voided, onReturn, onVoid }) {
  const { t, money, when } = useI18n();
  const [asking, setAsking] = useState(false);
  const [why, setWhy] = useState(WHY[0]);
  const id = r.event.event_id;
  return (
    <li class="ev recent" data-event-id={id} data-state={r.state}>
      <span class="what">{when(r.event.occurred_at)}</span>
      <span>{t('lines_n', { n: r.event.lines.length })}</span>
      <span class="num" dir="ltr">{money(moneyString(eventTotal(r.event)))}</span>
      {voided ? <span class="tag neg">{t('voided')}</span> : (
        <span class="row-actions">
          <button type="button" class="return-items" onClick={() => onReturn(r.event)}>{t('return_items')}</button>
          {r.state === 'synced' ? <button type="button" class="void" onClick={() => setAsking(true)}>{t('void')}</button> : null}
        </span>
      )}
      {asking && !voided ? (
        <div class="confirm" role="group" aria-labelledby={`void-${id}`}>
          <p id={`void-${id}`}><strong>{t('void_title')}</strong> {t('void_hint')}</p>
          <label class="field">
            <span>{t('void_why')}</span>
            <select class="void-why" value={why} onChange={(e) => setWhy(e.currentTarget.value)}>
              {WHY.map((w) => <option value={w}>{t(w)}</option>)}
            </select>
          </label>
          <button type="button" class="danger void-yes" onClick={() => { setAsking(false); onVoid(r.event, t(why)); }}>{t('void_yes')}</button>
          <button type="button" onClick={() => setAsking(false)}>{t('keep')}</button>
        </div>
      ) : null}
    </li>
  );
}

/** This phone's recent sales: return some of their items, or void one recorded by mistake. */
export function RecentSales({ records, onReturn, onVoid }) {
  const { t } = useI18n();
  const voided = new Set(records.filter((r) => r.event.type === 'return' && r.event.reason === 'void' && !['cancelled', 'dismissed', 'fixed'].includes(r.state))
    .map((r) => r.event.original_event_id));
  const sales = records.filter((r) => r.event.type === 'sale' && (r.state === 'synced' || r.state === 'waiting')).slice(-8).reverse();
  return (
    <section class="recent-sales" aria-labelledby="recent-h">
      <h2 id="recent-h" class="field-label">{t('recent_sales')}</h2>
      {sales.length ? (
        <ol class="events">
          {sales.map((r) => <Sale r={r} voided={voided.has(r.event.event_id)} onReturn={onReturn} onVoid={onVoid} />)}
        </ol>
      ) : <p class="muted">{t('no_recent')}</p>}
    </section>
  );
}
