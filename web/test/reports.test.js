import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastDays, localDay, movementRows, salesDays } from '../src/reports.js';

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
      { store_id: 's1', day: '2026-11-23', bills: 1, units: '0.125', revenue: '47.50' },
    ],
  };
  const got = salesDays(data, ['2026-11-21', '2026-11-22', '2026-11-23']);
  assert.deepEqual(got.today, { revenue: '47.50', bills: 1, units: '0.125' });
  assert.deepEqual(got.bars.map((b) => b.revenue), ['1520.50', '0', '47.50']);
  assert.deepEqual(salesDays({ rows: [] }, ['2026-11-23']).today, { revenue: '0.00', bills: 0, units: '0' });
});

test('movements newest first', () => {
  const rows = [1, 2, 3].map((i) => ({ event_id: `e${i}` }));
  assert.deepEqual(movementRows({ rows }).map((r) => r.event_id), ['e3', 'e2', 'e1']);
  assert.deepEqual(movementRows({ rows }, 2).map((r) => r.event_id), ['e3', 'e2']);
});
