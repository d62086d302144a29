// Exact decimals for quantities and money: BigInt integers of milli-units (3 places) and paisa
// (2 places). Nothing here ever goes through a float. Strings in, strings out at the edges.

export const QTY_PLACES = 3;
export const MONEY_PLACES = 2;

// Digits of the scripts a shop's keyboard may type (Arabic-Indic, Urdu/Persian, Devanagari).
const DIGIT_BASES = [0x0660, 0x06f0, 0x0966];

/** ASCII digits and "." for whatever digits and decimal separator a keyboard typed. */
export function asciiDigits(text) {
  let out = '';
  for (const ch of String(text)) {
    const code = ch.codePointAt(0);
    const base = DIGIT_BASES.find((b) => code >= b && code <= b + 9);
    if (base !== undefined) out += String(code - base);
    else if (ch === '\u066b' || ch === ',') out += '.'; // Arabic decimal separator; a decimal comma
    else out += ch;
  }
  return out;
}

/** "0.125" -> 125n with places=3; null when it is not a number or has too many decimals. */
export function parse(text, places) {
  if (typeof text === 'bigint') return text * 10n ** BigInt(places);
  if (typeof text === 'number') {
    if (!Number.isInteger(text)) return null; // a float would not be exact: pass decimals as strings
    text = String(text);
  }
  const s = asciiDigits(String(text ?? '').trim());
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const frac = m[3] ?? '';
  if (frac.length > places && /[1-9]/.test(frac.slice(places))) return null;
  const digits = (m[2] || '0') + frac.slice(0, places).padEnd(places, '0');
  const value = BigInt(digits);
  return m[1] === '-' ? -value : value;
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
