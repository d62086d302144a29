import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate, unitName, localeFor, formatMoney, formatQty, LANGUAGES } from '../src/i18n.js';

test('Urdu has every English string', () => {
  // Units' plural names are looked up in the language's own table (Urdu does not inflect them);
  // every other plural form falls back to English when missing, so Urdu must have it too.
  const unitPlural = /^u_.*_(zero|one|two|few|many|other)$/;
  const missing = Object.keys(LANGUAGES.en.strings).filter((k) => !unitPlural.test(k) && !(k in LANGUAGES.ur.strings));
  assert.deepEqual(missing, []);
  const extra = Object.keys(LANGUAGES.ur.strings).filter((k) => !(k in LANGUAGES.en.strings));
  assert.deepEqual(extra, []);
  assert.equal(LANGUAGES.ur.dir, 'rtl');
});

test('pairing messages read in Urdu, in the singular too', () => {
  assert.equal(translate('ur', 'kept_n', { n: 1 }), '1 اندراج اس آلے پر محفوظ ہے اور جوڑنے کے بعد بھیجا جائے گا۔');
  assert.match(translate('ur', 'kept_n', { n: 3 }), /^3 اندراجات/);
  assert.equal(translate('en', 'kept_n', { n: 3 }), '3 events are kept on this device and will be sent once it is paired.');
  for (const key of ['err_invalid_code', 'err_code_used', 'err_code_expired', 'err_pair_offline']) {
    assert.notEqual(translate('ur', key), translate('en', key), key);
  }
});

test('placeholders and fallbacks', () => {
  assert.equal(translate('en', 'waiting_n', { n: 3 }), '3 waiting');
  assert.equal(translate('ur', 'waiting_n', { n: 3 }), '3 منتظر');
  assert.equal(translate('xx', 'sale'), 'Sale');
  assert.equal(unitName('ur', 'kg'), 'کلو');
  assert.equal(unitName('en', 'crate'), 'crate');
});

test('formatting locale takes the store region', () => {
  assert.equal(localeFor('ur', 'en-PK'), 'ur-PK');
  assert.equal(localeFor('en', 'en-PK'), 'en-PK');
  assert.equal(localeFor('en', 'ur-PK'), 'en-PK');
  assert.equal(localeFor('ur', 'ur-PK'), 'ur-PK');
});

test('money keeps paisa exactly, even beyond float precision', () => {
  const s = formatMoney('12345678901234567.89', 'PKR', 'en-PK');
  assert.match(s, /12,34,56,78,90,12,34,567\.89|12,345,678,901,234,567\.89/);
  assert.match(formatMoney('47.5', 'PKR', 'en-PK'), /47\.50/);
});

test('quantities show up to 3 decimals with the unit', () => {
  assert.match(formatQty('0.125', 'kg', 'en', 'en-PK'), /^0\.125 kg$/);
  assert.match(formatQty('2', 'piece', 'ur', 'ur-PK'), /2 عدد/);
});

test('plural forms', () => {
  assert.equal(translate('en', 'lines_n', { n: 1 }), '1 line');
  assert.equal(translate('en', 'lines_n', { n: 2 }), '2 lines');
  assert.equal(translate('ur', 'lines_n', { n: 1 }), '1 سطر');
});

test('pack names take the plural', () => {
  assert.equal(formatQty('2', 'carton', 'en', 'en-PK'), '2 cartons');
  assert.equal(formatQty('1', 'carton', 'en', 'en-PK'), '1 carton');
  assert.equal(formatQty('2', 'carton', 'ur', 'ur-PK'), '2 کارٹن');
});
