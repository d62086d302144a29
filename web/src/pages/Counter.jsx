import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useCatalog } from '../catalog.js';
import { moneyString, parseMoney, parseNumber, parseQty, qtyString } from '../decimal.js';
import {
  baseQty, buildEvent, billTotal, implausible, isLoose, lineAmount, modesFor, newLine, priceFor, pricedMode,
  REASONS, terminalId, unitsOf, voidOf,
} from '../events.js';
import * as outbox from '../outbox.js';
import { paths, request } from '../api.js';
import { fromHistory, loadQuickKeys } from '../quickkeys.js';
import { scannerListener } from '../scanner.js';
import { search, exact } from '../search.js';
import { app, currentStore, useAuth, useI18n, useStore } from '../state.js';
import { OutboxPanel, useOutbox } from '../components/Outbox.jsx';
import { QuickKeys } from '../components/QuickKeys.jsx';
import { Receipt } from '../components/Receipt.jsx';
import { RecentSales } from '../components/RecentSales.jsx';

const DRAFT_KEY = 'bazaar.draft';
const BILL_KEY = 'bazaar.last-bill';

function loadSaved(key, storeId) {
  try {
    const d = JSON.parse(localStorage.getItem(key) || 'null');
    return d && d.storeId === storeId ? d : null;
  } catch { return null; }
}

function productName(product, lang) {
  return (product.names && product.names[lang]) || product.name || product.sku;
}

/** Median milli-base-units of this product's lines in this phone's sales: its usual sale. */
function usualOf(records, product) {
  const qs = [];
  for (const r of records) {
    if (r.event?.type !== 'sale' || r.state !== 'synced') continue;
    for (const l of r.event.lines) {
      if (l.sku !== product.sku) continue;
      const b = baseQty({ product, unit: l.unit ?? product.unit, qty: l.quantity });
      if (b !== null) qs.push(b);
    }
  }
  if (!qs.length) return null;
  qs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return qs[Math.floor(qs.length / 2)];
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

function numberState(text, places) {
  if (text === '') return undefined;
  return parseNumber(text, places).error ? 'true' : undefined;
}

function Line({ line, mode, reason, onChange, onRemove, index }) {
  const { t, money, unit, lang } = useI18n();
  const units = unitsOf(line.product);
  const total = lineAmount(line);
  const id = `l${index}`;
  const name = productName(line.product, lang);
  const qtyLabel = mode === 'count' ? t('counted') : mode === 'adjustment' ? t(reason === 'correction' ? 'change' : 'remove_qty') : t('quantity');
  const priced = pricedMode(mode);
  const comma = parseNumber(line.qty, 3).error === 'comma' || parseNumber(line.price, 2).error === 'comma';
  const priceKey = mode === 'sale' ? 'unit_price' : mode === 'return' ? 'unit_refund' : 'unit_cost';
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
            dir="ltr"
            enterKeyHint="next"
            value={line.qty}
            aria-invalid={numberState(line.qty, 3)}
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
            <span>{t(priceKey, { unit: unit(line.unit) })}</span>
            <input
              class="price"
              inputMode="decimal"
              autoComplete="off"
              dir="ltr"
              enterKeyHint="next"
              value={line.price}
              aria-invalid={numberState(line.price, 2)}
              onInput={(e) => onChange({ ...line, price: e.currentTarget.value })}
            />
          </label>
        ) : null}
        {priced ? (
          <p class="line-total">
            <span class="sr">{t('line_total')}: </span>
            <output dir="ltr">{total === null ? '—' : money(moneyString(total))}</output>
          </p>
        ) : null}
      </div>
      {comma ? <p class="warn small comma-hint">{t('err_comma', { name })}</p> : null}
    </li>
  );
}

export function Counter() {
  const state = useStore(app);
  const { t, money, lang, when, unit } = useI18n();
  const catalog = useCatalog();
  const { credential } = useAuth();
  const { records } = useOutbox();
  const modes = modesFor(credential?.role);
  const draft = loadSaved(DRAFT_KEY, state.storeId);
  const [mode, setMode] = useState(() => (modes.includes(draft?.mode) ? draft.mode : modes[0] ?? 'sale'));
  const [query, setQuery] = useState('');
  const [lines, setLines] = useState(() => (draft?.lines ?? []));
  const [supplier, setSupplier] = useState(draft?.supplier ?? '');
  const [reason, setReason] = useState(draft?.reason ?? 'damage');
  const [note, setNote] = useState(draft?.note ?? '');
  const [original, setOriginal] = useState(draft?.original ?? null); // {event_id, occurred_at} a return is from
  const [editing, setEditing] = useState(draft?.editing ?? null); // seq of the refused event being fixed
  const [cash, setCash] = useState('');
  const [errors, setErrors] = useState([]);
  const [message, setMessage] = useState('');
  const [confirm, setConfirm] = useState(null);
  const [bill, setBill] = useState(() => loadSaved(BILL_KEY, state.storeId));
  const [served, setServed] = useState(null); // quick keys from the API (null: not available)
  const [onHand, setOnHand] = useState({});
  const [camera, setCamera] = useState(null); // stop() of the running camera
  const searchRef = useRef(null);
  const videoRef = useRef(null);
  const focusSku = useRef(null);
  const addRef = useRef(null);
  const recording = useRef(false);

  const results = useMemo(() => (query.trim() ? search(catalog.entries, query, 8) : []), [query, catalog]);
  const nameOf = (sku) => { const p = catalog.bySku.get(sku); return p ? productName(p, lang) : sku; };
  const quick = useMemo(() => {
    const list = served?.length ? served : fromHistory(records);
    return list.map((q) => catalog.bySku.get(q.sku) ?? (q.name ? { ...q, unit: q.unit || 'piece' } : null)).filter(Boolean).slice(0, 8);
  }, [served, records, catalog]);

  useEffect(() => {
    localStorage.setItem(DRAFT_KEY, JSON.stringify({ storeId: state.storeId, mode, lines, supplier, reason, note, original, editing }));
  }, [state.storeId, mode, lines, supplier, reason, note, original, editing]);
  useEffect(() => {
    if (bill) localStorage.setItem(BILL_KEY, JSON.stringify(bill)); else localStorage.removeItem(BILL_KEY);
  }, [bill]);
  useEffect(() => { loadQuickKeys(state.storeId).then((items) => setServed(items)); }, [state.storeId, state.online]);
  // A new bill asks for the quick keys again: they follow the store's sales through the day.
  function newBill() {
    setBill(null);
    setMessage('');
    searchRef.current?.focus();
    loadQuickKeys(state.storeId).then((items) => setServed(items));
  }

  useEffect(() => {
    if (!focusSku.current) return;
    const el = document.querySelector(`li.line[data-sku="${CSS.escape(focusSku.current)}"] input.qty`);
    focusSku.current = null;
    if (el) el.focus();
  }, [lines]);

  // A scanner's burst goes to product search wherever the focus is (scanner.js).
  useEffect(() => {
    // after the render that takes the burst back out of the field it fell into
    const listener = scannerListener((code) => setTimeout(() => addRef.current?.(code, true), 0), { passThrough: (el) => el?.id === 'search' });
    window.addEventListener('keydown', listener, true);
    return () => window.removeEventListener('keydown', listener, true);
  }, []);
  useEffect(() => () => camera?.(), [camera]);

  function lookUpStock(sku) {
    if (onHand[sku] !== undefined) return;
    request(paths.stockItem(state.storeId, sku)).then((res) => {
      const q = res.ok ? parseQty(String(res.data?.on_hand ?? '')) : null;
      setOnHand((m) => ({ ...m, [sku]: q }));
    }).catch(() => {});
  }

  function add(product, fromScan = false) {
    setQuery('');
    setMessage('');
    setErrors([]);
    setConfirm(null);
    setBill(null);
    lookUpStock(product.sku);
    const unit = product.unit || 'piece';
    const same = lines.findIndex((l) => l.sku === product.sku && l.unit === unit);
    if (same >= 0 && !isLoose(product) && mode !== 'count') {
      const q = parseQty(lines[same].qty) ?? 0n;
      setLines(lines.map((l, i) => (i === same ? { ...l, qty: qtyString(q + 1000n) } : l)));
    } else if (same < 0) {
      const line = newLine(product, mode);
      setLines([...lines, line]);
      if (line.qty === '' && !fromScan) { focusSku.current = product.sku; return; }
    } else if (!fromScan) {
      focusSku.current = product.sku;
      setLines([...lines]);
      return;
    }
    if (fromScan) setMessage(t('scanned', { name: productName(product, lang) }));
    else searchRef.current?.focus();
  }

  function addCode(code, fromScan) {
    const hit = exact(catalog.entries, code);
    if (hit) add(hit, fromScan);
    else { setQuery(code); setMessage(t('scan_no_match', { code })); }
  }
  addRef.current = addCode;

  function onSearchKey(e) {
    if (e.key === 'Escape') { setQuery(''); return; }
    if (e.key !== 'Enter') return;
    e.preventDefault();
    const hit = exact(catalog.entries, query) ?? results[0];
    if (hit) add(hit);
  }

  // Enter never records (only the Record button does): in a quantity or price it moves on.
  function onFormKey(e) {
    if (e.key !== 'Enter' || e.defaultPrevented) return;
    const el = e.target;
    if (el.tagName !== 'INPUT' || el.id === 'search') return;
    e.preventDefault();
    const line = el.closest('li.line');
    if (line) { // quantity -> price -> back to search for the next product
      const inputs = [...line.querySelectorAll('input')];
      (inputs[inputs.indexOf(el) + 1] ?? searchRef.current)?.focus();
      return;
    }
    const fields = [...e.currentTarget.querySelectorAll('input:not([type=radio]), select')];
    fields[fields.indexOf(el) + 1]?.focus();
  }

  function switchMode(m) {
    setMode(m);
    setErrors([]);
    setMessage('');
    setConfirm(null);
    if (m !== 'return') setOriginal(null);
    const field = m === 'purchase' ? 'cost' : 'price';
    setLines(lines.map((l) => ({ ...l, price: pricedMode(m) ? priceFor(l.product, l.unit, field) : '' })));
  }

  function clear() {
    setLines([]); setErrors([]); setMessage(''); setConfirm(null); setOriginal(null); setEditing(null); setCash(''); setNote('');
  }

  function linesOf(event) {
    return event.lines.map((l) => {
      const product = catalog.bySku.get(l.sku) ?? { sku: l.sku, name: l.sku, unit: 'piece' };
      const known = unitsOf(product).some((u) => u.unit === l.unit);
      const unit = known ? l.unit : product.unit || 'piece';
      const price = l.unit_price ?? l.unit_cost;
      return { ...newLine(product, event.type), unit, qty: String(l.quantity ?? ''), price: price !== undefined && known ? String(price) : priceFor(product, unit, event.type === 'purchase' ? 'cost' : 'price') };
    });
  }

  function returnFrom(sale) {
    clear();
    setMode('return');
    setOriginal({ event_id: sale.event_id, occurred_at: sale.occurred_at });
    setLines(linesOf({ ...sale, type: 'return' }));
  }

  async function voidSale(sale, why) {
    if (recording.current) return;
    recording.current = true;
    try {
      await outbox.enqueue(voidOf(sale, { terminalId: terminalId(), why }));
    } catch {
      setErrors([t('record_failed')]);
      return;
    } finally {
      recording.current = false;
    }
    setMessage(t('void_recorded'));
  }

  function editRefused(r) {
    const ev = r.event;
    clear();
    if (modes.includes(ev.type)) setMode(ev.type);
    setLines(linesOf(ev));
    if (ev.supplier) setSupplier(ev.supplier);
    if (ev.type === 'adjustment' && ev.reason) setReason(ev.reason);
    if (ev.note) setNote(ev.note);
    if (ev.original_event_id) setOriginal({ event_id: ev.original_event_id, occurred_at: null });
    setEditing(r.seq);
    setBill(null);
    window.scrollTo(0, 0);
    searchRef.current?.focus();
  }

  async function record(e, confirmed = false) {
    e?.preventDefault();
    const built = buildEvent({
      mode, storeId: state.storeId, terminalId: terminalId(), lines, supplier, reason, note, original: original?.event_id,
    });
    if (built.errors) {
      setErrors(built.errors.map((x) => t(x.key, x.vars)));
      setMessage('');
      return;
    }
    if (!confirmed) {
      const odd = lines.map((l) => implausible({ ...l, product: { ...l.product, name: productName(l.product, lang) } }, mode, {
        onHand: onHand[l.sku] ?? null, usual: usualOf(records, l.product),
      })).filter(Boolean);
      if (odd.length) { setConfirm(odd); setErrors([]); return; }
    }
    // One bill per tap: a double tap, or a scan while the phone is still saving, must never
    // record these lines twice. The bill leaves the screen before the write, so what is scanned
    // meanwhile starts the next bill; if the write fails, the bill comes back in front of it.
    if (recording.current) return;
    recording.current = true;
    const fixing = editing !== null && records.some((r) => r.seq === editing && r.state === 'rejected');
    const kept = { lines, cash, note, original, editing };
    clear();
    try {
      if (fixing) await outbox.fix(kept.editing, built.event);
      else await outbox.enqueue(built.event);
    } catch {
      setLines((now) => [...kept.lines, ...now]);
      setCash(kept.cash); setNote(kept.note); setOriginal(kept.original); setEditing(kept.editing);
      setErrors([t('record_failed')]);
      return;
    } finally {
      recording.current = false;
    }
    const paid = mode === 'sale' ? parseNumber(kept.cash, 2) : { error: 'none' };
    if (mode === 'sale') {
      const store = currentStore(state);
      setBill({ storeId: state.storeId, event: built.event, store: { name: store.name }, cash: paid.error ? null : String(paid.value) });
    }
    setMessage(t('recorded', { type: t(mode) }));
    searchRef.current?.focus();
  }

  async function scanWithCamera() {
    if (camera) { camera(); setCamera(null); return; }
    try {
      const { startCamera } = await import('../camera.js');
      const stop = await startCamera(videoRef.current, (code) => addRef.current?.(code, true));
      setCamera(() => stop);
    } catch {
      setMessage(t('camera_error'));
    }
  }

  const priced = pricedMode(mode);
  const total = billTotal(lines);
  const paid = parseNumber(cash, 2);
  const change = cash.trim() && !paid.error ? paid.value - total : null;
  const catalogLine = catalog.products.length
    ? `${t('catalog_n', { n: catalog.products.length })}${catalog.fromCache && catalog.saved_at ? ` · ${t('catalog_saved', { at: new Date(catalog.saved_at).toLocaleString(lang) })}` : ''}`
    : t('catalog_none');
  const billFor = bill && bill.event ? { ...bill, cash: bill.cash === null || bill.cash === undefined ? null : BigInt(bill.cash) } : null;

  useEffect(() => { if (modes.length && !modes.includes(mode)) switchMode(modes[0]); }, [credential?.role]);

  if (!modes.length) {
    return (
      <div class="page counter">
        <section class="card"><h1 id="counter-h">{t('counter')}</h1><p class="warn" id="no-modes">{t('modes_none')}</p></section>
        <OutboxPanel />
      </div>
    );
  }

  const hasCamera = typeof window !== 'undefined' && 'BarcodeDetector' in window && !!navigator.mediaDevices?.getUserMedia;

  return (
    <div class="page counter">
      {billFor && !lines.length ? <Receipt bill={billFor} nameOf={nameOf} onDone={newBill} /> : null}
      <form class="card" onSubmit={(e) => e.preventDefault()} onKeyDown={onFormKey} aria-labelledby="counter-h" novalidate>
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
        {editing !== null ? (
          <p class="warn" id="editing">{t('editing')} <button type="button" class="link" onClick={clear}>{t('stop_edit')}</button></p>
        ) : null}

        <div class="search">
          <label for="search" class="field-label">{t('find')}</label>
          <div class="search-row">
            <input
              id="search"
              ref={searchRef}
              type="search"
              autoComplete="off"
              enterKeyHint="search"
              value={query}
              aria-describedby="search-hint"
              aria-controls={results.length ? "search-results" : undefined}
              onInput={(e) => setQuery(e.currentTarget.value)}
              onKeyDown={onSearchKey}
            />
            {hasCamera ? (
              <button type="button" id="camera" class={camera ? 'on' : ''} aria-pressed={camera ? 'true' : 'false'} onClick={scanWithCamera}>
                {t(camera ? 'scan_stop' : 'scan_camera')}
              </button>
            ) : null}
          </div>
          <video ref={videoRef} class={camera ? 'camera' : 'camera off'} muted playsInline aria-hidden="true" />
          <p id="search-hint" class="muted small">{t('find_hint')} {catalogLine}</p>
          {query.trim() && !results.length ? <p class="muted" role="status">{t('no_match', { q: query })}</p> : null}
          {results.length ? <Results results={results} onPick={add} lang={lang} /> : null}
        </div>

        {!lines.length && mode === 'sale' ? <QuickKeys items={quick} onPick={(p) => add(p)} nameOf={(p) => productName(p, lang)} /> : null}
        {mode === 'return' && !original && !lines.length ? <RecentSales records={records} onReturn={returnFrom} onVoid={voidSale} /> : null}
        {mode === 'return' && original ? <p class="muted" id="returning">{t('returning', { at: original.occurred_at ? when(original.occurred_at) : original.event_id.slice(0, 8) })}</p> : null}

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
                onChange={(next) => { setConfirm(null); setLines(lines.map((l) => (l.key === line.key ? next : l))); }}
                onRemove={() => setLines(lines.filter((l) => l.key !== line.key))}
              />
            ))}
          </ol>
        ) : <p class="muted">{t('no_lines')}</p>}

        <label class="field">
          <span>{t('note')}</span>
          <input id="note" value={note} maxLength={500} onInput={(e) => setNote(e.currentTarget.value)} />
        </label>

        <div class="foot">
          {confirm ? (
            <div class="confirm" role="alert" id="confirm">
              <p><strong>{t('confirm_title')}</strong></p>
              {confirm.map((x) => <p>{t(x.key, { ...x.vars, unit: unit(x.vars.unit) })}</p>)}
              <button type="button" class="danger" id="confirm-yes" onClick={() => record(null, true)}>{t('confirm_yes')}</button>
              <button type="button" id="confirm-fix" onClick={() => { setConfirm(null); document.querySelector('li.line input.qty')?.focus(); }}>{t('confirm_fix')}</button>
            </div>
          ) : null}
          {errors.length ? <ul class="errors" role="alert">{errors.map((x) => <li>{x}</li>)}</ul> : null}
          {message ? <p class="ok" role="status">{message}</p> : null}
          {priced ? (
            <p class="total">
              <span>{t(mode === 'sale' ? 'bill_total' : mode === 'return' ? 'refund_total' : 'cost_total')}</span>
              <output id="bill-total" dir="ltr" aria-live="polite">{money(moneyString(total))}</output>
            </p>
          ) : null}
          {mode === 'sale' && lines.length ? (
            <div class="cash-row">
              <label class="field inline">
                <span>{t('cash')}</span>
                <input id="cash" inputMode="decimal" autoComplete="off" dir="ltr" value={cash} aria-invalid={numberState(cash, 2)} onInput={(e) => setCash(e.currentTarget.value)} />
              </label>
              {change !== null ? (
                <p class={`change ${change < 0n ? 'due' : ''}`}>
                  <span>{t(change < 0n ? 'still_due' : 'change_due')}</span>
                  <output id="change" dir="ltr">{money(moneyString(change < 0n ? -change : change))}</output>
                </p>
              ) : null}
            </div>
          ) : null}
          <div class="actions">
            <button type="button" class="primary" id="record" onClick={(e) => record(e)}>{t(`record_${mode}`)}</button>
            <button type="button" onClick={clear}>{t('clear')}</button>
          </div>
        </div>
      </form>
      <OutboxPanel onEdit={editRefused} />
    </div>
  );
}
