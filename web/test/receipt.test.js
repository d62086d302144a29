import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receipt, receiptText } from '../src/receipt.js';
import { formatMoney, formatNumber, translate, unitName } from '../src/i18n.js';
import { fromHistory } from '../src/quickkeys.js';

const event = {
  event_id: 'abcdef12-0000-4000-8000-000000000000', type: 'sale', store_id: 's1', occurred_at: '2026-01-01T10:00:00+05:00',
  lines: [{ sku: 'rice', quantity: '1.25', unit_price: '380.00' }, { sku: 'tea', quantity: '2', unit_price: '450.00' }],
};

function fmt(lang) {
  const locale = lang === 'ur' ? 'ur-PK' : 'en-PK';
  return {
    t: (k, v) => translate(lang, k, v), money: (v) => formatMoney(v, 'PKR', locale), num: (v) => formatNumber(v, locale),
    unit: (u) => unitName(lang, u), when: () => '1 Jan 2026, 10:00',
  };
}

test('a receipt in English and Urdu: lines, total, cash and change', () => {
  for (const lang of ['en', 'ur']) {
    const f = fmt(lang);
    const r = receipt({ event, store: { name: 'Store One' }, cash: 200000n }, f, (s) => ({ rice: 'Rice', tea: 'Tea' }[s]));
    assert.equal(r.no, 'abcdef12');
    assert.equal(r.lines.length, 2);
    const text = receiptText(r, f.t);
    assert.match(text, /Store One/);
    assert.match(text, /1,375\.00/, 'the total: 475 + 900');
    assert.match(text, /2,000\.00/);
    assert.match(text, /625\.00/, 'change');
    assert.match(text, new RegExp(translate(lang, 'thanks')));
  }
});

test('quick keys from this phone’s history: most sold first, cancelled sales left out', () => {
  const rec = (state, skus, type = 'sale') => ({ state, event: { type, lines: skus.map((sku) => ({ sku })) } });
  const records = [rec('synced', ['tea', 'rice']), rec('waiting', ['tea']), rec('cancelled', ['milk', 'milk']), rec('synced', ['milk'], 'count')];
  assert.deepEqual(fromHistory(records), [{ sku: 'tea', sold: 2 }, { sku: 'rice', sold: 1 }]);
});
