import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMoney, parseNumber, parseQty, qtyString } from '../src/decimal.js';

test('a comma groups thousands, as Pakistan and India write them', () => {
  assert.equal(parseQty('1,000'), 1_000_000n);
  assert.equal(parseMoney('1,500'), 150_000n, 'Rs 1,500 is fifteen hundred, not 1.50');
  assert.equal(parseQty('12,345,678.5'), 12_345_678_500n);
  assert.equal(parseQty('1,00,000'), 100_000_000n, 'lakh grouping');
  assert.equal(parseQty('12,34,567'), 1_234_567_000n);
  assert.equal(parseMoney('1,00,000.25'), 10_000_025n);
  assert.equal(parseQty('1 000'), 1_000_000n, 'a space between groups');
  assert.equal(parseQty('1\u00a0000'), 1_000_000n);
});

test('a comma that could be a decimal comma is refused, saying so', () => {
  for (const bad of ['1,5', '0,125', '12,5', '1,50', '1,0000', ',5', '1,000,00', '1,2,3', '1,']) {
    assert.deepEqual(parseNumber(bad, 3), { error: 'comma' }, bad);
    assert.equal(parseQty(bad), null, bad);
  }
});

test('Urdu, Hindi and Arabic-Indic digits, with their separators', () => {
  assert.equal(parseQty('۱,۰۰۰'), 1_000_000n, 'Urdu digits');
  assert.equal(parseQty('१,००,०००'), 100_000_000n, 'Devanagari digits, lakhs');
  assert.equal(parseQty('٢٬٥٠٠'), 2_500_000n, 'Arabic-Indic digits, Arabic thousands separator');
  assert.equal(parseQty('٠٫١٢٥'), 125n, 'Arabic decimal separator');
  assert.equal(parseQty('۰.۲۵'), 250n);
});

test('errors name what is wrong', () => {
  assert.deepEqual(parseNumber('1.2345', 3), { error: 'places' });
  assert.deepEqual(parseNumber('abc', 3), { error: 'invalid' });
  assert.deepEqual(parseNumber('', 3), { error: 'invalid' });
  assert.deepEqual(parseNumber('1,000', 3), { value: 1_000_000n });
});

test('exact at any size: no float on the way', () => {
  assert.equal(qtyString(parseQty('99,999,999,999.999')), '99999999999.999');
  assert.equal(qtyString(parseQty('9,99,99,99,99,999.001')), '999999999999.001');
});
