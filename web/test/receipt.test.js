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

test('the receipt picture: 576 dots wide, Urdu mirrored, long names wrapped, every figure drawn', async () => {
  const { layout, WIDTH } = await import('../src/receipt-image.js');
  const measure = (text, font) => String(text).length * Number(/(\d+)px/.exec(font)[1]) * 0.55;
  const long = 'Extra Long Premium Basmati Rice Selected Grains Family Pack Special';
  const names = { rice: long, tea: 'Tea' };
  const at = {};
  for (const lang of ['en', 'ur']) {
    const f = fmt(lang);
    const r = receipt({ event, store: { name: 'Store One' }, cash: 200000n }, f, (s) => names[s]);
    const { ops, width, height } = layout(r, f.t, lang, measure);
    const texts = ops.filter((o) => !o.rule);
    assert.equal(width, WIDTH);
    for (const o of texts) {
      const w = measure(o.text, o.font);
      const left = o.align === 'left' ? o.x : o.align === 'right' ? o.x - w : o.x - w / 2;
      assert.ok(left >= 0 && left + w <= width + 0.5, `${o.text} fits the roll`);
      assert.ok(o.y > 0 && o.y < height);
    }
    const drawn = texts.map((o) => o.text).join('\n');
    for (const s of [r.total, r.cash, r.change, f.t('thanks'), 'Store One']) assert.ok(drawn.includes(s), s);
    assert.equal(texts.filter((o) => o.text === r.lines[0].amount).length, 1);
    assert.ok(texts.filter((o) => long.includes(o.text) && o.text).length >= 2, 'the long name wraps');
    const total = texts.find((o) => o.text === r.total);
    assert.equal(total.dir, 'ltr', 'amounts read left to right in both languages');
    at[lang] = { total: total.x, label: texts.find((o) => o.text === f.t('bill_total')), height };
  }
  assert.ok(at.en.total > WIDTH / 2 && at.ur.total < WIDTH / 2, 'the amount on the end side: right in English, left in Urdu');
  assert.ok(at.en.label.x < WIDTH / 2 && at.ur.label.x > WIDTH / 2 && at.ur.label.dir === 'rtl');
  assert.ok(at.ur.height > at.en.height, 'Nastaliq lines stand taller');
});
