import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scannerListener } from '../src/scanner.js';

function fakeInput(value) {
  const events = [];
  return { value, selectionStart: value.length, selectionEnd: value.length, setSelectionRange() {}, dispatchEvent: (e) => events.push(e.type), events };
}

function keys(listener, el, text, clock, gap) {
  const out = [];
  for (const key of text) {
    clock.t += gap;
    const e = { key: key === '\n' ? 'Enter' : key, target: el, prevented: false, preventDefault() { this.prevented = true; }, stopPropagation() {} };
    listener(e);
    if (!e.prevented && key !== '\n') el.value += key; // what the browser would type
    out.push(e);
  }
  return out;
}

globalThis.Event ??= class { constructor(type) { this.type = type; } };

test('a fast burst of digits and Enter is a scan: the quantity is given back', () => {
  const clock = { t: 0 };
  const scans = [];
  const l = scannerListener((c) => scans.push(c), { now: () => clock.t });
  const qty = fakeInput('2');
  const evs = keys(l, qty, '8961014000019\n', clock, 5);
  assert.deepEqual(scans, ['8961014000019']);
  assert.equal(qty.value, '2');
  assert.ok(evs.at(-1).prevented, 'its Enter does nothing else');
  assert.ok(qty.events.includes('input'));
});

test('a person typing a quantity and Enter is not a scan', () => {
  const clock = { t: 0 };
  const scans = [];
  const l = scannerListener((c) => scans.push(c), { now: () => clock.t });
  const qty = fakeInput('');
  const evs = keys(l, qty, '1000000\n', clock, 120);
  assert.deepEqual(scans, []);
  assert.equal(qty.value, '1000000');
  assert.ok(!evs.at(-1).prevented);
  keys(l, qty, '12\n', clock, 5); // fast but short
  assert.deepEqual(scans, []);
});

test('the search box keeps its own Enter', () => {
  const clock = { t: 0 };
  const scans = [];
  const search = fakeInput('');
  const l = scannerListener((c) => scans.push(c), { now: () => clock.t, passThrough: (el) => el === search });
  keys(l, search, '8961014000019\n', clock, 5);
  assert.deepEqual(scans, []);
  assert.equal(search.value, '8961014000019');
});
