// The outbox: every recorded event is first written to IndexedDB (in order, durable), then sent
// by a sync loop in batches whenever the API is reachable, retried with backoff. Event ids make
// re-sending safe, so an event is counted once however often it goes out.

import * as idb from './idb.js';
import { auth, postEvents, NetworkError } from './api.js';
import { isOnline, onChange, probe } from './connection.js';
import { BATCH_SIZE, backoff, mergeTokens, nextBatch, outcome, prunable } from './outbox-core.js';

const TOKEN_KEY = 'bazaar.rw-token';

const STORE = 'outbox';
const listeners = new Set();
let records = [];
let status = { syncing: false, lastSyncAt: null, lastError: null, auth: false };
let running = null;
let timer = null;
let attempt = 0;
const inFlight = new Set(); // seqs of the batch being sent: too late to cancel them
const cancelling = new Set(); // seqs a person cancelled: never picked for a batch

function emit() {
  for (const fn of listeners) fn({ records, status });
}

/** Subscribe to {records, status}; returns the unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  fn({ records, status });
  return () => listeners.delete(fn);
}

async function reload() {
  records = await idb.all(STORE);
  emit();
}

/** Keep an event (durably) and start sending it. Resolves once it is in IndexedDB. */
export async function enqueue(event) {
  const seq = await idb.add(STORE, { event, state: 'waiting', queued_at: new Date().toISOString(), attempts: 0 });
  await reload();
  kick();
  return seq;
}

/** The person saw a rejected event and set it aside. It stays listed as dismissed. */
export async function dismiss(seq) {
  await idb.update(STORE, [seq], (r) => ({ ...r, state: 'dismissed', dismissed_at: new Date().toISOString() }));
  await reload();
}

/**
 * Cancel an event that still waits (the person confirmed). False when it is no longer waiting or is
 * being sent right now: then it may already count, and only a Return or Void undoes it.
 */
export async function cancel(seq) {
  if (inFlight.has(seq)) return false;
  cancelling.add(seq); // from here on (same tick) the sync loop leaves it out
  let done = false;
  await idb.update(STORE, [seq], (r) => {
    if (r.state !== 'waiting' || inFlight.has(seq)) return r;
    done = true;
    return { ...r, state: 'cancelled', cancelled_at: new Date().toISOString() };
  });
  if (!done) cancelling.delete(seq);
  await reload();
  return done;
}

/**
 * A refused event, corrected: the new one (its own id: the refused one was never accepted, so
 * only the new one can count) is queued and the refused one is marked fixed, pointing to it.
 */
export async function fix(seq, event) {
  const newSeq = await idb.add(STORE, { event, state: 'waiting', queued_at: new Date().toISOString(), attempts: 0, fixes: seq });
  await idb.update(STORE, [seq], (r) => ({ ...r, state: 'fixed', fixed_at: new Date().toISOString(), fixed_by: event.event_id }));
  await reload();
  kick();
  return newSeq;
}

/** Send now (after a new event, the connection coming back, or a retry timer). */
export function kick() {
  clearTimeout(timer);
  timer = null;
  if (!running) running = syncWithLock().finally(() => { running = null; });
  return running;
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(kick, ms);
}

async function syncWithLock() {
  // One tab at a time sends (two would only re-send, which is safe but wasteful).
  if (navigator.locks?.request) return navigator.locks.request('bazaar-outbox', () => syncLoop());
  return syncLoop();
}

async function syncLoop() {
  await reload();
  let size = BATCH_SIZE;
  status = { ...status, syncing: true };
  emit();
  try {
    for (;;) {
      const batch = nextBatch(records, size).filter((r) => !cancelling.has(r.seq));
      if (!batch.length) { attempt = 0; return; }
      let answer = null;
      for (const r of batch) inFlight.add(r.seq);
      try {
        answer = await postEvents(batch.map((r) => r.event));
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
      } finally {
        inFlight.clear();
      }
      const o = outcome(batch, answer);
      const now = new Date().toISOString();
      if (o.synced.length) {
        await idb.update(STORE, o.synced, (r) => ({ ...r, state: 'synced', synced_at: now, token: o.token ?? null }));
      }
      if (o.held?.length) {
        const why = new Map(o.held.map((x) => [x.seq, x]));
        await idb.update(STORE, [...why.keys()], (r) => ({
          ...r, state: 'held', held_at: now, status: why.get(r.seq).status, reason: why.get(r.seq).reason,
        }));
      }
      if (o.rejected.length) {
        const why = new Map(o.rejected.map((x) => [x.seq, x]));
        await idb.update(STORE, [...why.keys()], (r) => ({
          ...r, state: 'rejected', rejected_at: now, status: why.get(r.seq).status, reason: why.get(r.seq).reason,
        }));
      }
      if (o.kind === 'retry' || o.kind === 'auth') {
        await idb.update(STORE, batch.map((r) => r.seq).filter((s) => !o.synced.includes(s)), (r) => ({ ...r, attempts: (r.attempts || 0) + 1 }));
        await reload();
        status = {
          ...status, auth: o.kind === 'auth',
          lastError: answer ? `HTTP ${answer.status}` : 'offline',
        };
        schedule(backoff(attempt++));
        return;
      }
      if (o.token) localStorage.setItem(TOKEN_KEY, mergeTokens(readToken(), o.token));
      status = { ...status, lastSyncAt: now, lastError: null, auth: false };
      attempt = 0;
      if (o.kind === 'split') size = 1;
      await reload();
    }
  } finally {
    const old = prunable(records);
    if (old.length) { await idb.remove(STORE, old); await reload(); }
    status = { ...status, syncing: false };
    emit();
  }
}

/** Events this device's previous key was not allowed to send go again with the new one. */
async function release() {
  const held = (await idb.all(STORE)).filter((r) => r.state === 'held').map((r) => r.seq);
  if (held.length) await idb.update(STORE, held, (r) => ({ ...r, state: 'waiting' }));
  await reload();
}

/** Start: load what is waiting from earlier sessions and send it; resend when back online. */
export function start() {
  reload().then(kick);
  onChange((online) => { if (online) { attempt = 0; kick(); } });
  // Paired (again): what waited for a key goes now. Events never leave the outbox for want of
  // one: a 401 or 403 only makes them wait (outbox-core.js).
  auth.subscribe((s) => { if (s.paired) { attempt = 0; release().then(kick); } });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') kick();
  });
  // Without any other traffic, look for the connection now and then while events wait.
  setInterval(() => {
    if (!running && !timer && records.some((r) => r.state === 'waiting')) {
      if (isOnline()) kick(); else probe();
    }
  }, 15_000);
}

/** Token covering every event this device had accepted: pass it as `after` to read them. */
export function readToken() {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}
