import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimsOf, codeLooksRight, createAuth, KEY_ITEM, normalizeCode, RenewFailed } from '../src/auth.js';

const KEY = `bzk_0123456789ab_${'A'.repeat(43)}`;
const OTHER_KEY = `bzk_ba9876543210_${'B'.repeat(43)}`;

function b64url(obj) {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}
const jwt = (claims) => `${b64url({ alg: 'EdDSA', kid: 'k1' })}.${b64url(claims)}.sig`;

function memory() {
  const m = new Map();
  return { m, getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

/** A fake API: the answers the contract pins, and a log of every call. */
function fakeServer({ ttl = 60 } = {}) {
  const calls = [];
  let n = 0;
  const srv = {
    calls,
    revokedKeys: new Set(),
    codes: new Map([['AB2CD3EF', 'fresh'], ['USED2345', 'used'], ['OLD23456', 'expired']]),
    tokenStatus: null, // force an answer status for /v1/auth/token
    offline: false,
    async post(path, body, opts = {}) {
      calls.push({ path, body, token: opts.token ?? null });
      await new Promise((r) => setTimeout(r, 5)); // answers come later than the question
      if (srv.offline) throw new Error('offline');
      if (path === '/v1/auth/pair') {
        const state = srv.codes.get(body.code);
        if (!state) return { status: 401, data: { error: 'invalid_code' } };
        if (state !== 'fresh') return { status: 410, data: { error: state === 'used' ? 'code_used' : 'code_expired' } };
        srv.codes.set(body.code, 'used');
        n += 1;
        const credential = { id: 'c0ffee000001', name: body.name ?? 'device', role: 'terminal', stores: ['s1'] };
        return { status: 201, data: { api_key: KEY, credential, access_token: `tok-${n}`, token_type: 'Bearer', expires_in: ttl } };
      }
      if (path === '/v1/auth/token') {
        if (srv.tokenStatus) return { status: srv.tokenStatus, data: { error: 'x' }, headers: new Headers({ 'retry-after': '3' }) };
        if (srv.revokedKeys.has(body.api_key) || ![KEY, OTHER_KEY].includes(body.api_key)) return { status: 401, data: { error: 'unauthorized' } };
        n += 1;
        const token = body.api_key === OTHER_KEY ? jwt({ sub: 'ba9876543210', role: 'owner', stores: '*', name: 'Owner' }) : `tok-${n}`;
        return { status: 200, data: { access_token: token, token_type: 'Bearer', expires_in: ttl } };
      }
      if (path === '/v1/auth/logout') return { status: 204, data: null };
      throw new Error(`unexpected ${path}`);
    },
  };
  return srv;
}

function setup(opts) {
  const srv = fakeServer(opts);
  const storage = memory();
  let clock = 1_000;
  const auth = createAuth({ post: srv.post, storage, now: () => clock });
  return { srv, storage, auth, advance: (ms) => { clock += ms; } };
}

test('codes are read case-insensitively, without spaces or dashes', () => {
  assert.equal(normalizeCode(' ab2c-d3ef '), 'AB2CD3EF');
  assert.ok(codeLooksRight('AB2CD3EF'));
  assert.ok(!codeLooksRight('AB2CD3E'));
  assert.ok(!codeLooksRight('AB2CD3EF9'));
});

test('pairing keeps the key on the device and the token in memory', async () => {
  const { srv, storage, auth } = setup();
  const events = [];
  auth.subscribe((s) => events.push(s.paired));
  assert.equal(await auth.token(), null);
  const result = await auth.pair('ab2c-d3ef', 'Counter 1');
  assert.deepEqual(result, { ok: true, credential: { id: 'c0ffee000001', name: 'Counter 1', role: 'terminal', stores: ['s1'] } });
  assert.deepEqual(srv.calls[0].body, { code: 'AB2CD3EF', name: 'Counter 1' });
  assert.deepEqual(events, [true]);
  const kept = JSON.parse(storage.getItem(KEY_ITEM));
  assert.equal(kept.api_key, KEY);
  assert.ok(!storage.getItem(KEY_ITEM).includes('tok-'), 'no access token on the disk');
  assert.equal(await auth.token(), 'tok-1'); // the pairing's own token: no exchange
  assert.equal(srv.calls.length, 1);

  const again = createAuth({ post: srv.post, storage, now: () => 0 }); // a reload
  assert.equal(again.state().paired, true);
  assert.equal(await again.token(), 'tok-2'); // exchanged from the kept key
});

test('a bad, used or expired code says which; a malformed one and offline never reach the server', async () => {
  const { srv, auth } = setup();
  assert.deepEqual(await auth.pair('ZZZZ2345'), { ok: false, error: 'invalid_code' });
  assert.deepEqual(await auth.pair('used2345'), { ok: false, error: 'code_used' });
  assert.deepEqual(await auth.pair('OLD23456'), { ok: false, error: 'code_expired' });
  const calls = srv.calls.length;
  assert.deepEqual(await auth.pair('ABC'), { ok: false, error: 'code_format' });
  assert.equal(srv.calls.length, calls);
  srv.offline = true;
  assert.deepEqual(await auth.pair('AB2CD3EF'), { ok: false, error: 'offline' });
  assert.equal(auth.state().paired, false);
});

test('an expired token is renewed from the key before it is sent', async () => {
  const { srv, auth, advance } = setup({ ttl: 30 });
  await auth.pair('AB2CD3EF');
  advance(20_000);
  assert.equal(await auth.token(), 'tok-1'); // 10 s left: still good
  advance(5_000); // 5 s left, under a fifth of its life: renew now rather than be refused
  assert.equal(await auth.token(), 'tok-2');
  assert.deepEqual(srv.calls.map((c) => c.path), ['/v1/auth/pair', '/v1/auth/token']);
});

test('concurrent 401s share one renewal; a late one takes the new token', async () => {
  const { srv, auth } = setup();
  await auth.pair('AB2CD3EF');
  const got = await Promise.all([1, 2, 3, 4, 5].map(() => auth.token({ stale: 'tok-1' })));
  assert.deepEqual(got, ['tok-2', 'tok-2', 'tok-2', 'tok-2', 'tok-2']);
  assert.equal(srv.calls.filter((c) => c.path === '/v1/auth/token').length, 1);
  assert.equal(await auth.token({ stale: 'tok-1' }), 'tok-2');
  assert.equal(srv.calls.filter((c) => c.path === '/v1/auth/token').length, 1);
});

test('a revoked key sends the device back to pairing', async () => {
  const { srv, storage, auth } = setup();
  await auth.pair('AB2CD3EF');
  srv.revokedKeys.add(KEY);
  const seen = [];
  auth.subscribe((s) => seen.push(s));
  assert.equal(await auth.token({ stale: 'tok-1' }), null);
  assert.deepEqual(auth.state(), { paired: false, reason: 'revoked', credential: null });
  assert.deepEqual(seen.map((s) => s.reason), ['revoked']);
  assert.equal(storage.getItem(KEY_ITEM), null);
  assert.equal(await auth.token(), null);
});

test('a busy or offline server keeps the key: the caller retries later', async () => {
  const { srv, auth } = setup();
  await auth.pair('AB2CD3EF');
  srv.tokenStatus = 503;
  await assert.rejects(auth.token({ force: true }), (err) => err instanceof RenewFailed && err.answer.status === 503);
  srv.tokenStatus = null;
  srv.offline = true;
  await assert.rejects(auth.token({ force: true }), /offline/);
  assert.equal(auth.state().paired, true);
  srv.offline = false;
  assert.match(await auth.token({ force: true }), /^tok-/);
});

test('an owner pastes an API key: checked by the server before it is kept', async () => {
  const { srv, auth, storage } = setup();
  assert.deepEqual(await auth.useKey('not a key'), { ok: false, error: 'key_format' });
  assert.equal(srv.calls.length, 0);
  assert.deepEqual(await auth.useKey(`bzk_ffffffffffff_${'C'.repeat(43)}`), { ok: false, error: 'key_refused' });
  assert.equal(storage.getItem(KEY_ITEM), null);
  srv.tokenStatus = 429;
  assert.deepEqual(await auth.useKey(OTHER_KEY), { ok: false, error: 'rate_limited', retryAfter: 3 });
  srv.tokenStatus = null;
  const ok = await auth.useKey(` ${OTHER_KEY}\n`);
  assert.deepEqual(ok, { ok: true, credential: { id: 'ba9876543210', name: 'Owner', role: 'owner', stores: '*' } });
  assert.equal(JSON.parse(storage.getItem(KEY_ITEM)).api_key, OTHER_KEY);
});

test('unpairing logs the token out and forgets the key', async () => {
  const { srv, auth, storage } = setup();
  await auth.pair('AB2CD3EF');
  await auth.unpair();
  assert.deepEqual(srv.calls.at(-1), { path: '/v1/auth/logout', body: undefined, token: 'tok-1' });
  assert.deepEqual(auth.state(), { paired: false, reason: null, credential: null });
  assert.equal(storage.getItem(KEY_ITEM), null);
});

test('claims are read from a token for display, and garbage is none', () => {
  assert.deepEqual(claimsOf(jwt({ sub: 'x', role: 'owner' })), { sub: 'x', role: 'owner' });
  assert.equal(claimsOf('garbage'), null);
});
