// Exact decimals for quantities and money: BigInt integers of milli-units (3 places) and paisa
// (2 places). Nothing here ever goes through a float. Strings in, strings out at the edges.

export const QTY_PLACES = 3;
export const MONEY_PLACES = 2;

// Digits of the scripts a shop's keyboard may type (Arabic-Indic, Urdu/Persian, Devanagari).
const DIGIT_BASES = [0x0660, 0x06f0, 0x0966];
// Spaces some locales group digits with (no-break and narrow no-break spaces).
const GROUP_SPACES = /[\u00a0\u202f\u2009 ]/g;

/** ASCII digits for whatever digits a keyboard typed; the Arabic decimal and thousands separators
 * become "." and ",". Commas stay commas: whether one groups digits is `parseNumber`'s call. */
export function asciiDigits(text) {
  let out = '';
  for (const ch of String(text)) {
    const code = ch.codePointAt(0);
    const base = DIGIT_BASES.find((b) => code >= b && code <= b + 9);
    if (base !== undefined) out += String(code - base);
    else if (ch === '\u066b') out += '.';
    else if (ch === '\u066c' || ch === '\u060c') out += ','; // Arabic thousands separator, Arabic comma
    else out += ch;
  }
  return out;
}

// Where a comma groups digits: 1,000 and 12,345,678 (thousands) or 1,00,000 and 12,34,567 (lakhs,
// as Pakistan and India write them). Any other comma may be a decimal comma ("1,5"): refused.
const THOUSANDS = /^[1-9]\d{0,2}(?:,\d{3})+$/;
const LAKHS = /^[1-9]\d?(?:,\d{2})*,\d{3}$/;

/**
 * Typed text -> {value} (BigInt scaled by `places`) or {error}: 'comma' (a comma that does not
 * group digits, so it may be meant as a decimal comma), 'places' (more decimals than `places`),
 * 'invalid'. Stores here write "." for decimals and "," between groups.
 */
export function parseNumber(text, places) {
  if (typeof text === 'bigint') return { value: text * 10n ** BigInt(places) };
  if (typeof text === 'number') {
    if (!Number.isInteger(text)) return { error: 'invalid' }; // a float would not be exact: pass decimals as strings
    text = String(text);
  }
  let s = asciiDigits(String(text ?? '').trim());
  s = s.replace(/(\d)[\u00a0\u202f\u2009 ](?=\d)/g, '$1,').replace(GROUP_SPACES, '');
  const m = /^([+-]?)([\d,]*)(?:\.(\d*))?$/.exec(s);
  if (!m) return { error: s.includes(',') ? 'comma' : 'invalid' };
  let int = m[2];
  if (int.includes(',')) {
    if (!THOUSANDS.test(int) && !LAKHS.test(int)) return { error: 'comma' };
    int = int.replace(/,/g, '');
  }
  const frac = m[3] ?? '';
  if (int === '' && frac === '') return { error: 'invalid' };
  if (frac.length > places && /[1-9]/.test(frac.slice(places))) return { error: 'places' };
  const value = BigInt((int || '0') + frac.slice(0, places).padEnd(places, '0'));
  return { value: m[1] === '-' ? -value : value };
}

/** "0.125" -> 125n with places=3; null when it is not a number or has too many decimals. */
export function parse(text, places) {
  const got = parseNumber(text, places);
  return got.error ? null : got.value;
}

/** 125n, 3 -> "0.125"; trim drops trailing zeros ("2.500" -> "2.5", "2.000" -> "2"). */
export function format(scaled, places, { trim = false } = {}) {
  const neg = scaled < 0n;
  const digits = (neg ? -scaled : scaled).toString().padStart(places + 1, '0');
  let int = digits.slice(0, digits.length - places);
  let frac = digits.slice(digits.length - places);
  if (trim) frac = frac.replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return neg && scaled !== 0n ? `-${body}` : body;
}

export const parseQty = (text) => parse(text, QTY_PLACES);
export const parseMoney = (text) => parse(text, MONEY_PLACES);
/** Milli-units as the contract's quantity string, shortest form: "0.125", "2", "-3". */
export const qtyString = (milli) => format(milli, QTY_PLACES, { trim: true });
/** Paisa as a money string with both places: "380.00". */
export const moneyString = (paisa) => format(paisa, MONEY_PLACES);

/** a / b rounded half away from zero (BigInt division truncates). */
export function divRound(a, b) {
  if (b < 0n) { a = -a; b = -b; }
  const q = a / b;
  const r = a % b;
  if (2n * (r < 0n ? -r : r) >= b) return q + (a < 0n ? -1n : 1n);
  return q;
}

/** quantity (milli-units) x unit price (paisa) -> paisa, rounded half away from zero. */
export function lineTotal(qtyMilli, pricePaisa) {
  return divRound(qtyMilli * pricePaisa, 10n ** BigInt(QTY_PLACES));
}

/** Milli-units x milli-units (e.g. 3 packs of 12) -> milli-units, rounded. */
export function mulQty(a, b) {
  return divRound(a * b, 10n ** BigInt(QTY_PLACES));
}

export function sum(values) {
  return values.reduce((acc, v) => acc + v, 0n);
}

export function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
