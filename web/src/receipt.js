// The receipt of the last bill, as lines of text in the shop's language: shown on the screen,
// printed on an 80 mm thermal printer (print CSS) and shared as text and a picture (Web Share API;
// the picture: receipt-image.js).

import { lineTotal, moneyString, parseMoney, parseQty, sum } from './decimal.js';

/** Paisa total of an event's priced lines. */
export function eventTotal(event) {
  return sum(event.lines.map((l) => lineTotal(parseQty(l.quantity) ?? 0n, parseMoney(l.unit_price ?? l.unit_cost ?? '0') ?? 0n)));
}

/**
 * The receipt as data. bill: {event, store: {name}, cash: paisa|null}; f: {t, money, num, unit,
 * when}; nameOf(sku) -> name in the shop's language.
 */
export function receipt(bill, f, nameOf) {
  const { event } = bill;
  const total = eventTotal(event);
  const lines = event.lines.map((l) => ({
    name: nameOf(l.sku),
    qty: `${f.num(l.quantity)} ${f.unit(l.unit ?? '')}`.trim(),
    price: f.money(l.unit_price ?? '0'),
    amount: f.money(moneyString(lineTotal(parseQty(l.quantity) ?? 0n, parseMoney(l.unit_price ?? '0') ?? 0n))),
  }));
  const out = {
    store: bill.store?.name || event.store_id,
    when: f.when(event.occurred_at),
    no: event.event_id.slice(0, 8),
    lines,
    total: f.money(moneyString(total)),
  };
  if (bill.cash !== null && bill.cash !== undefined) {
    out.cash = f.money(moneyString(bill.cash));
    out.change = f.money(moneyString(bill.cash - total));
  }
  return out;
}

/** The receipt as plain text (what Share sends). */
export function receiptText(r, t) {
  const rows = [r.store, r.when, t('bill_no', { no: r.no }), ''];
  for (const l of r.lines) rows.push(l.name, `  ${l.qty} × ${l.price} = ${l.amount}`);
  rows.push('', `${t('bill_total')}: ${r.total}`);
  if (r.cash) rows.push(`${t('cash')}: ${r.cash}`, `${t('change_due')}: ${r.change}`);
  rows.push('', t('thanks'));
  return rows.join('\n');
}
