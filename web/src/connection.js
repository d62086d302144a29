// Is the API reachable? The last request decides (a failed fetch means offline, any HTTP answer
// means online); the browser's online/offline events only hint and trigger a probe.

const listeners = new Set();
let reachable = typeof navigator === 'undefined' ? true : navigator.onLine !== false;

export function isOnline() {
  return reachable;
}

export function reportReachable(value) {
  if (value === reachable) return;
  reachable = value;
  for (const fn of listeners) fn(value);
}

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Ask the server directly (used when the browser says it is back online). */
export async function probe() {
  try {
    await fetch('/health', { cache: 'no-store', credentials: 'same-origin' });
    reportReachable(true);
  } catch {
    reportReachable(false);
  }
  return reachable;
}

if (typeof window !== 'undefined') {
  window.addEventListener('offline', () => reportReachable(false));
  window.addEventListener('online', () => { probe(); });
}
