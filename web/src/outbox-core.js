// What to do with an answer to a batch of queued events: pure, so it is tested with node --test.
//
// Outcomes:  ok     every event was accepted (202): they are synced
//            reject some events were refused (4xx naming them): they are set aside with the
//                   server's reason, shown to the person, never dropped; the rest go again
//            split  a 4xx that names no event in a batch of several: send one by one to find it
//            retry  no answer, 5xx, 408 or 429: keep everything, try again after a backoff
//                   (events the broker did take, listed by a 503, are already synced)
//            auth   401: the device has no key, or its key was refused: keep everything, wait
//                   for a key (a new pairing sends them)
//            hold   403 for one event: this key may not send it (a count from a terminal, a
//                   store outside its scope). Kept, shown, sent again when the key changes; a
//                   403 for a batch of several splits it to find which, so one such event
//                   never holds back the rest. Never dropped.

export const BATCH_SIZE = 50;

/** The next events to send: waiting ones, in the order they were recorded. */
export function nextBatch(records, max = BATCH_SIZE) {
  return records.filter((r) => r.state === 'waiting').sort((a, b) => a.seq - b.seq).slice(0, max);
}

function reasonText(item) {
  if (!item) return '';
  const where = item.field ? `${item.field}: ` : '';
  return `${where}${item.reason ?? ''}`.trim();
}

/**
 * @param batch  outbox records sent, in the order of the POST's events
 * @param answer {status, data} of the POST, or null when no answer came
 */
export function outcome(batch, answer) {
  const seqs = batch.map((r) => r.seq);
  if (!answer) return { kind: 'retry', synced: [], rejected: [] };
  const { status, data } = answer;
  if (status === 202 || status === 200) {
    return { kind: 'ok', synced: seqs, rejected: [], token: data?.token ?? null };
  }
  if (status === 401) return { kind: 'auth', synced: [], rejected: [] };
  if (status === 403 && data?.error !== 'cross_site') {
    if (batch.length > 1) return { kind: 'split', synced: [], rejected: [] };
    const why = [data?.permission, data?.store_id].filter(Boolean).join(' @ ');
    return { kind: 'hold', synced: [], rejected: [], held: [{ seq: seqs[0], status, reason: why || String(data?.error || 'forbidden') }] };
  }
  if (status >= 500 || status === 408 || status === 429) {
    const delivered = new Set(Array.isArray(data?.delivered) ? data.delivered : []);
    const synced = batch.filter((r) => delivered.has(r.event.event_id)).map((r) => r.seq);
    return { kind: 'retry', synced, rejected: [] };
  }
  // another 4xx: the request itself was refused
  const detail = Array.isArray(data?.detail) ? data.detail : [];
  const general = data?.error ? String(data.error) : `HTTP ${status}`;
  const byIndex = new Map();
  for (const item of detail) {
    const index = batch.length === 1 && (item.index === null || item.index === undefined) ? 0 : item.index;
    if (Number.isInteger(index) && index >= 0 && index < batch.length) {
      byIndex.set(index, [...(byIndex.get(index) || []), reasonText(item)]);
    }
  }
  if (byIndex.size === 0) {
    if (batch.length > 1) return { kind: 'split', synced: [], rejected: [] };
    const reasons = detail.map(reasonText).filter(Boolean);
    return { kind: 'reject', synced: [], rejected: [{ seq: seqs[0], status, reason: reasons.join('; ') || general }] };
  }
  const rejected = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([i, reasons]) => ({
    seq: seqs[i], status, reason: reasons.filter(Boolean).join('; ') || general,
  }));
  return { kind: 'reject', synced: [], rejected };
}

/** Milliseconds before retry number `attempt` (0-based): 1 s doubling to 60 s, with jitter. */
export function backoff(attempt, random = Math.random) {
  const base = Math.min(60_000, 1000 * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + (base / 2) * random());
}

/** Counts for the status line. */
export function summary(records) {
  const out = { waiting: 0, held: 0, synced: 0, rejected: 0 };
  for (const r of records) if (r.state in out) out[r.state] += 1;
  return out;
}

/** Synced records beyond the newest `keep` can go: the server has them. */
export function prunable(records, keep = 200) {
  const synced = records.filter((r) => r.state === 'synced').sort((a, b) => b.seq - a.seq);
  return synced.slice(keep).map((r) => r.seq);
}

/** Read-your-writes tokens ("v1.3:1042,5:77") merged: the highest offset per partition. */
export function mergeTokens(a, b) {
  const offsets = new Map();
  for (const token of [a, b]) {
    if (!token || !token.startsWith('v1.')) continue;
    for (const part of token.slice(3).split(',').filter(Boolean)) {
      const [p, o] = part.split(':').map(Number);
      if (Number.isInteger(p) && Number.isInteger(o) && o > (offsets.get(p) ?? -1)) offsets.set(p, o);
    }
  }
  if (!offsets.size) return a || b || null;
  return `v1.${[...offsets.entries()].sort((x, y) => x[0] - y[0]).map(([p, o]) => `${p}:${o}`).join(',')}`;
}
