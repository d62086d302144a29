import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastDays, localDay, movementRows, percentOf, rowsOf, salesDays } from '../src/reports.js';

test('local days follow the store time zone', () => {
  const now = new Date('2026-11-22T20:30:00Z'); // 01:30 on the 23rd in Karachi
  assert.equal(localDay('Asia/Karachi', now), '2026-11-23');
  assert.equal(localDay('UTC', now), '2026-11-22');
  assert.deepEqual(lastDays('Asia/Karachi', 3, now), ['2026-11-21', '2026-11-22', '2026-11-23']);
});

test('daily_sales rows give today and a bar per day, zero when nothing sold', () => {
  const data = {
    report: 'daily_sales',
    rows: [
      { store_id: 's1', day: '2026-11-21', bills: 3, units: '4.125', revenue: '1520.50' },
      { store_id: 's1', day: '2026-11-23', bills: 1, units: '0.125', revenue: '47.5025', gross_margin: '7.5025', uncosted_lines: 0 },
    ],
  };
  const got = salesDays(data, ['2026-11-21', '2026-11-22', '2026-11-23']);
  // no units: a day's units add kilograms to pieces
  assert.deepEqual(got.today, { revenue: '47.5025', bills: 1, margin: '7.5025', pct: '15.7', uncosted: 0 });
  assert.deepEqual(got.bars.map((b) => b.revenue), ['1520.50', '0', '47.5025']);
  assert.deepEqual(salesDays({ rows: [] }, ['2026-11-23']).today, { revenue: '0.00', bills: 0, margin: '0.00', pct: null, uncosted: 0 });
  const uncosted = salesDays({ rows: [{ day: '2026-11-23', bills: 2, revenue: '10.00', gross_margin: null, uncosted_lines: 1 }] }, ['2026-11-23']);
  assert.deepEqual(uncosted.today, { revenue: '10.00', bills: 2, margin: null, pct: null, uncosted: 1 });
});

test('movements newest first', () => {
  const rows = [1, 2, 3].map((i) => ({ event_id: `e${i}` }));
  assert.deepEqual(movementRows({ rows }).map((r) => r.event_id), ['e3', 'e2', 'e1']);
  assert.deepEqual(movementRows({ rows }, 2).map((r) => r.event_id), ['e3', 'e2']);
});

test('a margin in percent is exact and truncated; answers of any list shape give their rows', () => {
  assert.equal(percentOf('120.00', '1090.00'), '11.0');
  assert.equal(percentOf('-3.33', '10.00'), '-33.3');
  assert.equal(percentOf('1', '0'), null);
  assert.deepEqual(rowsOf({ rows: [1] }), [1]);
  assert.deepEqual(rowsOf({ items: [2] }), [2]);
  assert.deepEqual(rowsOf([3]), [3]);
  assert.deepEqual(rowsOf(null), []);
});
