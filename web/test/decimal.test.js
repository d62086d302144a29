import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asciiDigits, parse, parseQty, parseMoney, qtyString, moneyString, lineTotal, mulQty, sum, divRound, format,
} from '../src/decimal.js';

test('parses quantities exactly into milli-units', () => {
  assert.equal(parseQty('0.125'), 125n);
  assert.equal(parseQty('12'), 12000n);
  assert.equal(parseQty('1.5'), 1500n);
  assert.equal(parseQty('.5'), 500n);
  assert.equal(parseQty('-3'), -3000n);
  assert.equal(parseQty(' 2.250 '), 2250n);
  assert.equal(parseQty('0.1250'), 125n, 'trailing zeros past 3 places are fine');
  assert.equal(parseQty(7), 7000n);
});

test('refuses what is not an exact quantity', () => {
  for (const bad of ['', '.', 'abc', '1.2345', '1e3', '1..2', '--1', '0.1x', null, undefined, 0.1]) {
    assert.equal(parseQty(bad), null, String(bad));
  }
});

test('reads digits from Urdu, Arabic and Hindi keyboards', () => {
  assert.equal(asciiDigits('۰٫۱۲۵'), '0.125');
  assert.equal(parseQty('٢٫٥'), 2500n);
  assert.equal(parseQty('१२'), 12000n);
  assert.equal(parseQty('0,125'), null, 'a comma here would be a decimal comma: refused');
});

test('formats back to contract strings', () => {
  assert.equal(qtyString(125n), '0.125');
  assert.equal(qtyString(2000n), '2');
  assert.equal(qtyString(2500n), '2.5');
  assert.equal(qtyString(-3000n), '-3');
  assert.equal(qtyString(0n), '0');
  assert.equal(moneyString(38000n), '380.00');
  assert.equal(moneyString(5n), '0.05');
  assert.equal(moneyString(-5n), '-0.05');
  assert.equal(format(0n, 2), '0.00');
});

test('money parses to paisa', () => {
  assert.equal(parseMoney('380'), 38000n);
  assert.equal(parseMoney('380.5'), 38050n);
  assert.equal(parseMoney('0.005'), null);
});

test('line totals are exact and round half away from zero to the paisa', () => {
  // 0.125 kg at 380.00 = 47.50
  assert.equal(moneyString(lineTotal(parseQty('0.125'), parseMoney('380.00'))), '47.50');
  // 0.333 kg at 1.99 = 0.66267 -> 0.66
  assert.equal(moneyString(lineTotal(333n, 199n)), '0.66');
  // 0.005 x 1.00 = 0.005 -> 0.01 (half up)
  assert.equal(moneyString(lineTotal(5n, 100n)), '0.01');
  assert.equal(divRound(-5n, 10n), -1n);
  assert.equal(divRound(4n, 10n), 0n);
});

test('sums never drift the way floats do', () => {
  const tenths = Array.from({ length: 10 }, () => parseMoney('0.10'));
  assert.equal(moneyString(sum(tenths)), '1.00');
  assert.equal(qtyString(sum([parseQty('0.1'), parseQty('0.2')])), '0.3');
});

test('pack sizes multiply exactly', () => {
  assert.equal(qtyString(mulQty(parseQty('3'), parseQty('12'))), '36');
  assert.equal(qtyString(mulQty(parseQty('2'), parseQty('0.75'))), '1.5');
});

test('bigint input and large values stay exact', () => {
  assert.equal(parse(5n, 3), 5000n);
  assert.equal(qtyString(parseQty('999999999999.999')), '999999999999.999');
  assert.equal(moneyString(lineTotal(parseQty('123456789.123'), parseMoney('98765.43'))), '12193262864152.42');
});
