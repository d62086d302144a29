// Counter actions -> events of the core contract (schemas/events.py), with an id made here.
// Quantities and prices stay exact: typed text -> BigInt milli-units / paisa -> decimal strings.

import { lineTotal, moneyString, mulQty, parseMoney, parseNumber, parseQty, qtyString, sum } from './decimal.js';

export const MODES = ['sale', 'return', 'purchase', 'adjustment', 'count'];
// What each role may record at the counter (its events:write:* in domain/access.py): offering
// only those keeps a counter from queueing events its key can never send. Others: every mode.
const ROLE_MODES = { terminal: ['sale', 'return'], cashier: ['sale', 'return', 'count'], analyst: [], ops: [] };
// The contract's bounds on a line (a real shop never comes near them): base units, money per unit.
export const MAX_LINE_QTY = 1_000_000_000n; // milli-units: 1,000,000 base units
export const MAX_UNIT_MONEY = 1_000_000_000n; // paisa: 10,000,000 a unit

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
    price: pricedMode(mode) ? priceFor(product, unit, field) : '',
  };
}

/** Modes whose lines carry a price: a sale, goods received (their cost), a return (the refund). */
export function pricedMode(mode) {
  return mode === 'sale' || mode === 'purchase' || mode === 'return';
}

/** Milli-base-units of a line (its quantity times its unit's size), or null. */
export function baseQty(line) {
  const q = parseQty(line.qty);
  if (q === null) return null;
  const u = unitsOf(line.product ?? {}).find((x) => x.unit === line.unit) ?? { factor: 1000n };
  return mulQty(q, u.factor);
}

// Above these a line asks first, unless the product's packs or its usual sale say otherwise.
const USUAL_MAX = { kg: 25_000n, litre: 25_000n, g: 5_000_000n, ml: 5_000_000n, piece: 50_000n };

/**
 * Why a line looks like a fat finger, or null: far above what is on hand, its largest pack and
 * its usual quantity. ctx: {onHand, usual} in milli-base-units (either may be unknown: null).
 */
export function implausible(line, mode, { onHand = null, usual = null } = {}) {
  const base = baseQty(line);
  if (base === null || base <= 0n || mode === 'count') return null;
  const product = line.product ?? {};
  const packs = unitsOf(product).filter((u) => u.unit !== (product.unit || 'piece') && !['g', 'ml', 'kg', 'litre'].includes(u.unit));
  let limit = USUAL_MAX[product.unit || 'piece'] ?? 50_000n;
  for (const p of packs) if (2n * p.factor > limit) limit = 2n * p.factor;
  if (usual !== null && 10n * usual > limit) limit = 10n * usual;
  if (mode === 'purchase') limit *= 20n;
  if (base <= limit) return null;
  if (onHand !== null && mode !== 'purchase' && base <= onHand) return null; // the shop has it
  return { key: 'confirm_qty', vars: { name: nameOf(line), qty: line.qty, unit: line.unit } };
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
    const got = parseNumber(line.qty, 3);
    if (got.error) { errors.push({ key: got.error === 'comma' ? 'err_comma' : 'err_qty', vars: { name } }); continue; }
    let q = got.value;
    const reason = form.reason || 'damage';
    if ((pricedMode(mode)) && q <= 0n) { errors.push({ key: 'err_qty_positive', vars: { name } }); continue; }
    if (mode === 'count' && q < 0n) { errors.push({ key: 'err_qty_nonneg', vars: { name } }); continue; }
    if (mode === 'adjustment') {
      if (q === 0n) { errors.push({ key: 'err_qty_nonzero', vars: { name } }); continue; }
      if (reason !== 'correction' && q > 0n) q = -q; // "3 damaged" removes 3
    }
    const base = baseQty({ ...line, qty: qtyString(q < 0n ? -q : q) });
    if (base !== null && base > MAX_LINE_QTY) { errors.push({ key: 'err_qty_max', vars: { name } }); continue; }
    const item = { sku: line.sku, quantity: qtyString(q) };
    if (line.unit && line.unit !== (line.product?.unit || line.unit)) item.unit = line.unit;
    if (pricedMode(mode) && !(mode === 'return' && String(line.price ?? '').trim() === '')) {
      const p = parseNumber(line.price, 2);
      if (p.error || p.value < 0n) { errors.push({ key: p.error === 'comma' ? 'err_comma' : 'err_price', vars: { name } }); continue; }
      if (p.value > MAX_UNIT_MONEY) { errors.push({ key: 'err_price_max', vars: { name } }); continue; }
      item[mode === 'purchase' ? 'unit_cost' : 'unit_price'] = moneyString(p.value);
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
  if (mode === 'return' && form.original) event.original_event_id = form.original;
  if (form.actor) event.actor = form.actor;
  if (form.note && String(form.note).trim()) event.note = String(form.note).trim();
  return { event };
}

/**
 * The void of a sale recorded by mistake: a return naming it, with its lines unchanged, so the
 * server restores its stock and takes it out of the day's sales. `why` goes in the note.
 */
export function voidOf(sale, { terminalId: terminal, why = '', id = uuid(), now = new Date() } = {}) {
  const event = {
    event_id: id,
    type: 'return',
    store_id: sale.store_id,
    terminal_id: terminal || sale.terminal_id,
    occurred_at: rfc3339(now),
    original_event_id: sale.event_id,
    reason: 'void',
    lines: sale.lines.map((l) => ({ ...l })),
  };
  if (String(why).trim()) event.note = String(why).trim().slice(0, 500);
  return event;
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
