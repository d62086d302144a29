import { useEffect, useState } from 'preact/hooks';
import * as outbox from '../outbox.js';
import { summary } from '../outbox-core.js';
import { app, useI18n, useStore } from '../state.js';
import { lineTotal, parseMoney, parseQty, sum, moneyString } from '../decimal.js';

export function useOutbox() {
  const [s, set] = useState({ records: [], status: {} });
  useEffect(() => outbox.subscribe(set), []);
  return s;
}

/** Header badge: reachability and how many events wait. */
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
    </p>
  );
}

function amount(event) {
  const field = event.type === 'sale' ? 'unit_price' : event.type === 'purchase' ? 'unit_cost' : null;
  if (!field) return null;
  return sum(event.lines.map((l) => lineTotal(parseQty(l.quantity) ?? 0n, parseMoney(l[field]) ?? 0n)));
}

function Item({ r, children }) {
  const { t, money, when } = useI18n();
  const total = amount(r.event);
  return (
    <li class={`ev ${r.state}`} data-event-id={r.event.event_id} data-state={r.state}>
      <span class="what">{t(r.event.type)}</span>
      <span>{when(r.event.occurred_at)}</span>
      <span>{t('lines_n', { n: r.event.lines.length })}</span>
      {total !== null ? <span>{money(moneyString(total))}</span> : null}
      {children}
    </li>
  );
}

/** What waits, what was refused (with the server's reason) and what was sent. */
export function OutboxPanel() {
  const { records, status } = useOutbox();
  const { t, when } = useI18n();
  const waiting = records.filter((r) => r.state === 'waiting');
  const rejected = records.filter((r) => r.state === 'rejected');
  const held = records.filter((r) => r.state === 'held');
  const synced = records.filter((r) => r.state === 'synced').slice(-5).reverse();
  return (
    <section class="card outbox" aria-labelledby="outbox-h">
      <h2 id="outbox-h">{t('outbox')}</h2>
      {status.auth ? <p class="warn" role="alert">{t('sync_auth')}</p> : null}
      <h3>{t('outbox_waiting')} <span class="count" data-count="waiting">{waiting.length}</span></h3>
      {waiting.length ? (
        <>
          <ol class="events">{waiting.map((r) => <Item r={r} />)}</ol>
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
      {rejected.length ? (
        <>
          <h3>{t('outbox_rejected')} <span class="count" data-count="rejected">{rejected.length}</span></h3>
          <ol class="events" role="alert">
            {rejected.map((r) => (
              <Item r={r}>
                <span class="reason">{r.status ? `${r.status}: ` : ''}{r.reason}</span>
                <button type="button" onClick={() => outbox.dismiss(r.seq)}>{t('dismiss')}</button>
              </Item>
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
