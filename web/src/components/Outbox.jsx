import { useEffect, useState } from 'preact/hooks';
import * as outbox from '../outbox.js';
import { summary } from '../outbox-core.js';
import { explain } from '../refusal.js';
import { useCatalog } from '../catalog.js';
import { app, useI18n, useStore } from '../state.js';
import { moneyString } from '../decimal.js';
import { eventTotal } from '../receipt.js';

export function useOutbox() {
  const [s, set] = useState({ records: [], status: {} });
  useEffect(() => outbox.subscribe(set), []);
  return s;
}

/** Header badge: reachability, how many events wait and how many were refused (until handled). */
export function SyncBadge() {
  const { online } = useStore(app);
  const { records } = useOutbox();
  const { t } = useI18n();
  const n = summary(records);
  return (
    <p class={`badge ${online ? 'on' : 'off'}`} role="status" data-online={online ? 'true' : 'false'}>
      <span class="dot" aria-hidden="true" />
      {t(online ? 'online' : 'offline')}
      {n.waiting + n.held ? <span class="waiting"> · {t('waiting_n', { n: n.waiting + n.held })}</span> : null}
      {n.rejected ? <a class="refused" href="#outbox-h" data-refused={n.rejected}>{t('refused_n', { n: n.rejected })}</a> : null}
    </p>
  );
}

function amount(event) {
  if (!['sale', 'purchase', 'return'].includes(event.type)) return null;
  return eventTotal(event);
}

/** A product's name in the shop's language, from the catalog on this phone. */
export function useNameOf() {
  const catalog = useCatalog();
  const { lang } = useI18n();
  return (sku) => {
    const p = catalog.bySku.get(sku);
    return (p && ((p.names && p.names[lang]) || p.name)) || sku;
  };
}

function Item({ r, children }) {
  const { t, money, when } = useI18n();
  const total = amount(r.event);
  const what = r.event.type === 'return' && r.event.reason === 'void' ? t('void') : t(r.event.type);
  return (
    <li class={`ev ${r.state}`} data-event-id={r.event.event_id} data-state={r.state}>
      <span class="what">{what}</span>
      <span>{when(r.event.occurred_at)}</span>
      <span>{t('lines_n', { n: r.event.lines.length })}</span>
      {total !== null ? <span class="num">{money(moneyString(total))}</span> : null}
      {children}
    </li>
  );
}

/** A button that asks once more before doing something that cannot be undone. */
function Confirmed({ label, question, yes, onYes, id }) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const [late, setLate] = useState(false);
  if (late) return <p class="warn small" role="alert">{t('cancel_late')}</p>;
  if (!asking) return <button type="button" class={id} onClick={() => setAsking(true)}>{label}</button>;
  return (
    <div class="confirm" role="group" aria-label={question}>
      <p>{question}</p>
      <button type="button" class={`danger ${id}-yes`} onClick={async () => { if ((await onYes()) === false) setLate(true); }}>{yes}</button>
      <button type="button" onClick={() => setAsking(false)}>{t('keep')}</button>
    </div>
  );
}

/** What waits (cancellable), what was refused (explained, to edit or delete) and what was sent. */
export function OutboxPanel({ onEdit }) {
  const { records, status } = useOutbox();
  const { t, when } = useI18n();
  const nameOf = useNameOf();
  const waiting = records.filter((r) => r.state === 'waiting');
  const rejected = records.filter((r) => r.state === 'rejected');
  const held = records.filter((r) => r.state === 'held');
  const synced = records.filter((r) => r.state === 'synced').slice(-5).reverse();
  return (
    <section class="card outbox" aria-labelledby="outbox-h">
      <h2 id="outbox-h" tabIndex={-1}>{t('outbox')}</h2>
      {status.auth ? <p class="warn" role="alert">{t('sync_auth')}</p> : null}
      {rejected.length ? (
        <>
          <h3>{t('outbox_rejected')} <span class="count" data-count="rejected">{rejected.length}</span></h3>
          <div role="alert"><ol class="events">
            {rejected.map((r) => (
              <Item r={r}>
                <span class="reason" data-status={r.status}>
                  {explain(r, nameOf).map((x) => <span class="fix">{t(x.key, { ...x.vars, type: t(x.vars.type || r.event.type) })}</span>)}
                </span>
                {onEdit ? <button type="button" class="edit" onClick={() => onEdit(r)}>{t('edit')}</button> : null}
                <Confirmed id="delete" label={t('delete')} question={t('delete_confirm')} yes={t('delete_yes')} onYes={() => outbox.dismiss(r.seq)} />
              </Item>
            ))}
          </ol></div>
        </>
      ) : null}
      <h3>{t('outbox_waiting')} <span class="count" data-count="waiting">{waiting.length}</span></h3>
      {waiting.length ? (
        <>
          <ol class="events">
            {waiting.map((r) => (
              <Item r={r}>
                <Confirmed id="cancel" label={t('cancel_event')} question={t('cancel_confirm')} yes={t('cancel_yes')} onYes={() => outbox.cancel(r.seq)} />
              </Item>
            ))}
          </ol>
          <button type="button" onClick={() => outbox.kick()}>{t('sync_now')}</button>
        </>
      ) : <p class="muted">{t('outbox_empty')}</p>}
      {held.length ? (
        <>
          <h3>{t('outbox_held')} <span class="count" data-count="held">{held.length}</span></h3>
          <p class="muted small">{t('outbox_held_hint')}</p>
          <ol class="events">
            {held.map((r) => (
              <Item r={r}><span class="reason">{r.status ? `${r.status}: ` : ''}{r.reason}</span></Item>
            ))}
          </ol>
        </>
      ) : null}
      <h3>{t('outbox_synced')} <span class="count" data-count="synced">{records.filter((r) => r.state === 'synced').length}</span></h3>
      {synced.length ? <ol class="events">{synced.map((r) => <Item r={r} />)}</ol> : null}
      {status.lastSyncAt ? <p class="muted">{t('last_sync', { at: when(status.lastSyncAt) })}</p> : null}
    </section>
  );
}
