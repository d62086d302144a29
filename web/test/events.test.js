import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, billTotal, lineAmount, newLine, priceFor, rfc3339, unitsOf, uuid } from '../src/events.js';
import { moneyString } from '../src/decimal.js';

const rice = { sku: 'basmati-rice-loose', name: 'Basmati rice', unit: 'kg', price: '380.00', cost: '340.00' };
const tea = { sku: 'tapal-190g', name: 'Tapal 190g', unit: 'piece', price: '450.00', packs: [{ unit: 'carton', size: '12' }] };
const base = { storeId: 'lahore-007', terminalId: 'web-1' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuids are v4, with or without randomUUID', () => {
  assert.match(uuid(), UUID);
  assert.match(uuid({ getRandomValues: (a) => a.fill(0xab) }), UUID);
});

test('occurred_at is RFC 3339 with an offset', () => {
  assert.match(rfc3339(new Date()), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
});

test('units: base, packs and measures', () => {
  assert.deepEqual(unitsOf(tea).map((u) => [u.unit, u.factor]), [['piece', 1000n], ['carton', 12000n]]);
  assert.deepEqual(unitsOf(rice).map((u) => u.unit), ['kg', 'g']);
  assert.equal(priceFor(tea, 'carton'), '5400.00');
  assert.equal(priceFor(rice, 'g'), '0.38');
  assert.equal(priceFor(rice, 'kg', 'cost'), '340.00');
});

test('a sale with loose goods by weight and a whole carton', () => {
  const l1 = { ...newLine(rice, 'sale'), qty: '0.125' };
  const l2 = { ...newLine(tea, 'sale'), unit: 'carton', qty: '2', price: priceFor(tea, 'carton') };
  assert.equal(newLine(rice, 'sale').qty, '');
  assert.equal(newLine(tea, 'sale').qty, '1');
  assert.equal(moneyString(lineAmount(l1)), '47.50');
  assert.equal(moneyString(billTotal([l1, l2])), '10847.50');
  const { event, errors } = buildEvent({ ...base, mode: 'sale', lines: [l1, l2] }, { id: 'id-1' });
  assert.equal(errors, undefined);
  assert.equal(event.type, 'sale');
  assert.deepEqual(event.lines, [
    { sku: 'basmati-rice-loose', quantity: '0.125', unit_price: '380.00' },
    { sku: 'tapal-190g', quantity: '2', unit_price: '5400.00', unit: 'carton' },
  ]);
  assert.equal(event.event_id, 'id-1');
  assert.equal(event.store_id, 'lahore-007');
});

test('goods received need a supplier and carry unit_cost', () => {
  const line = { ...newLine(tea, 'purchase'), qty: '24', price: '400' };
  assert.equal(newLine(tea, 'purchase').price, '', 'no cost in the catalog: the person types it');
  assert.deepEqual(buildEvent({ ...base, mode: 'purchase', lines: [line], supplier: ' ' }).errors, [{ key: 'err_supplier' }]);
  const { event } = buildEvent({ ...base, mode: 'purchase', lines: [line], supplier: 'Tapal Ltd' });
  assert.equal(event.supplier, 'Tapal Ltd');
  assert.deepEqual(event.lines, [{ sku: 'tapal-190g', quantity: '24', unit_cost: '400.00' }]);
});

test('adjustments remove stock unless they are corrections', () => {
  const line = { ...newLine(tea, 'adjustment'), qty: '3' };
  const { event } = buildEvent({ ...base, mode: 'adjustment', reason: 'expiry', lines: [line] });
  assert.equal(event.reason, 'expiry');
  assert.equal(event.lines[0].quantity, '-3');
  const fix = buildEvent({ ...base, mode: 'adjustment', reason: 'correction', lines: [line] }).event;
  assert.equal(fix.lines[0].quantity, '3');
  const zero = buildEvent({ ...base, mode: 'adjustment', reason: 'theft', lines: [{ ...line, qty: '0' }] });
  assert.equal(zero.errors[0].key, 'err_qty_nonzero');
});

test('counts take zero and refuse negatives', () => {
  const line = { ...newLine(rice, 'count'), qty: '23.750' };
  assert.equal(buildEvent({ ...base, mode: 'count', lines: [line] }).event.lines[0].quantity, '23.75');
  assert.equal(buildEvent({ ...base, mode: 'count', lines: [{ ...line, qty: '0' }] }).event.lines[0].quantity, '0');
  assert.equal(buildEvent({ ...base, mode: 'count', lines: [{ ...line, qty: '-1' }] }).errors[0].key, 'err_qty_nonneg');
});

test('bad input is named, never sent', () => {
  assert.deepEqual(buildEvent({ ...base, mode: 'sale', lines: [] }).errors, [{ key: 'err_lines' }]);
  const bad = { ...newLine(rice, 'sale'), qty: '0.1255' };
  assert.deepEqual(buildEvent({ ...base, mode: 'sale', lines: [bad] }).errors, [{ key: 'err_qty', vars: { name: 'Basmati rice' } }]);
  const noPrice = { ...newLine(rice, 'sale'), qty: '1', price: '' };
  assert.equal(buildEvent({ ...base, mode: 'sale', lines: [noPrice] }).errors[0].key, 'err_price');
});

test('the counter offers what the key may record', async () => {
  const { modesFor, MODES } = await import('../src/events.js');
  assert.deepEqual(modesFor('terminal'), ['sale', 'return']);
  assert.deepEqual(modesFor('cashier'), ['sale', 'return', 'count']);
  assert.deepEqual(modesFor('analyst'), []);
  assert.deepEqual(modesFor('owner'), MODES);
  assert.deepEqual(modesFor(undefined), MODES);
});
