import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useCatalog } from '../catalog.js';
import { moneyString, parseQty, qtyString } from '../decimal.js';
import { buildEvent, billTotal, lineAmount, modesFor, newLine, priceFor, REASONS, terminalId, unitsOf, isLoose } from '../events.js';
import * as outbox from '../outbox.js';
import { search, exact } from '../search.js';
import { app, useAuth, useI18n, useStore } from '../state.js';
import { OutboxPanel } from '../components/Outbox.jsx';

const DRAFT_KEY = 'bazaar.draft';

function loadDraft(storeId) {
  try {
    const d = JSON.parse(localStorage.getItem(DRAFT_KEY) || 'null');
    return d && d.storeId === storeId ? d : null;
  } catch { return null; }
}

function productName(product, lang) {
  return (product.names && product.names[lang]) || product.name || product.sku;
}

function Results({ results, onPick, lang }) {
  const { money, unit } = useI18n();
  return (
    <ul class="results" id="search-results">
      {results.map((p) => (
        <li>
          <button type="button" class="result" onClick={() => onPick(p)} data-sku={p.sku}>
            <span class="name">{productName(p, lang)}</span>
            <span class="meta">{p.sku}{p.price ? ` · ${money(p.price)} / ${unit(p.unit)}` : ''}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function Line({ line, mode, reason, onChange, onRemove, index }) {
  const { t, money, unit, lang } = useI18n();
  const units = unitsOf(line.product);
  const total = lineAmount(line);
  const id = `l${index}`;
  const name = productName(line.product, lang);
  const qtyLabel = mode === 'count' ? t('counted') : mode === 'adjustment' ? t(reason === 'correction' ? 'change' : 'remove_qty') : t('quantity');
  const priced = mode === 'sale' || mode === 'purchase';
  return (
    <li class="line" data-sku={line.sku}>
      <div class="line-head">
        <span class="name">{name}</span>
        <button type="button" class="icon" aria-label={t('remove', { name })} onClick={onRemove}>×</button>
      </div>
      <div class="line-fields">
        <label class="field">
          <span>{qtyLabel}</span>
          <input
            id={`${id}-qty`}
            class="qty"
            inputMode="decimal"
            autoComplete="off"
            value={line.qty}
            aria-invalid={line.qty !== '' && parseQty(line.qty) === null ? 'true' : undefined}
            onInput={(e) => onChange({ ...line, qty: e.currentTarget.value })}
          />
        </label>
        <label class="field">
          <span>{t('unit')}</span>
          <select
            value={line.unit}
            onChange={(e) => {
              const u = e.currentTarget.value;
              const field = mode === 'purchase' ? 'cost' : 'price';
              onChange({ ...line, unit: u, price: priced ? priceFor(line.product, u, field) || line.price : '' });
            }}
          >
            {units.map((u) => <option value={u.unit}>{unit(u.unit)}{u.factor !== 1000n && u.unit !== 'g' && u.unit !== 'ml' ? ` (${qtyString(u.factor)} ${unit(line.product.unit)})` : ''}</option>)}
          </select>
        </label>
        {priced ? (
          <label class="field">
            <span>{t(mode === 'sale' ? 'unit_price' : 'unit_cost', { unit: unit(line.unit) })}</span>
            <input
              class="price"
              inputMode="decimal"
              autoComplete="off"
              value={line.price}
              onInput={(e) => onChange({ ...line, price: e.currentTarget.value })}
            />
          </label>
        ) : null}
        {priced ? (
          <p class="line-total">
            <span class="sr">{t('line_total')}: </span>
            <output>{total === null ? '—' : money(moneyString(total))}</output>
          </p>
        ) : null}
      </div>
    </li>
  );
}

export function Counter() {
  const state = useStore(app);
  const { t, money, lang } = useI18n();
  const catalog = useCatalog();
  const { credential } = useAuth();
  const modes = modesFor(credential?.role);
  const draft = loadDraft(state.storeId);
  const [mode, setMode] = useState(() => (modes.includes(draft?.mode) ? draft.mode : modes[0] ?? 'sale'));
  const [query, setQuery] = useState('');
  const [lines, setLines] = useState(() => (draft?.lines ?? []));
  const [supplier, setSupplier] = useState(draft?.supplier ?? '');
  const [reason, setReason] = useState(draft?.reason ?? 'damage');
  const [note, setNote] = useState(draft?.note ?? '');
  const [errors, setErrors] = useState([]);
  const [message, setMessage] = useState('');
  const searchRef = useRef(null);
  const focusSku = useRef(null);

  const results = useMemo(() => (query.trim() ? search(catalog.entries, query, 8) : []), [query, catalog]);

  useEffect(() => {
    localStorage.setItem(DRAFT_KEY, JSON.stringify({ storeId: state.storeId, mode, lines, supplier, reason, note }));
  }, [state.storeId, mode, lines, supplier, reason, note]);

  useEffect(() => {
    if (!focusSku.current) return;
    const el = document.querySelector(`li.line[data-sku="${CSS.escape(focusSku.current)}"] input.qty`);
    focusSku.current = null;
    if (el) el.focus();
  }, [lines]);

  function add(product) {
    setQuery('');
    setMessage('');
    setErrors([]);
    const unit = product.unit || 'piece';
    const same = lines.findIndex((l) => l.sku === product.sku && l.unit === unit);
    if (same >= 0 && !isLoose(product) && mode !== 'count') {
      const q = parseQty(lines[same].qty) ?? 0n;
      setLines(lines.map((l, i) => (i === same ? { ...l, qty: qtyString(q + 1000n) } : l)));
    } else if (same < 0) {
      const line = newLine(product, mode);
      setLines([...lines, line]);
      if (line.qty === '') { focusSku.current = product.sku; return; }
    } else {
      focusSku.current = product.sku;
      setLines([...lines]);
      return;
    }
    searchRef.current?.focus();
  }

  function onSearchKey(e) {
    if (e.key === 'Escape') { setQuery(''); return; }
    if (e.key !== 'Enter') return;
    e.preventDefault();
    const hit = exact(catalog.entries, query) ?? results[0];
    if (hit) add(hit);
  }

  function switchMode(m) {
    setMode(m);
    setErrors([]);
    setMessage('');
    const field = m === 'purchase' ? 'cost' : 'price';
    setLines(lines.map((l) => ({ ...l, price: m === 'sale' || m === 'purchase' ? priceFor(l.product, l.unit, field) : '' })));
  }

  async function record(e) {
    e.preventDefault();
    const built = buildEvent({
      mode, storeId: state.storeId, terminalId: terminalId(), lines, supplier, reason, note,
    });
    if (built.errors) {
      setErrors(built.errors.map((x) => t(x.key, x.vars)));
      setMessage('');
      return;
    }
    await outbox.enqueue(built.event);
    setErrors([]);
    setLines([]);
    setNote('');
    setMessage(t('recorded', { type: t(mode) }));
    searchRef.current?.focus();
  }

  const priced = mode === 'sale' || mode === 'purchase';
  const total = billTotal(lines);
  const catalogLine = catalog.products.length
    ? `${t('catalog_n', { n: catalog.products.length })}${catalog.fromCache && catalog.saved_at ? ` · ${t('catalog_saved', { at: new Date(catalog.saved_at).toLocaleString(lang) })}` : ''}`
    : t('catalog_none');

  useEffect(() => { if (modes.length && !modes.includes(mode)) switchMode(modes[0]); }, [credential?.role]);

  if (!modes.length) {
    return (
      <div class="page counter">
        <section class="card"><h1 id="counter-h">{t('counter')}</h1><p class="warn" id="no-modes">{t('modes_none')}</p></section>
        <OutboxPanel />
      </div>
    );
  }

  return (
    <div class="page counter">
      <form class="card" onSubmit={record} aria-labelledby="counter-h">
        <h1 id="counter-h">{t('counter')}</h1>
        <fieldset class="modes">
          <legend>{t('mode')}</legend>
          {modes.map((m) => (
            <label class={`mode ${mode === m ? 'on' : ''}`}>
              <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => switchMode(m)} />
              {t(m)}
            </label>
          ))}
        </fieldset>

        <div class="search">
          <label for="search" class="field-label">{t('find')}</label>
          <input
            id="search"
            ref={searchRef}
            type="search"
            autoComplete="off"
            enterKeyHint="search"
            value={query}
            aria-describedby="search-hint"
            aria-controls="search-results"
            onInput={(e) => setQuery(e.currentTarget.value)}
            onKeyDown={onSearchKey}
          />
          <p id="search-hint" class="muted small">{t('find_hint')} {catalogLine}</p>
          {query.trim() && !results.length ? <p class="muted" role="status">{t('no_match', { q: query })}</p> : null}
          {results.length ? <Results results={results} onPick={add} lang={lang} /> : null}
        </div>

        {mode === 'purchase' ? (
          <label class="field">
            <span>{t('supplier')}</span>
            <input id="supplier" value={supplier} autoComplete="organization" onInput={(e) => setSupplier(e.currentTarget.value)} />
          </label>
        ) : null}
        {mode === 'adjustment' ? (
          <label class="field">
            <span>{t('reason')}</span>
            <select id="reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
              {REASONS.map((r) => <option value={r}>{t(`reason_${r}`)}</option>)}
            </select>
          </label>
        ) : null}

        {lines.length ? (
          <ol class="lines" aria-label={t('product')}>
            {lines.map((line, i) => (
              <Line
                key={line.key}
                index={i}
                line={line}
                mode={mode}
                reason={reason}
                onChange={(next) => setLines(lines.map((l) => (l.key === line.key ? next : l)))}
                onRemove={() => setLines(lines.filter((l) => l.key !== line.key))}
              />
            ))}
          </ol>
        ) : <p class="muted">{t('no_lines')}</p>}

        {priced ? (
          <p class="total">
            <span>{t(mode === 'sale' ? 'bill_total' : 'cost_total')}</span>
            <output id="bill-total" aria-live="polite">{money(moneyString(total))}</output>
          </p>
        ) : null}

        <label class="field">
          <span>{t('note')}</span>
          <input id="note" value={note} maxLength={500} onInput={(e) => setNote(e.currentTarget.value)} />
        </label>

        {errors.length ? <ul class="errors" role="alert">{errors.map((x) => <li>{x}</li>)}</ul> : null}
        {message ? <p class="ok" role="status">{message}</p> : null}

        <div class="actions">
          <button type="submit" class="primary" id="record">{t(`record_${mode}`)}</button>
          <button type="button" onClick={() => { setLines([]); setErrors([]); setMessage(''); }}>{t('clear')}</button>
        </div>
      </form>
      <OutboxPanel />
    </div>
  );
}
