// This device's credential and its access tokens (docs/access.md).
//
// A device holds one long-lived API key: a counter gets its own by redeeming a pairing code at
// POST /v1/auth/pair, an owner may paste theirs on the dashboard. The key is exchanged at
// POST /v1/auth/token for a short-lived access token, which every other request carries.
//
// The key is kept in localStorage: it must survive reloads, restarts and offline days (a counter
// re-pairing every morning is no counter), the page reads it synchronously at start to choose the
// first screen, and no service worker or other origin needs it. The strict Content-Security-Policy
// (script-src 'self', no inline script; api/headers.py) is what keeps foreign script from reading
// it, as it would IndexedDB. The access token lives in memory only: it is cheap to get again, and
// a token nobody stored cannot be lifted from the disk of a lost phone.
//
// `createAuth` takes its transport and clock as arguments so node --test drives it.

export const KEY_ITEM = 'bazaar.key';
const KEY_SHAPE = /^bzk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/;
const CODE_SHAPE = /^[A-Z0-9]{8}$/;
const PAIR_ERRORS = new Set(['invalid_code', 'code_used', 'code_expired']);

/** What a person typed as a pairing code, as the server wants it: "ab2c-d3ef " -> "AB2CD3EF". */
export function normalizeCode(typed) {
  return String(typed ?? '').replace(/[\s-]+/g, '').toUpperCase();
}

export function codeLooksRight(code) {
  return CODE_SHAPE.test(code);
}

export function keyLooksRight(key) {
  return KEY_SHAPE.test(String(key ?? '').trim());
}

/** The claims of a JWT, read without checking it (the server checks; this is for display). */
export function claimsOf(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** A renewal that got an HTTP answer other than a token or a refusal (429, 5xx): the caller
 * treats `answer` as its own request's answer (retry later). */
export class RenewFailed extends Error {
  constructor(answer) {
    super(`token renewal answered ${answer.status}`);
    this.answer = answer;
  }
}

function credentialFrom(answer, token) {
  if (answer?.credential) {
    const { id, name, role, stores } = answer.credential;
    return { id, name, role, stores };
  }
  const c = claimsOf(token) ?? {};
  return { id: c.sub ?? null, name: c.name ?? null, role: c.role ?? null, stores: c.stores ?? null };
}

function retryAfter(answer) {
  const s = Number(answer?.headers?.get?.('retry-after'));
  return Number.isFinite(s) && s > 0 ? Math.ceil(s) : 1;
}

/**
 * @param post     (path, body, {token, timeoutMs}) -> {status, ok, data, headers}; rejects with the
 *                 caller's NetworkError when no answer came
 * @param storage  a localStorage-like object (getItem, setItem, removeItem)
 * @param now      a monotonic clock in ms: token lifetimes are counted from `expires_in` on this
 *                 device's own clock, so a shop phone whose date is wrong still renews on time
 */
export function createAuth({ post, storage, now = () => performance.now() }) {
  let saved = load();
  let access = null; // {token, until}: until on the `now` clock
  let renewing = null;
  let reason = null; // why the device is not paired: null (never was / signed out) or 'revoked'
  const listeners = new Set();

  function load() {
    try {
      const v = JSON.parse(storage.getItem(KEY_ITEM) || 'null');
      return v && typeof v.api_key === 'string' ? v : null;
    } catch {
      return null;
    }
  }

  function emit() {
    const s = state();
    for (const fn of listeners) fn(s);
  }

  function state() {
    return { paired: !!saved, reason: saved ? null : reason, credential: saved?.credential ?? null };
  }

  function keep(apiKey, credential, answer) {
    saved = { api_key: apiKey, credential };
    storage.setItem(KEY_ITEM, JSON.stringify(saved));
    reason = null;
    remember(answer);
    emit();
  }

  function remember(answer) {
    const life = Math.max(1, Number(answer.expires_in) || 60) * 1000;
    access = { token: answer.access_token, until: now() + life, life };
  }

  /** Renew a little before the end: a fifth of the token's life, at most 30 s. */
  function fresh() {
    return access && now() < access.until - Math.min(30_000, access.life / 5) ? access.token : null;
  }

  function forget(why) {
    saved = null;
    access = null;
    reason = why;
    try { storage.removeItem(KEY_ITEM); } catch { /* private mode: nothing was kept */ }
    emit();
  }

  function renew() {
    renewing ??= (async () => {
      const key = saved?.api_key;
      if (!key) return null;
      const answer = await post('/v1/auth/token', { api_key: key }, {});
      if (answer.status === 200 && answer.data?.access_token) {
        if (saved?.api_key === key) remember(answer.data);
        return answer.data.access_token;
      }
      if (answer.status === 401) {
        // The key is refused: revoked, or gone with a rebuilt server. Back to the pairing screen;
        // the outbox keeps every waiting event until a new key sends them.
        if (saved?.api_key === key) forget('revoked');
        return null;
      }
      throw new RenewFailed(answer);
    })().finally(() => { renewing = null; });
    return renewing;
  }

  return {
    state,
    isPaired: () => !!saved,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },

    /**
     * An access token to send, or null when the device holds no key (or it was just refused).
     * `stale`: a token the server refused with 401; unless another caller already replaced it,
     * it is renewed. Concurrent callers share one renewal. Rejects with the transport's
     * NetworkError when offline, with RenewFailed on 429/5xx.
     */
    async token({ stale = null, force = false } = {}) {
      if (!saved) return null;
      if (!force) {
        const current = fresh();
        if (current && current !== stale) return current;
      }
      return renew();
    },

    /** Whether `token` is the current one and still good for a while (the event stream asks). */
    isFresh(token) {
      return fresh() === token;
    },

    /** Redeem a pairing code. {ok: true} or {ok: false, error, retryAfter?, status?}. */
    async pair(typed, name) {
      const code = normalizeCode(typed);
      if (!codeLooksRight(code)) return { ok: false, error: 'code_format' };
      const body = { code };
      if (name && String(name).trim()) body.name = String(name).trim().slice(0, 100);
      let answer;
      try {
        answer = await post('/v1/auth/pair', body, { timeoutMs: 20_000 });
      } catch {
        return { ok: false, error: 'offline' };
      }
      if ((answer.status === 201 || answer.status === 200) && answer.data?.api_key) {
        keep(answer.data.api_key, credentialFrom(answer.data, answer.data.access_token), answer.data);
        return { ok: true, credential: saved.credential };
      }
      const error = answer.data?.error;
      if (PAIR_ERRORS.has(error)) return { ok: false, error };
      if (answer.status === 429) return { ok: false, error: 'rate_limited', retryAfter: retryAfter(answer) };
      if (answer.status === 401) return { ok: false, error: 'invalid_code' };
      if (answer.status === 410) return { ok: false, error: 'code_expired' };
      return { ok: false, error: 'server', status: answer.status };
    },

    /** Use an API key pasted by its owner: kept only once the server exchanges it. */
    async useKey(typed) {
      const key = String(typed ?? '').trim();
      if (!keyLooksRight(key)) return { ok: false, error: 'key_format' };
      let answer;
      try {
        answer = await post('/v1/auth/token', { api_key: key }, { timeoutMs: 20_000 });
      } catch {
        return { ok: false, error: 'key_offline' };
      }
      if (answer.status === 200 && answer.data?.access_token) {
        keep(key, credentialFrom(null, answer.data.access_token), answer.data);
        return { ok: true, credential: saved.credential };
      }
      if (answer.status === 401) return { ok: false, error: 'key_refused' };
      if (answer.status === 429) return { ok: false, error: 'rate_limited', retryAfter: retryAfter(answer) };
      return { ok: false, error: 'server', status: answer.status };
    },

    /** Sign out: the server revokes the current token (best effort), the device forgets its key.
     * Waiting events stay in the outbox for the next pairing. */
    async unpair() {
      const token = fresh() ?? access?.token;
      forget(null);
      if (token) {
        try { await post('/v1/auth/logout', undefined, { token, timeoutMs: 5_000 }); } catch { /* offline: the token expires soon anyway */ }
      }
    },

    /** Another tab paired or unpaired: take what it stored. */
    reload() {
      const before = saved?.api_key;
      saved = load();
      if (saved?.api_key !== before) {
        access = null;
        reason = null;
        emit();
      }
    },
  };
}
