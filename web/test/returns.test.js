import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildEvent, implausible, newLine, voidOf } from '../src/events.js';

const rice = { sku: 'rice', name: 'Basmati rice', unit: 'kg', price: '380.00' };
const tea = { sku: 'tea', name: 'Tapal', unit: 'piece', price: '450.00', packs: [{ unit: 'carton', size: '12' }] };
const base = { storeId: 's1', terminalId: 'web-1' };

test('a customer return names the sale it returns and refunds at the sale price', () => {
  const line = { ...newLine(tea, 'return') };
  assert.equal(line.qty, '1');
  const { event } = buildEvent({ ...base, mode: 'return', lines: [line], original: 'abc-sale' }, { id: 'r1' });
  assert.equal(event.type, 'return');
  assert.equal(event.original_event_id, 'abc-sale');
  assert.equal(event.reason, undefined, 'customer_return is the default');
  assert.deepEqual(event.lines, [{ sku: 'tea', quantity: '1', unit_price: '450.00' }]);
  const noRefund = buildEvent({ ...base, mode: 'return', lines: [{ ...line, price: '' }] }, { id: 'r2' });
  assert.deepEqual(noRefund.event.lines, [{ sku: 'tea', quantity: '1' }]);
});

test('a void carries the sale lines unchanged', () => {
  const sale = {
    event_id: 'sale-1', type: 'sale', store_id: 's1', terminal_id: 'web-1', occurred_at: '2026-01-01T10:00:00+05:00',
    lines: [{ sku: 'rice', quantity: '99999', unit_price: '380.00' }, { sku: 'tea', quantity: '2', unit: 'carton', unit_price: '5400.00' }],
  };
  const v = voidOf(sale, { id: 'v1', why: 'wrong quantity' });
  assert.equal(v.type, 'return');
  assert.equal(v.reason, 'void');
  assert.equal(v.original_event_id, 'sale-1');
  assert.deepEqual(v.lines, sale.lines);
  assert.notEqual(v.lines[0], sale.lines[0], 'copied, not shared');
  assert.equal(v.note, 'wrong quantity');
  assert.equal(v.store_id, 's1');
});

test('the contract bounds refuse a line outright', () => {
  const big = { ...newLine(rice, 'sale'), qty: '1,000,001' };
  assert.deepEqual(buildEvent({ ...base, mode: 'sale', lines: [big] }).errors, [{ key: 'err_qty_max', vars: { name: 'Basmati rice' } }]);
  const cartons = { ...newLine(tea, 'sale'), unit: 'carton', qty: '83,334' }; // 1,000,008 pieces
  assert.equal(buildEvent({ ...base, mode: 'sale', lines: [cartons] }).errors[0].key, 'err_qty_max');
  const dear = { ...newLine(tea, 'sale'), price: '10,000,000.01' };
  assert.equal(buildEvent({ ...base, mode: 'sale', lines: [dear] }).errors[0].key, 'err_price_max');
  const comma = { ...newLine(rice, 'sale'), qty: '1,5' };
  assert.equal(buildEvent({ ...base, mode: 'sale', lines: [comma] }).errors[0].key, 'err_comma');
  const grouped = { ...newLine(rice, 'sale'), qty: '1,000', price: '1,500' };
  assert.deepEqual(buildEvent({ ...base, mode: 'sale', lines: [grouped] }).event.lines, [{ sku: 'rice', quantity: '1000', unit_price: '1500.00' }]);
});

test('an implausible quantity asks first; a usual one does not', () => {
  const line = (p, qty, unit) => ({ ...newLine(p, 'sale'), qty, unit: unit ?? p.unit });
  assert.equal(implausible(line(rice, '2.5'), 'sale'), null);
  assert.equal(implausible(line(rice, '1000'), 'sale').key, 'confirm_qty');
  assert.equal(implausible(line(rice, '1000'), 'sale', { onHand: 2_000_000n }), null, 'the shop has 2,000 kg');
  assert.equal(implausible(line(rice, '100'), 'sale', { usual: 20_000n }), null, 'it usually sells 20 kg');
  assert.equal(implausible(line(tea, '2', 'carton'), 'sale'), null);
  assert.equal(implausible(line(tea, '24'), 'sale'), null);
  assert.ok(implausible(line(tea, '8964000101011'), 'sale'), 'a barcode typed as a quantity');
  assert.equal(implausible(line(tea, '5', 'carton'), 'purchase'), null);
  assert.equal(implausible(line(rice, '5000'), 'count'), null);
});
