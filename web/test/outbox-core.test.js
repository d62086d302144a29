import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextBatch, outcome, backoff, summary, prunable } from '../src/outbox-core.js';

const rec = (seq, state = 'waiting') => ({ seq, state, event: { event_id: `id-${seq}` } });

test('batches take waiting events in the order they were recorded', () => {
  const records = [rec(3), rec(1), rec(2, 'synced'), rec(4, 'rejected'), rec(5)];
  assert.deepEqual(nextBatch(records).map((r) => r.seq), [1, 3, 5]);
  assert.deepEqual(nextBatch(records, 2).map((r) => r.seq), [1, 3]);
});

test('202 syncs the whole batch and keeps the token', () => {
  const o = outcome([rec(1), rec(2)], { status: 202, data: { accepted: 2, token: 'v1.0:5' } });
  assert.deepEqual(o, { kind: 'ok', synced: [1, 2], rejected: [], token: 'v1.0:5' });
});

test('no answer, 5xx, 429 retry; a 503 marks what the broker took', () => {
  assert.equal(outcome([rec(1)], null).kind, 'retry');
  assert.equal(outcome([rec(1)], { status: 500, data: null }).kind, 'retry');
  assert.equal(outcome([rec(1)], { status: 429, data: null }).kind, 'retry');
  const o = outcome([rec(1), rec(2)], { status: 503, data: { error: 'broker_unavailable', delivered: ['id-2'], failed: ['id-1'] } });
  assert.deepEqual(o, { kind: 'retry', synced: [2], rejected: [] });
});

test('422 sets aside exactly the events it names, with the reasons', () => {
  const answer = {
    status: 422,
    data: {
      error: 'invalid_event',
      detail: [
        { index: 1, field: 'lines[0].quantity', reason: 'must be greater than 0' },
        { index: 1, field: 'store_id', reason: 'bad id' },
      ],
    },
  };
  const o = outcome([rec(7), rec(8), rec(9)], answer);
  assert.equal(o.kind, 'reject');
  assert.deepEqual(o.rejected, [{ seq: 8, status: 422, reason: 'lines[0].quantity: must be greater than 0; store_id: bad id' }]);
});

test('a 4xx naming no event splits a batch, and rejects a single event with the reason', () => {
  assert.equal(outcome([rec(1), rec(2)], { status: 400, data: { error: 'invalid_json', detail: [] } }).kind, 'split');
  const o = outcome([rec(1)], { status: 400, data: { error: 'invalid_json', detail: [{ index: null, field: null, reason: 'bad' }] } });
  assert.deepEqual(o.rejected, [{ seq: 1, status: 400, reason: 'bad' }]);
  const bare = outcome([rec(1)], { status: 404, data: null });
  assert.deepEqual(bare.rejected, [{ seq: 1, status: 404, reason: 'HTTP 404' }]);
});

test('401 keeps everything waiting for a key', () => {
  assert.deepEqual(outcome([rec(1)], { status: 401, data: null }), { kind: 'auth', synced: [], rejected: [] });
  // no key on the device: auth.js answers locally, the same way
  assert.deepEqual(outcome([rec(1), rec(2)], { status: 401, data: { error: 'not_paired' } }), { kind: 'auth', synced: [], rejected: [] });
});

test('403: a batch is split to find the event; that one is held, never rejected', () => {
  const forbidden = { status: 403, data: { error: 'forbidden', permission: 'events:write:count', store_id: 's1', detail: [] } };
  assert.equal(outcome([rec(1), rec(2)], forbidden).kind, 'split');
  assert.deepEqual(outcome([rec(5)], forbidden), {
    kind: 'hold', synced: [], rejected: [], held: [{ seq: 5, status: 403, reason: 'events:write:count @ s1' }],
  });
  assert.equal(outcome([rec(5)], { status: 403, data: null }).held[0].reason, 'forbidden');
  // a cross-site refusal is about the request, not the key: the usual 4xx path
  assert.equal(outcome([rec(5)], { status: 403, data: { error: 'cross_site', detail: [] } }).kind, 'reject');
});

test('backoff doubles from 1 s to a 60 s cap with jitter', () => {
  assert.equal(backoff(0, () => 1), 1000);
  assert.equal(backoff(0, () => 0), 500);
  assert.equal(backoff(3, () => 1), 8000);
  assert.equal(backoff(20, () => 1), 60000);
});

test('summary and pruning', () => {
  const records = [rec(1, 'synced'), rec(2, 'synced'), rec(3), rec(4, 'rejected'), rec(5, 'synced')];
  assert.deepEqual(summary(records), { waiting: 1, held: 0, synced: 3, rejected: 1 });
  assert.deepEqual(prunable(records, 2), [1]);
});

test('read-your-writes tokens merge to the highest offset per partition', async () => {
  const { mergeTokens } = await import('../src/outbox-core.js');
  assert.equal(mergeTokens('v1.3:1042,5:77', 'v1.5:80,1:2'), 'v1.1:2,3:1042,5:80');
  assert.equal(mergeTokens(null, 'v1.0:5'), 'v1.0:5');
  assert.equal(mergeTokens(null, null), null);
});
