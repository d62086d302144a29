// request(): the token on every call, one shared renewal on 401 and one retry; driven through a
// fake fetch that plays the API's auth routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const KEY = `bzk_0123456789ab_${'A'.repeat(43)}`;
const server = { valid: new Set(), keyRevoked: false, n: 0, log: [] };

function answer(status, body) {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

globalThis.fetch = async (url, init = {}) => {
  const auth = init.headers?.Authorization ?? null;
  const body = init.body ? JSON.parse(init.body) : undefined;
  server.log.push({ url, auth });
  await new Promise((r) => setTimeout(r, 5));
  if (url === '/v1/auth/pair') {
    server.n += 1;
    server.valid.add(`tok-${server.n}`);
    return answer(201, { api_key: KEY, credential: { id: 'c1', name: 'd', role: 'terminal', stores: ['s1'] }, access_token: `tok-${server.n}`, token_type: 'Bearer', expires_in: 900 });
  }
  if (url === '/v1/auth/token') {
    if (server.keyRevoked || body.api_key !== KEY) return answer(401, { error: 'unauthorized' });
    server.n += 1;
    server.valid.add(`tok-${server.n}`);
    return answer(200, { access_token: `tok-${server.n}`, token_type: 'Bearer', expires_in: 900 });
  }
  const token = auth?.replace(/^Bearer /, '');
  if (!server.valid.has(token)) return answer(401, { error: 'unauthorized' });
  return answer(202, { accepted: body?.events?.length ?? 0, token: 'v1.0:1' });
};

const { auth, request, postEvents } = await import('../src/api.js');
const tokenCalls = () => server.log.filter((c) => c.url === '/v1/auth/token').length;

test('without a key nothing is sent: the answer is a local 401 the outbox waits on', async () => {
  const res = await postEvents([{ event_id: 'e1' }]);
  assert.equal(res.status, 401);
  assert.equal(res.data.error, 'not_paired');
  assert.equal(server.log.length, 0);
});

test('paired: requests carry the token', async () => {
  assert.equal((await auth.pair('ab2cd3ef')).ok, true);
  const res = await postEvents([{ event_id: 'e1' }]);
  assert.equal(res.status, 202);
  assert.equal(server.log.at(-1).auth, 'Bearer tok-1');
});

test('a refused token is renewed once, shared by concurrent requests, and each is retried', async () => {
  server.valid.clear(); // the token's jti revoked (a sign-out elsewhere): it still looks fresh here
  const before = server.log.length;
  const answers = await Promise.all([1, 2, 3].map((i) => request('/v1/events', { method: 'POST', body: { events: [{ event_id: `e${i}` }] } })));
  assert.deepEqual(answers.map((a) => a.status), [202, 202, 202]);
  const calls = server.log.slice(before);
  assert.equal(calls.filter((c) => c.url === '/v1/auth/token').length, 1);
  assert.deepEqual(calls.filter((c) => c.url === '/v1/events').map((c) => c.auth), [
    'Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2', 'Bearer tok-2', 'Bearer tok-2',
  ]);
});

test('a revoked key: the 401 goes back to the caller and the device is unpaired', async () => {
  server.valid.clear();
  server.keyRevoked = true;
  const before = tokenCalls();
  const res = await request('/v1/events', { method: 'POST', body: { events: [] } });
  assert.equal(res.status, 401);
  assert.equal(tokenCalls(), before + 1);
  assert.deepEqual(auth.state(), { paired: false, reason: 'revoked', credential: null });
  const after = server.log.length;
  assert.equal((await request('/v1/events', { method: 'POST', body: { events: [] } })).data.error, 'not_paired');
  assert.equal(server.log.length, after);
});
