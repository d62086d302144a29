// A barcode scanner types like a very fast keyboard: digits a few milliseconds apart, then Enter.
// Wherever the focus is, such a burst goes to product search: what it typed into a quantity or a
// price is taken back, and its Enter neither records nor moves on. A person typing is far slower.

export const GAP_MS = 100; // most between two keys of one burst
export const MEAN_MS = 40; // most on average: a scanner is steady and fast, a person is not
export const MIN_DIGITS = 6; // the shortest barcode a shop scans (EAN-8 is 8; some codes are shorter)

function valueOf(el) {
  return el && 'value' in el ? { value: el.value, start: el.selectionStart ?? null, end: el.selectionEnd ?? null } : null;
}

function restore(el, before) {
  if (!before || !('value' in el) || el.value === before.value) return;
  el.value = before.value;
  if (before.start !== null) { try { el.setSelectionRange(before.start, before.end); } catch { /* not a text input */ } }
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
}

/**
 * A keydown listener (use it in the capture phase on window) that calls onScan(code) for a burst.
 * Targets for which passThrough(el) is true (the search box) keep their own handling.
 */
export function scannerListener(onScan, { passThrough = () => false, now = () => performance.now() } = {}) {
  let burst = null;
  return function onKeyDown(e) {
    const t = now();
    if (/^[0-9]$/.test(e.key) && !e.ctrlKey && !e.metaKey && !e.altKey) {
      if (!burst || t - burst.last > GAP_MS || burst.el !== e.target) {
        burst = { el: e.target, before: valueOf(e.target), digits: '', first: t, last: t };
      }
      burst.digits += e.key;
      burst.last = t;
      return;
    }
    const scanned = e.key === 'Enter' && burst && burst.el === e.target && burst.digits.length >= MIN_DIGITS
      && t - burst.last <= GAP_MS && (t - burst.first) / burst.digits.length <= MEAN_MS;
    const b = burst;
    burst = null;
    if (!scanned || passThrough(e.target)) return;
    e.preventDefault();
    e.stopPropagation();
    restore(b.el, b.before);
    onScan(b.digits);
  };
}
