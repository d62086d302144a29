import { useState } from 'preact/hooks';
import { auth } from '../api.js';
import { app, setStore, useAuth, useI18n, useStore } from '../state.js';
import { useOutbox } from './Outbox.jsx';

/** After pairing: a credential for one store opens that store; one for several keeps the choice
 * when it is among them. */
function openStoreOf(credential) {
  const stores = credential?.stores;
  if (!Array.isArray(stores) || !stores.length) return;
  if (stores.length === 1 || !stores.includes(app.get().storeId)) setStore(stores[0]);
}

function errorText(t, result) {
  switch (result.error) {
    case 'offline': return t('err_pair_offline');
    case 'key_offline': return t('err_key_offline');
    case 'rate_limited': return t('err_rate_limited', { n: result.retryAfter ?? 1 });
    case 'server': return t('err_server', { status: result.status ?? '?' });
    default: return t(`err_${result.error}`);
  }
}

/** The first screen of a device without a key: a pairing code (and, on the dashboard, an owner's
 * API key). Events recorded before, or kept from a revoked key, wait in the outbox meanwhile. */
export function Pair({ allowKey }) {
  const { t } = useI18n();
  const { online } = useStore(app);
  const { reason } = useAuth();
  const { records } = useOutbox();
  const waiting = records.filter((r) => r.state === 'waiting' || r.state === 'held').length;
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null); // {form: 'code'|'key', result}: worded at each render (language switch)

  async function submit(e, form) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const result = form === 'code' ? await auth.pair(code, name) : await auth.useKey(key);
      if (result.ok) {
        openStoreOf(result.credential);
        return;
      }
      setError({ form, result });
    } finally {
      setBusy(false);
    }
  }

  const shown = (form) => (error?.form === form ? (
    <p class="errors" role="alert" id={`${form}-error`} data-error={error.result.error}>{errorText(t, error.result)}</p>
  ) : null);

  return (
    <section class="page pair" aria-labelledby="pair-h">
      <form class="card" onSubmit={(e) => submit(e, 'code')} aria-labelledby="pair-h" noValidate>
        <h1 id="pair-h">{t('pair_title')}</h1>
        {reason === 'revoked' ? <p class="warn" role="alert" id="revoked">{t('revoked')}</p> : null}
        {waiting ? <p class="warn" id="kept" data-waiting={waiting}>{t('kept_n', { n: waiting })}</p> : null}
        <p>{t('pair_intro')}</p>
        {!online ? <p class="muted">{t('err_pair_offline')}</p> : null}
        <label class="field">
          <span>{t('pair_code')}</span>
          <input
            id="pair-code"
            class="code"
            value={code}
            autoComplete="one-time-code"
            autoCapitalize="characters"
            spellcheck={false}
            maxLength={12}
            aria-invalid={error?.form === 'code' ? 'true' : undefined}
            aria-describedby={error?.form === 'code' ? 'code-error' : undefined}
            onInput={(e) => setCode(e.currentTarget.value.toUpperCase())}
            required
          />
        </label>
        <label class="field">
          <span>{t('device_name')}</span>
          <input id="device-name" value={name} maxLength={100} autoComplete="off" onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        {shown('code')}
        <div class="actions">
          <button type="submit" class="primary" id="pair" disabled={busy}>{t(busy ? 'pairing' : 'pair')}</button>
        </div>
      </form>
      {allowKey ? (
        <details class="card owner-key" open={error?.form === 'key' || undefined}>
          <summary>{t('or_key')}</summary>
          <form onSubmit={(e) => submit(e, 'key')} noValidate>
            <label class="field">
              <span>{t('api_key')}</span>
              <input
                id="api-key"
                type="password"
                value={key}
                autoComplete="off"
                spellcheck={false}
                aria-invalid={error?.form === 'key' ? 'true' : undefined}
                onInput={(e) => setKey(e.currentTarget.value)}
                required
              />
            </label>
            {shown('key')}
            <button type="submit" id="use-key" disabled={busy}>{t('use_key')}</button>
          </form>
        </details>
      ) : null}
    </section>
  );
}

/** Settings: who this device is, and signing out (unpairing). Waiting events stay. */
export function DeviceSettings() {
  const { t } = useI18n();
  const { credential } = useAuth();
  const { records } = useOutbox();
  const waiting = records.filter((r) => r.state === 'waiting' || r.state === 'held').length;
  const [asking, setAsking] = useState(false);
  const stores = credential?.stores;
  return (
    <details class="card settings" id="settings">
      <summary>{t('settings')}</summary>
      <h2>{t('this_device')}</h2>
      <dl class="device">
        <div><dt>{t('paired_as')}</dt><dd id="device-name-shown">{credential?.name || credential?.id || '—'}</dd></div>
        <div><dt>{t('role')}</dt><dd data-role={credential?.role}>{credential?.role ? t(`role_${credential.role}`) : '—'}</dd></div>
        <div><dt>{t('stores_label')}</dt><dd>{stores === '*' ? t('all_stores') : Array.isArray(stores) ? stores.join(', ') : '—'}</dd></div>
      </dl>
      {asking ? (
        <div class="confirm" role="alertdialog" aria-labelledby="unpair-q">
          <p id="unpair-q">{t('unpair_confirm')}</p>
          {waiting ? <p class="warn">{t('unpair_waiting', { n: waiting })}</p> : null}
          <div class="actions">
            <button type="button" class="danger" id="unpair-yes" onClick={() => { setAsking(false); auth.unpair(); }}>{t('unpair_yes')}</button>
            <button type="button" onClick={() => setAsking(false)}>{t('cancel')}</button>
          </div>
        </div>
      ) : (
        <button type="button" id="unpair" onClick={() => setAsking(true)}>{t('unpair')}</button>
      )}
    </details>
  );
}
