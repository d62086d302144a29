import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fold, entry, search, exact, rank } from '../src/search.js';

const products = [
  { sku: 'basmati-rice-loose', name: 'Basmati rice (loose)', names: { ur: 'باسمتی چاول', hi: 'बासमती चावल' }, barcodes: [], unit: 'kg' },
  { sku: 'tapal-danedar-190g', name: 'Tapal Danedar 190g', names: { ur: 'ٹپال دانے دار' }, barcodes: ['8961014000019'], unit: 'piece' },
  { sku: 'nestle-milk-1l', name: 'Nestlé Milkpak 1 L', names: { ur: 'نیسلے ملک پیک' }, barcodes: ['8961100000011'], unit: 'piece' },
  { sku: 'old-soap', name: 'Old soap', barcodes: [], unit: 'piece', active: false },
].map(entry);

const skus = (list) => list.map((p) => p.sku);

test('fold drops accents, case, harakat and unifies Urdu letter variants and digits', () => {
  assert.equal(fold('Nestlé  MILKPAK'), 'nestle milkpak');
  assert.equal(fold('چاول'), fold('چاول'));
  assert.equal(fold('\u064a'), '\u06cc');
  assert.equal(fold('۱۹۰g'), '190g');
  assert.equal(fold('a-b,c'), 'a b c');
});

test('finds by name in English, Urdu and Hindi', () => {
  assert.deepEqual(skus(search(products, 'basmati')), ['basmati-rice-loose']);
  assert.deepEqual(skus(search(products, 'چاول')), ['basmati-rice-loose']);
  assert.deepEqual(skus(search(products, 'चावल')), ['basmati-rice-loose']);
  assert.deepEqual(skus(search(products, 'nestle')), ['nestle-milk-1l']);
  assert.deepEqual(skus(search(products, 'milk nest')), ['nestle-milk-1l']);
});

test('finds by sku and barcode prefix, best rank first', () => {
  assert.deepEqual(skus(search(products, 'tapal')), ['tapal-danedar-190g']);
  assert.deepEqual(skus(search(products, '896110')), ['nestle-milk-1l']);
  assert.deepEqual(skus(search(products, '8961')), ['nestle-milk-1l', 'tapal-danedar-190g']);
  assert.equal(rank(products[1], '8961014000019'), 0);
});

test('inactive products are not offered; empty query lists all', () => {
  assert.deepEqual(skus(search(products, 'soap')), []);
  assert.equal(search(products, '').length, 3);
});

test('a scanned barcode picks exactly one product', () => {
  assert.equal(exact(products, '8961014000019').sku, 'tapal-danedar-190g');
  assert.equal(exact(products, '896101400001'), null);
  assert.equal(exact(products, 'nestle-milk-1l').sku, 'nestle-milk-1l');
});

const shop = [
  { sku: 'rice-basmati-loose', name: 'Basmati rice (loose)', names: { ur: 'باسمتی چاول', 'ur-Latn': 'basmati chawal' }, unit: 'kg' },
  { sku: 'sugar-loose', name: 'Sugar (loose)', names: { ur: 'چینی', 'ur-Latn': 'cheeni' }, unit: 'kg' },
  { sku: 'milk-uht-1l', name: 'UHT milk 1 litre', names: { 'ur-Latn': 'doodh' } },
  { sku: 'tapal-danedar-190g', name: 'Tapal Danedar tea 190 g', names: { 'ur-Latn': 'chai patti danedar' } },
  { sku: 'soap-lux-98g', name: 'Beauty soap 98 g', names: { 'hi-Latn': 'sabun lux' } },
  { sku: 'chai-cups-50', name: 'Paper cups', names: {} },
].map(entry);

test('Roman Urdu and Hinglish find products, spelling variants and one typo too', () => {
  for (const q of ['chawal', 'chaawal', 'chaval', 'chawl', 'Chawal', 'basmati chaval']) {
    assert.equal(skus(search(shop, q))[0], 'rice-basmati-loose', q);
  }
  for (const q of ['cheeni', 'chini', 'cheni', 'chinee']) assert.equal(skus(search(shop, q))[0], 'sugar-loose', q);
  for (const q of ['doodh', 'dudh', 'dood']) assert.equal(skus(search(shop, q))[0], 'milk-uht-1l', q);
  for (const q of ['saabun', 'saboon', 'sabun']) assert.equal(skus(search(shop, q))[0], 'soap-lux-98g', q);
  assert.deepEqual(skus(search(shop, 'patti')), ['tapal-danedar-190g']);
  assert.deepEqual(skus(search(shop, 'xyzzy')), []);
});

test('a name match ranks above a sku prefix; an exact sku still comes first', () => {
  assert.deepEqual(skus(search(shop, 'chai')), ['tapal-danedar-190g', 'chai-cups-50']);
  assert.deepEqual(skus(search(shop, 'chai-cups-50')), ['chai-cups-50']);
  assert.ok(rank(shop[0], 'chawal') < rank(shop[0], 'chaval'));
  assert.ok(rank(shop[0], 'chaval') < rank(shop[0], 'chawl'));
});

test('one typo at most', async () => {
  const { withinOne, sound } = await import('../src/search.js');
  assert.ok(withinOne('chaval', 'chavl'));
  assert.ok(withinOne('chaval', 'hcaval'));
  assert.ok(withinOne('chaval', 'chavel'));
  assert.ok(!withinOne('chaval', 'chvel'));
  assert.equal(sound('chaawal'), sound('chaval'));
  assert.equal(sound('zeera'), sound('jira'));
});
