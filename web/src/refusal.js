// What the server's refusal of an event means for the shopkeeper: the product it names and what
// to do, as i18n keys. Pure (tested with node --test); the server's own words stay out of sight.

const FIELD_KEYS = {
  unit: 'fix_unit',
  quantity: 'fix_qty',
  unit_price: 'fix_price',
  unit_cost: 'fix_price',
  sku: 'fix_sku',
};

/**
 * [{key, vars}] for a refused outbox record. nameOf(sku) gives a product's name in the shop's
 * language. The reason text is "lines[0].unit: unknown unit 'bag'...; ..." (outbox-core.js).
 */
export function explain(record, nameOf = (sku) => sku) {
  const event = record.event ?? {};
  const out = [];
  const seen = new Set();
  for (const part of String(record.reason ?? '').split('; ')) {
    const m = /lines\[(\d+)\]\.(\w+)/.exec(part);
    let item;
    if (m) {
      const line = event.lines?.[Number(m[1])];
      const name = line ? nameOf(line.sku) : '';
      const unit = /unknown unit '([^']*)'/.exec(part)?.[1] ?? line?.unit ?? '';
      item = { key: FIELD_KEYS[m[2]] ?? 'fix_line', vars: { name, unit } };
    } else if (/occurred_at/.test(part)) {
      item = { key: 'fix_time', vars: {} };
    } else if (/store_id|store/.test(part) && record.status === 404) {
      item = { key: 'fix_store', vars: {} };
    } else {
      item = { key: 'fix_other', vars: { type: event.type ?? '' } };
    }
    const id = JSON.stringify(item);
    if (!seen.has(id)) { seen.add(id); out.push(item); }
  }
  return out.length ? out : [{ key: 'fix_other', vars: { type: event.type ?? '' } }];
}
