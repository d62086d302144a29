// Product search on the device, so the counter finds products offline from the cached catalog.
// The same rules as the API's (domain/catalog_search.py; a unit test there compares the ranks):
// name in any language (Roman Urdu and Hinglish names too, as `ur-Latn` or `hi-Latn`), by sound
// and with one typo, sku or barcode; best rank first, then by sku.

const DROP_MARKS = /[\u0300-\u036f\u064b-\u065f\u0670]/g; // Latin accents, Arabic harakat
const LETTERS = {
  '\u064a': '\u06cc', '\u0649': '\u06cc', // Arabic yeh, alef maksura -> Urdu yeh
  '\u0643': '\u06a9', // Arabic kaf -> keheh
  '\u0647': '\u06c1', '\u06d5': '\u06c1', // Arabic heh, ae -> heh goal
  '\u0901': '\u0902', // Devanagari chandrabindu -> anusvara
  '\u0640': '', '\u200c': '', '\u200d': '', // tatweel, zero-width (non-)joiner
};
const ZEROS = [0x30, 0x660, 0x6f0, 0x966, 0x9e6, 0xa66, 0xae6];

function digit(ch) {
  const code = ch.codePointAt(0);
  const zero = ZEROS.find((z) => code >= z && code <= z + 9);
  return zero === undefined ? ch : String(code - zero);
}

/** One spelling of `text` for comparison. */
export function fold(text) {
  let s = String(text ?? '').normalize('NFKD').replace(DROP_MARKS, '');
  s = s.normalize('NFKC').toLowerCase();
  let out = '';
  for (const ch of s) {
    const c = ch in LETTERS ? LETTERS[ch] : ch;
    if (!c) continue;
    if (/\p{Nd}/u.test(c)) out += digit(c);
    else if (/[\p{L}\p{N}\p{M}]/u.test(c)) out += c;
    else out += ' ';
  }
  return out.split(/\s+/).filter(Boolean).join(' ');
}

/**
 * One spelling of a word as shopkeepers type it in Roman Urdu or Hinglish: chawal, chaawal and
 * chaval, cheeni and chini, doodh and dudh, zeera and jeera come out the same.
 */
export function sound(word) {
  return word
    .replace(/ph/g, 'f').replace(/w/g, 'v').replace(/q/g, 'k').replace(/c(?!h)/g, 'k').replace(/z/g, 'j')
    .replace(/ee|ea|ie/g, 'i').replace(/oo|ou/g, 'u').replace(/y/g, 'i')
    .replace(/(.)\1+/gu, '$1');
}

/** Whether a and b differ by at most one letter inserted, dropped, changed or swapped. */
export function withinOne(a, b) {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true; // changed
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // swapped
  }
  const [long, short] = a.length > b.length ? [a, b] : [b, a];
  return long.slice(i + 1) === short.slice(i);
}

/** A product with its search keys, built once per catalog load. */
export function entry(product) {
  const names = [product.name, ...Object.values(product.names || {})].map(fold).filter(Boolean);
  const words = new Set(names.flatMap((n) => n.split(' ')));
  const sounds = new Set([...words].map(sound));
  const barcodes = (product.barcodes || []).map((b) => String(b).trim().toLowerCase());
  return { product, sku: String(product.sku).toLowerCase(), barcodes, names, words, sounds };
}

// How a word of the query may match a word of a name, loosest last.
const bySound = (q, sounds) => sounds.some((w) => w === q || (q.length >= 3 && w.startsWith(q)));
const byTypo = (q, sounds) => q.length >= 4
  && sounds.some((w) => withinOne(q, w) || (q.length >= 5 && w.length > q.length && withinOne(q, w.slice(0, q.length))));

/**
 * Rank of an entry for a query, lower is better; null when it does not match. An exact sku or
 * barcode comes first; then names (exactly, by prefix, word by word, inside, by sound, with one
 * typo); sku and barcode prefixes last, so "chai" finds tea before a sku starting "chai...".
 */
export function rank(e, query) {
  const ident = String(query ?? '').trim().toLowerCase();
  if (!ident) return 0;
  if (e.sku === ident || e.barcodes.includes(ident)) return 0;
  const text = fold(query);
  if (text) {
    if (e.names.includes(text)) return 1;
    if (e.names.some((n) => n.startsWith(text))) return 2;
    const words = [...e.words];
    const parts = text.split(' ');
    if (parts.every((t) => words.some((w) => w.startsWith(t)))) return 3;
    if (e.names.some((n) => n.includes(text))) return 4;
    const sounds = [...e.sounds];
    const heard = parts.map(sound);
    if (heard.every((q) => bySound(q, sounds))) return 5;
    if (heard.every((q) => bySound(q, sounds) || byTypo(q, sounds))) return 6;
  }
  if (e.sku.startsWith(ident) || e.barcodes.some((b) => b.startsWith(ident))) return 7;
  return null;
}

/** Up to `limit` matching active products, best first. */
export function search(entries, query, limit = 20) {
  const hits = [];
  for (const e of entries) {
    if (e.product.active === false) continue;
    const r = rank(e, query);
    if (r !== null) hits.push([r, e.product.sku, e.product]);
  }
  hits.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return hits.slice(0, limit).map((h) => h[2]);
}

/** The product whose barcode (or sku) is exactly `code`: what a scanner's Enter picks. */
export function exact(entries, code) {
  const c = String(code ?? '').trim().toLowerCase();
  if (!c) return null;
  const e = entries.find((x) => x.product.active !== false && (x.barcodes.includes(c) || x.sku === c));
  return e ? e.product : null;
}
