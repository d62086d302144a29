// Counter actions -> events of the core contract (schemas/events.py), with an id made here.
// Quantities and prices stay exact: typed text -> BigInt milli-units / paisa -> decimal strings.

import { lineTotal, moneyString, mulQty, parseMoney, parseQty, qtyString, sum } from './decimal.js';

export const MODES = ['sale', 'purchase', 'adjustment', 'count'];
// What each role may record at the counter (its events:write:* in domain/access.py): offering
// only those keeps a counter from queueing events its key can never send. Others: every mode.
const ROLE_MODES = { terminal: ['sale'], cashier: ['sale', 'count'], analyst: [], ops: [] };

export function modesFor(role) {
  return ROLE_MODES[role] ?? MODES;
}
export const REASONS = ['damage', 'expiry', 'theft', 'own_use', 'correction'];
const MEASURES = { kg: [['g', 1n]], g: [['kg', 1000000n]], litre: [['ml', 1n]], ml: [['litre', 1000000n]] };

/** A v4 UUID made on this device (crypto.randomUUID needs a secure context; fall back). */
export function uuid(cryptoImpl = globalThis.crypto) {
  if (cryptoImpl?.randomUUID) return cryptoImpl.randomUUID();
  const b = cryptoImpl.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** RFC 3339 with this device's offset: "2026-11-22T18:04:11+05:00". */
export function rfc3339(date = new Date()) {
  const pad = (n, w = 2) => String(Math.abs(n)).padStart(w, '0');
  const off = -date.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:`
    + `${pad(date.getMinutes())}:${pad(date.getSeconds())}${sign}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
}

/** Units a line of this product can be entered in, with milli-base-units per one of them. */
export function unitsOf(product) {
  const base = product.unit || 'piece';
  const out = [{ unit: base, factor: 1000n }];
  for (const p of product.packs || []) {
    const size = parseQty(p.size);
    if (size && size > 0n) out.push({ unit: p.unit, factor: size });
  }
  for (const [unit, factor] of MEASURES[base] || []) out.push({ unit, factor });
  return out;
}

export function isLoose(product) {
  return ['kg', 'g', 'litre', 'ml'].includes(product.unit);
}

/** Price (or cost) of one `unit` from the product's base-unit price, exact to the paisa. */
export function priceFor(product, unit, field = 'price') {
  const base = parseMoney(product[field] ?? '');
  if (base === null) return '';
  const u = unitsOf(product).find((x) => x.unit === unit) ?? { factor: 1000n };
  return moneyString(mulQty(base * 10n, u.factor) / 10n);
}

/** A new line for the cart. Loose goods start with no quantity (weigh first), others with 1. */
export function newLine(product, mode) {
  const unit = product.unit || 'piece';
  const field = mode === 'purchase' ? 'cost' : 'price';
  return {
    key: uuid(),
    sku: product.sku,
    product,
    unit,
    qty: isLoose(product) || mode === 'count' || mode === 'adjustment' ? '' : '1',
    price: mode === 'sale' || mode === 'purchase' ? priceFor(product, unit, field) : '',
  };
}

/** Paisa total of a line, or null while its quantity or price is not a valid number. */
export function lineAmount(line) {
  const q = parseQty(line.qty);
  const p = parseMoney(line.price);
  return q === null || p === null ? null : lineTotal(q, p);
}

/** Bill total in paisa over the lines that have a valid amount. */
export function billTotal(lines) {
  return sum(lines.map(lineAmount).filter((x) => x !== null));
}

const nameOf = (line) => line.product?.name || line.sku;

/**
 * The event for a counter form, or {errors: [{key, vars}]} (i18n keys) when it is not valid.
 * form: {mode, storeId, terminalId, lines, supplier, reason, note, actor}
 */
export function buildEvent(form, { id = uuid(), now = new Date() } = {}) {
  const { mode, lines } = form;
  const errors = [];
  if (!lines.length) errors.push({ key: 'err_lines' });
  if (mode === 'purchase' && !String(form.supplier || '').trim()) errors.push({ key: 'err_supplier' });
  const out = [];
  for (const line of lines) {
    const name = nameOf(line);
    let q = parseQty(line.qty);
    if (q === null) { errors.push({ key: 'err_qty', vars: { name } }); continue; }
    const reason = form.reason || 'damage';
    if ((mode === 'sale' || mode === 'purchase') && q <= 0n) { errors.push({ key: 'err_qty_positive', vars: { name } }); continue; }
    if (mode === 'count' && q < 0n) { errors.push({ key: 'err_qty_nonneg', vars: { name } }); continue; }
    if (mode === 'adjustment') {
      if (q === 0n) { errors.push({ key: 'err_qty_nonzero', vars: { name } }); continue; }
      if (reason !== 'correction' && q > 0n) q = -q; // "3 damaged" removes 3
    }
    const item = { sku: line.sku, quantity: qtyString(q) };
    if (line.unit && line.unit !== (line.product?.unit || line.unit)) item.unit = line.unit;
    if (mode === 'sale' || mode === 'purchase') {
      const p = parseMoney(line.price);
      if (p === null || p < 0n) { errors.push({ key: 'err_price', vars: { name } }); continue; }
      item[mode === 'sale' ? 'unit_price' : 'unit_cost'] = moneyString(p);
    }
    out.push(item);
  }
  if (errors.length) return { errors };
  const event = {
    event_id: id,
    type: mode,
    store_id: form.storeId,
    terminal_id: form.terminalId,
    occurred_at: rfc3339(now),
    lines: out,
  };
  if (mode === 'purchase') event.supplier = String(form.supplier).trim();
  if (mode === 'adjustment') event.reason = form.reason || 'damage';
  if (form.actor) event.actor = form.actor;
  if (form.note && String(form.note).trim()) event.note = String(form.note).trim();
  return { event };
}

/** This device's terminal id, made once and kept ("web-" and 8 hex digits). */
export function terminalId(storage = globalThis.localStorage) {
  let id = storage?.getItem('bazaar.terminal');
  if (!id) {
    id = `web-${uuid().slice(0, 8)}`;
    storage?.setItem('bazaar.terminal', id);
  }
  return id;
}
