import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explain } from '../src/refusal.js';
import { translate } from '../src/i18n.js';

const event = { type: 'sale', lines: [{ sku: 'tea', quantity: '2', unit: 'bag', unit_price: '1.00' }, { sku: 'rice', quantity: '0' }] };
const names = { tea: 'Tapal Danedar', rice: 'Basmati rice' };

test('a refusal names the product and what to do, without the server text', () => {
  const r = { event, status: 422, reason: "lines[0].unit: unknown unit 'bag' for sku 'tea': one of piece, carton" };
  assert.deepEqual(explain(r, (s) => names[s]), [{ key: 'fix_unit', vars: { name: 'Tapal Danedar', unit: 'bag' } }]);
  const text = translate('en', 'fix_unit', { name: 'Tapal Danedar', unit: 'bag' });
  assert.match(text, /Tapal Danedar/);
  assert.doesNotMatch(text, /lines\[|422|sku/);
  assert.match(translate('ur', 'fix_unit', { name: 'ٹپال', unit: 'bag' }), /ٹپال/);
});

test('several lines, each once; unknown reasons still say what to do', () => {
  const r = { event, status: 422, reason: 'lines[1].quantity: must be more than 0; lines[1].quantity: again; lines[0].sku: unknown sku' };
  assert.deepEqual(explain(r, (s) => names[s]).map((x) => [x.key, x.vars.name]), [['fix_qty', 'Basmati rice'], ['fix_sku', 'Tapal Danedar']]);
  assert.deepEqual(explain({ event, status: 400, reason: 'HTTP 400' }), [{ key: 'fix_other', vars: { type: 'sale' } }]);
  assert.deepEqual(explain({ event, status: 422, reason: 'occurred_at: too far in the future' }), [{ key: 'fix_time', vars: {} }]);
  for (const key of ['fix_unit', 'fix_qty', 'fix_price', 'fix_sku', 'fix_line', 'fix_time', 'fix_store', 'fix_other']) {
    assert.notEqual(translate('ur', key, {}), key, key);
    assert.notEqual(translate('en', key, {}), key, key);
  }
});
