//! The stock agent's batch core (``streams/core.py`` drives it): one call per batch from the
//! messages' raw bytes to the state writes and the records to send, with the decoded states of
//! recently written keys kept here between batches.
//!
//! A batch is two calls. ``prepare`` reads every message and names the RocksDB values it needs
//! that its cache does not hold (stock keys and sale-book buckets); ``run`` takes those values
//! (and, for a store whose bucket of the day is new, the days its book holds) and applies the
//! batch. Either answers a string instead when the batch holds something it leaves to the Python
//! rules (``domain/``, the specification): then nothing here changed, and Python applies the
//! whole batch.

mod dec;
mod json;
mod rules;
mod state;
mod wire;

use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use rules::{Outcome, Thresholds};
use state::State;
use std::collections::{HashMap, HashSet, VecDeque};
use serde_json::Value;
use wire::{Event, Kind};

const US_PER_DAY: i64 = 86_400 * 1_000_000;
const GRACE_DAYS: i64 = 7; // domain.voids.GRACE_DAYS
const ORDINAL_EPOCH: i64 = 719_163; // date(1970, 1, 1).toordinal()
const NO_DAY: i64 = 999_999; // a book day no bucket has (the year 4707)
// A store's buckets past the void window and grace are dropped only with its next new day's first
// record: a void's reads reach this many days further back, for a store idle that long.
const IDLE_DAYS: i64 = 30;

struct Product {
    limits: Thresholds,
    active: Option<bool>,
}

#[derive(Default)]
struct Catalog {
    products: HashMap<String, Product>,
    overrides: HashMap<String, (Option<i64>, Option<bool>)>, // "store|sku" -> (reorder point, active)
    stores: HashMap<String, String>,                         // store -> time zone
    zones: HashMap<String, (Vec<(i64, i64)>, i64)>,          // zone -> ([(from µs, offset µs)], valid until µs)
}

impl Catalog {
    fn thresholds(&self, store: &str, sku: &str) -> Thresholds {
        let Some(p) = self.products.get(sku) else { return Thresholds::default() };
        let mut t = p.limits.clone();
        if let Some((Some(point), _)) = self.overrides.get(&format!("{store}|{sku}")) {
            t.reorder_point = Some(*point);
        }
        t
    }

    fn active(&self, store: &str, sku: &str) -> Option<bool> {
        let p = self.products.get(sku)?;
        match self.overrides.get(&format!("{store}|{sku}")) {
            Some((_, Some(a))) => Some(*a),
            _ => p.active,
        }
    }

    fn local_day(&self, store: &str, at_us: i64) -> Result<i64, String> {
        let offset = match self.stores.get(store) {
            None => 0,
            Some(zone) => {
                let (segments, until) = self.zones.get(zone).ok_or_else(|| format!("time zone {zone} not given to the core"))?;
                if at_us >= *until {
                    return Err("a time past the core's time-zone table".into());
                }
                let i = segments.partition_point(|(from, _)| *from <= at_us);
                if i == 0 {
                    return Err("a time before the core's time-zone table".into());
                }
                segments[i - 1].1
            }
        };
        Ok((at_us + offset).div_euclid(US_PER_DAY) + ORDINAL_EPOCH)
    }
}

struct Msg {
    partition: i64,
    key: Option<Py<PyBytes>>,
    leg_in: bool,
    digest: String,
    ev: Event,
}

/// A sale-book bucket as this batch sees it: as stored (``raw``) plus the records appended; once a
/// stored record is replaced (a sale marked voided), every record parsed (``parsed``), written back
/// whole as ``orjson.dumps`` of the mapping writes it.
#[derive(Clone, Default)]
struct Bucket {
    raw: Option<Vec<u8>>,
    new: Vec<(String, Vec<u8>)>,
    parsed: Option<IndexMap<String, Value>>,
}

/// The record ``id`` of a stored bucket (``streams.codec.LazyMoves.get``). A bucket is orjson's
/// {event id: record}, each record an array of integers and strings without quotes in them:
/// ``"id":`` occurs only where ``id`` is a key (a string in a record is followed by ``,`` or
/// ``]``), so only that record is parsed, not the whole bucket.
fn stored_record(raw: &[u8], id: &str) -> Result<Option<Value>, String> {
    let key = format!("\"{id}\":");
    let Some(at) = memchr::memmem::find(raw, key.as_bytes()) else {
        return Ok(None);
    };
    match serde_json::Deserializer::from_slice(&raw[at + key.len()..]).into_iter::<Value>().next() {
        Some(Ok(rec)) => Ok(Some(rec)),
        _ => Err("a book record that is not JSON".into()),
    }
}

impl Bucket {
    fn stored(raw: Vec<u8>) -> Bucket {
        Bucket { raw: Some(raw), ..Bucket::default() }
    }

    fn get(&self, id: &str) -> Result<Option<Value>, String> {
        if let Some(p) = &self.parsed {
            return Ok(p.get(id).cloned());
        }
        if let Some((_, rec)) = self.new.iter().find(|(k, _)| k == id) {
            return serde_json::from_slice(rec).map(Some).map_err(|e| e.to_string());
        }
        match &self.raw {
            Some(raw) => stored_record(raw, id),
            None => Ok(None),
        }
    }

    fn holds(&self, id: &str) -> Result<bool, String> {
        if let Some(p) = &self.parsed {
            return Ok(p.contains_key(id));
        }
        if self.new.iter().any(|(k, _)| k == id) {
            return Ok(true);
        }
        match &self.raw {
            Some(raw) => Ok(stored_record(raw, id)?.is_some()),
            None => Ok(false),
        }
    }

    /// A record under a new id.
    fn add(&mut self, id: &str, rec: Vec<u8>) -> Result<(), String> {
        match &mut self.parsed {
            Some(p) => {
                p.insert(id.to_string(), serde_json::from_slice(&rec).map_err(|e| e.to_string())?);
            }
            None => self.new.push((id.to_string(), rec)),
        }
        Ok(())
    }

    /// Replace a record, keeping its place.
    fn replace(&mut self, id: &str, rec: Value) -> Result<(), String> {
        if self.parsed.is_none() {
            let mut map = IndexMap::new();
            if let Some(raw) = &self.raw {
                let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
                for (k, r) in v.as_object().ok_or("a bucket not an object")? {
                    map.insert(k.clone(), r.clone());
                }
            }
            for (k, r) in &self.new {
                map.insert(k.clone(), serde_json::from_slice(r).map_err(|e| e.to_string())?);
            }
            self.parsed = Some(map);
            self.raw = None;
            self.new.clear();
        }
        self.parsed.as_mut().unwrap().insert(id.to_string(), rec);
        Ok(())
    }

    fn to_json(&self) -> Vec<u8> {
        if let Some(p) = &self.parsed {
            let mut out = vec![b'{'];
            for (i, (k, v)) in p.iter().enumerate() {
                json::key(&mut out, i == 0, k);
                out.extend_from_slice(&serde_json::to_vec(v).expect("a parsed record"));
            }
            out.push(b'}');
            return out;
        }
        let mut added = Vec::new();
        for (i, (k, rec)) in self.new.iter().enumerate() {
            json::key(&mut added, i == 0, k);
            added.extend_from_slice(rec);
        }
        match &self.raw {
            Some(raw) if self.new.is_empty() => raw.clone(),
            Some(raw) if raw.as_slice() != b"{}" => {
                let mut out = raw[..raw.len() - 1].to_vec();
                out.push(b',');
                out.extend_from_slice(&added);
                out.push(b'}');
                out
            }
            _ => {
                let mut out = vec![b'{'];
                out.extend_from_slice(&added);
                out.push(b'}');
                out
            }
        }
    }
}

/// What a void did (``domain.voids.Verdict``): its status, and the voided sale (its occurred_at
/// and what it took from each sku) when applied.
struct Verdict {
    status: String,
    sale: Option<(i64, Vec<(String, i64)>)>,
    words: String,
}

fn words(status: &str, original: &str, store: &str, window_days: i64) -> String {
    match status {
        "already_voided" => format!("sale {original} was voided already: counted once"),
        "too_old" => format!("sale {original} is older than the void window ({window_days} days): void it no more, adjust the stock"),
        "not_a_sale" => format!("event {original} is not a sale: only a sale can be voided"),
        "unknown_sale" => format!("no sale {original} of store {store} is known (another store's, not received yet, or too old)"),
        other => other.to_string(),
    }
}

fn rec_str(rec: &Value, i: usize) -> Result<&str, String> {
    rec.get(i).and_then(Value::as_str).ok_or_else(|| "a book record of another shape".to_string())
}

fn rec_int(rec: &Value, i: usize) -> Result<i64, String> {
    rec.get(i).and_then(Value::as_i64).ok_or_else(|| "a book record of another shape".to_string())
}

/// A sale record's (occurred_at, [(sku, milli taken)]).
fn sale_of(rec: &Value) -> Result<(i64, Vec<(String, i64)>), String> {
    if rec_str(rec, 0)? != "s" {
        return Err("a void's sale record is not a sale's".into());
    }
    let mut ops = Vec::new();
    for op in rec.get(3).and_then(Value::as_array).ok_or("a sale record of another shape")? {
        let sku = op.get(0).and_then(Value::as_str).ok_or("a sale record of another shape")?;
        let milli = op.get(1).and_then(Value::as_i64).ok_or("a sale record of another shape")?;
        ops.push((sku.to_string(), milli));
    }
    Ok((rec_int(rec, 1)?, ops))
}

fn book_prefix(store: &str) -> String {
    format!("\x01{store}|")
}

fn book_key(store: &str, day: i64) -> String {
    format!("\x01{store}|{day:06}")
}

#[derive(Default)]
struct Counts {
    events: IndexMap<(&'static str, &'static str), i64>,
    outcomes: IndexMap<&'static str, i64>,
    alerts: IndexMap<(String, String), i64>,
    negative: i64,
    flagged: i64,
}

/// A record to send: (topic, partition, key, value).
type OutRecord = (&'static str, i64, Option<Py<PyBytes>>, Vec<u8>);

/// What one batch changed, until it is handed back.
#[derive(Default)]
struct Batch {
    states: IndexMap<String, (i64, State)>,
    fed: HashMap<String, Option<Vec<u8>>>, // stock keys read from RocksDB this batch
    buckets: IndexMap<String, (i64, Option<Bucket>)>,
    fed_buckets: HashMap<String, Option<Vec<u8>>>,
    fed_days: HashMap<String, Vec<i64>>,
    records: Vec<OutRecord>,
    counts: Counts,
}

#[pyclass(module = "bazaar_batchcore")]
struct Core {
    window_days: i64,
    velocity_days: i64,
    void_window_days: i64,
    ledger_topic: &'static str,
    alerts_topic: &'static str,
    cache_keys: usize,
    cache: HashMap<String, (State, u64)>,
    order: VecDeque<(String, u64)>, // (key, stamp) oldest first; a stale stamp is skipped
    stamp: u64,
    catalog: Catalog,
    msgs: Vec<Msg>,
    needs: Vec<(i64, String, bool)>, // (partition, key, is a bucket)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A header's text; None when absent, Err when it is not UTF-8 (Python reads such a header with
/// replacement characters: the core leaves that to it).
fn header_text(v: &Bound<'_, PyAny>) -> PyResult<Option<Result<String, ()>>> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(b) = v.downcast::<PyBytes>() {
        return Ok(Some(String::from_utf8(b.as_bytes().to_vec()).map_err(|_| ())));
    }
    Ok(Some(Ok(v.extract::<String>()?)))
}

/// (leg, digest) from a message's headers: a dict, or pairs (``streams.checkpoint.headers_of``);
/// Err when one of them is not UTF-8.
#[allow(clippy::type_complexity)]
fn legs_and_digest(h: &Bound<'_, PyAny>) -> PyResult<Result<(Option<String>, Option<String>), ()>> {
    let (mut leg, mut digest, mut bad) = (None, None, false);
    if h.is_none() {
        return Ok(Ok((leg, digest)));
    }
    let mut take = |k: String, v: &Bound<'_, PyAny>| -> PyResult<()> {
        if k != "bazaar-leg" && k != "bazaar-digest" {
            return Ok(());
        }
        match header_text(v)? {
            None => {}
            Some(Err(())) => bad = true,
            Some(Ok(text)) => {
                if k == "bazaar-leg" {
                    leg = Some(text);
                } else {
                    digest = Some(text);
                }
            }
        }
        Ok(())
    };
    if let Ok(d) = h.downcast::<PyDict>() {
        for (k, v) in d.iter() {
            take(k.extract()?, &v)?;
        }
    } else {
        for item in h.try_iter()? {
            let item = item?;
            take(item.get_item(0)?.extract()?, &item.get_item(1)?)?;
        }
    }
    Ok(if bad { Err(()) } else { Ok((leg, digest)) })
}

fn dec_text(milli: i64) -> String {
    // domain.ledger._dec: milli-units as a plain decimal, no trailing zeros
    let (neg, m) = (milli < 0, milli.unsigned_abs());
    let (whole, part) = (m / 1000, m % 1000);
    let mut t = if part == 0 { whole.to_string() } else { format!("{whole}.{part:03}").trim_end_matches('0').to_string() };
    if neg {
        t.insert(0, '-');
    }
    t
}

/// ``schemas.types.decimal_text`` of units of 10^-5 (a quantity times a price).
fn amount_text(units: i128) -> Result<String, String> {
    if units.unsigned_abs() >= 10u128.pow(28) {
        return Err("an amount beyond 28 digits".into());
    }
    if units == 0 {
        return Ok("0".into());
    }
    let (neg, m) = (units < 0, units.unsigned_abs());
    let (whole, part) = (m / 100_000, m % 100_000);
    let mut t = if part == 0 { whole.to_string() } else { format!("{whole}.{part:05}").trim_end_matches('0').to_string() };
    if neg {
        t.insert(0, '-');
    }
    Ok(t)
}

fn scale(f: &wire::Fixed, places: u32) -> i128 {
    f.units * 10i128.pow(places - f.places)
}

struct KeyOp {
    store: String,
    sku: String,
    qty: i64,
}

fn key_ops(ev: &Event, leg_in: bool) -> Vec<KeyOp> {
    let store = if leg_in { ev.to_store_id.clone().unwrap_or_default() } else { ev.store_id.clone() };
    let mut per: IndexMap<&str, i64> = IndexMap::new();
    for l in &ev.lines {
        let q = match ev.kind {
            Kind::Sale => -l.milli,
            Kind::Transfer if !leg_in => -l.milli,
            _ => l.milli,
        };
        *per.entry(l.sku.as_str()).or_insert(0) += q;
    }
    per.into_iter().map(|(sku, qty)| KeyOp { store: store.clone(), sku: sku.to_string(), qty }).collect()
}

impl Core {
    fn get_state(&mut self, b: &mut Batch, key: &str) -> Result<State, String> {
        if let Some((_, s)) = b.states.get_mut(key) {
            return Ok(std::mem::take(s)); // put back in its place by ``apply``
        }
        if let Some((s, _)) = self.cache.remove(key) {
            return Ok(s);
        }
        match b.fed.get(key) {
            Some(Some(raw)) => state::decode(raw),
            Some(None) => Ok(State::default()),
            None => Err(format!("key {key} was not read")),
        }
    }

    fn days(&self, b: &Batch, store: &str) -> Result<Vec<i64>, String> {
        let mut found: HashSet<i64> = b.fed_days.get(store).ok_or("the book's days were not read")?.iter().copied().collect();
        let prefix = book_prefix(store);
        for (k, (_, bucket)) in &b.buckets {
            if let Some(rest) = k.strip_prefix(&prefix) {
                let day: i64 = rest.parse().map_err(|_| "a book key of another form")?;
                if bucket.is_none() {
                    found.remove(&day);
                } else {
                    found.insert(day);
                }
            }
        }
        let mut v: Vec<i64> = found.into_iter().collect();
        v.sort();
        Ok(v)
    }

    /// The book's bucket ``key`` as this batch sees it (None: absent), to be changed and put back
    /// in ``b.buckets`` (a value read from RocksDB is moved there, not copied).
    fn bucket(&self, b: &mut Batch, key: &str) -> Result<Option<Bucket>, String> {
        match b.buckets.get(key) {
            Some((_, bucket)) => Ok(bucket.clone()),
            None => match b.fed_buckets.get_mut(key) {
                Some(raw) => Ok(raw.take().map(Bucket::stored)),
                None => Err("a book bucket was not read".into()),
            },
        }
    }

    /// ``domain.voids._put``: a record under the day it was received (unless there already); a new
    /// day's first record drops the store's buckets past the window and grace.
    #[allow(clippy::too_many_arguments)]
    fn put(&self, b: &mut Batch, partition: i64, store: &str, received: i64, id: &str, rec: Vec<u8>) -> Result<(), String> {
        let day = received.div_euclid(US_PER_DAY);
        let key = book_key(store, day);
        if let Some((p, Some(bucket))) = b.buckets.get_mut(&key) {
            // (in place: a busy store's bucket of the day is not copied for each sale)
            if !bucket.holds(id)? {
                bucket.add(id, rec)?;
            }
            *p = partition;
            return Ok(());
        }
        let mut bucket = match self.bucket(b, &key)? {
            Some(bucket) => bucket,
            None => {
                for old in self.days(b, store)? {
                    if old < day - self.void_window_days - GRACE_DAYS {
                        b.buckets.insert(book_key(store, old), (partition, None));
                    }
                }
                Bucket::default()
            }
        };
        if !bucket.holds(id)? {
            bucket.add(id, rec)?;
        }
        b.buckets.insert(key, (partition, Some(bucket)));
        Ok(())
    }

    /// ``domain.voids.record_sale`` into the batch's book.
    #[allow(clippy::too_many_arguments)]
    fn record_sale(&self, b: &mut Batch, partition: i64, store: &str, id: &str, at: i64, received: i64, ops: &[KeyOp]) -> Result<(), String> {
        let mut rec = b"[\"s\",".to_vec();
        json::int(&mut rec, at);
        rec.push(b',');
        json::int(&mut rec, received);
        rec.extend_from_slice(b",[");
        for (i, op) in ops.iter().enumerate() {
            if i > 0 {
                rec.push(b',');
            }
            rec.push(b'[');
            json::str(&mut rec, &op.sku);
            rec.push(b',');
            json::int(&mut rec, -op.qty);
            rec.push(b']');
        }
        rec.extend_from_slice(b"],\"\"]");
        self.put(b, partition, store, received, id, rec)
    }

    /// ``domain.voids.find``: (bucket key, record) of ``id`` in the store's book, newest bucket first.
    fn find(&self, b: &Batch, store: &str, id: &str) -> Result<Option<(String, Value)>, String> {
        for day in self.days(b, store)?.into_iter().rev() {
            let key = book_key(store, day);
            let rec = match b.buckets.get(&key) {
                Some((_, Some(bucket))) => bucket.get(id)?,
                Some((_, None)) => None,
                None => match b.fed_buckets.get(&key) {
                    Some(Some(raw)) => stored_record(raw, id)?,
                    Some(None) => None,
                    None => return Err("a book bucket was not read".into()),
                },
            };
            if let Some(rec) = rec {
                return Ok(Some((key, rec)));
            }
        }
        Ok(None)
    }

    /// ``domain.voids.judge_void``.
    #[allow(clippy::too_many_arguments)]
    fn judge_void(
        &self,
        b: &mut Batch,
        partition: i64,
        store: &str,
        void_id: &str,
        original: &str,
        at: i64,
        received: i64,
        other_kind: bool,
    ) -> Result<Verdict, String> {
        let window = self.void_window_days;
        if let Some((_, rec)) = self.find(b, store, void_id)? {
            if rec_str(&rec, 0)? == "v" {
                let verdict = rec_str(&rec, 4)?.to_string();
                if verdict != "applied" {
                    let words = words(&verdict, original, store, window);
                    return Ok(Verdict { status: verdict, sale: None, words });
                }
                let sale = match self.find(b, store, original)? {
                    Some((_, again)) => Some(sale_of(&again)?),
                    None => None,
                };
                return Ok(Verdict { status: verdict, sale, words: String::new() });
            }
        }
        let mut sale = None;
        let status = match self.find(b, store, original)? {
            None => if other_kind { "not_a_sale" } else { "unknown_sale" },
            Some((_, rec)) if rec_str(&rec, 0)? != "s" => "not_a_sale",
            Some((key, mut rec)) => {
                let voided_by = rec_str(&rec, 4)?.to_string();
                if !voided_by.is_empty() && voided_by != void_id {
                    "already_voided"
                } else if received - rec_int(&rec, 2)? > window * US_PER_DAY {
                    "too_old"
                } else {
                    if voided_by.is_empty() {
                        rec.as_array_mut().ok_or("a book record of another shape")?[4] = Value::String(void_id.to_string());
                        let mut bucket = self.bucket(b, &key)?.ok_or("a book bucket gone")?;
                        bucket.replace(original, rec.clone())?;
                        b.buckets.insert(key, (partition, Some(bucket)));
                    }
                    sale = Some(sale_of(&rec)?);
                    "applied"
                }
            }
        };
        let mut rec = b"[\"v\",".to_vec();
        json::int(&mut rec, at);
        rec.push(b',');
        json::int(&mut rec, received);
        rec.push(b',');
        json::str(&mut rec, original);
        rec.push(b',');
        json::str(&mut rec, status);
        rec.push(b']');
        self.put(b, partition, store, received, void_id, rec)?;
        let words = if status == "applied" { String::new() } else { words(status, original, store, window) };
        Ok(Verdict { status: status.to_string(), sale, words })
    }

    /// A stock key's state as the batch sees it, without taking it (``states.get``: None if absent).
    fn peek(&self, b: &Batch, key: &str) -> Result<Option<State>, String> {
        if let Some((_, s)) = b.states.get(key) {
            return Ok(Some(s.clone()));
        }
        if let Some((s, _)) = self.cache.get(key) {
            return Ok(Some(s.clone()));
        }
        match b.fed.get(key) {
            Some(Some(raw)) => state::decode(raw).map(Some),
            Some(None) => Ok(None),
            None => Err(format!("key {key} was not read")),
        }
    }

    /// ``domain.batch.Applier.apply`` for one message.
    fn apply(&mut self, b: &mut Batch, m: &Msg, py: Python<'_>) -> Result<(), String> {
        let ev = &m.ev;
        let leg = if m.leg_in { "in" } else { "out" };
        let eid = ev.event_id.as_str();
        let event_key = format!("{eid}|{leg}");
        let sale = ev.kind == Kind::Sale;
        let at = ev.occurred_at.us;
        let received = ev.received_at.as_ref().unwrap_or(&ev.occurred_at).us;
        let window = self.window_days * US_PER_DAY;
        let mut ops = key_ops(ev, m.leg_in);
        let mut day: Option<i64> = None;
        let mut raised: Vec<Vec<u8>> = Vec::new();
        let mut results: Vec<rules::Res> = Vec::with_capacity(ops.len());
        let mut verdict: Option<Verdict> = None;
        let mut at = at;
        if ev.is_void() {
            // ``domain.voids.apply_recorded``
            let store = ev.store_id.as_str();
            let original = ev.original_event_id.as_deref().ok_or("a void without its sale")?;
            let span = (self.void_window_days + GRACE_DAYS) * US_PER_DAY;
            let mut found = Vec::with_capacity(ops.len());
            let mut other = false;
            for op in &ops {
                let s = self.peek(b, &format!("{store}|{}", op.sku))?;
                if let Some(m) = s.as_ref().and_then(|s| s.moves.get(original)) {
                    other |= received - m.fold_key() <= span;
                }
                found.push(s.map_or(0, |s| s.on_hand()));
            }
            let v = self.judge_void(b, m.partition, store, eid, original, at, received, other)?;
            match &v.sale {
                Some((sale_at, took)) if v.status == "applied" => {
                    ops = took.iter().map(|(sku, milli)| KeyOp { store: store.to_string(), sku: sku.clone(), qty: *milli }).collect();
                    at = *sale_at;
                }
                _ => {
                    for (op, on_hand) in ops.iter_mut().zip(&found) {
                        op.qty = 0;
                        results.push(rules::Res { outcome: Outcome::NotApplied, before: *on_hand, after: *on_hand });
                    }
                }
            }
            verdict = Some(v);
        }
        for op in if results.is_empty() { &ops[..] } else { &ops[..0] } {
            let key = format!("{}|{}", op.store, op.sku);
            let mut s = self.get_state(b, &key)?;
            let r = if ev.kind == Kind::Count {
                rules::apply_count(&mut s, eid, at, op.qty, &m.digest, received, window)
            } else {
                rules::apply_movement(&mut s, eid, at, op.qty, &m.digest, received, window)
            };
            let d = match day {
                Some(d) => d,
                None => {
                    let d = self.catalog.local_day(&op.store, ev.occurred_at.us)?; // (a void's own, not its sale's)
                    day = Some(d);
                    d
                }
            };
            let limits = self.catalog.thresholds(&op.store, &op.sku);
            let ts = rules::after_apply(
                &mut s.alerts,
                sale,
                r.outcome,
                &op.store,
                &op.sku,
                op.qty,
                r.after,
                &limits,
                d,
                &event_key,
                self.velocity_days,
            )?;
            for t in &ts {
                *b.counts.alerts.entry((t.ty.clone(), t.kind.clone())).or_insert(0) += 1;
                raised.push(alert_message(t, &op.store, &op.sku, eid, ev));
            }
            b.states.insert(key, (m.partition, s));
            results.push(r);
        }
        if sale {
            self.record_sale(b, m.partition, &ev.store_id, eid, at, received, &ops)?;
        }
        if let Some(v) = &verdict {
            if matches!(v.status.as_str(), "too_old" | "not_a_sale" | "unknown_sale") && !results.is_empty() {
                *b.counts.alerts.entry(("alert".into(), "void_unmatched".into())).or_insert(0) += 1;
                raised.push(unmatched_alert(ev, v, &ops[0].sku, results[0].after));
            }
        }
        if let Some(entry) = self.ledger_entry(ev, leg, &ops, &results, verdict.as_ref())? {
            b.records.push((self.ledger_topic, m.partition, m.key.as_ref().map(|k| k.clone_ref(py)), entry));
        }
        for alert in raised {
            b.records.push((self.alerts_topic, m.partition, m.key.as_ref().map(|k| k.clone_ref(py)), alert));
        }
        *b.counts.events.entry((ev.kind.name(), leg)).or_insert(0) += 1;
        for r in &results {
            *b.counts.outcomes.entry(r.outcome.name()).or_insert(0) += 1;
            if r.went_negative() {
                b.counts.negative += 1;
            }
            if matches!(r.outcome, Outcome::Conflict | Outcome::BeyondWindow | Outcome::StaleCount | Outcome::NotApplied) {
                b.counts.flagged += 1;
            }
        }
        Ok(())
    }

    /// ``domain.ledger.ledger_entry`` as orjson writes it.
    fn ledger_entry(
        &self,
        ev: &Event,
        leg: &str,
        ops: &[KeyOp],
        results: &[rules::Res],
        verdict: Option<&Verdict>,
    ) -> Result<Option<Vec<u8>>, String> {
        // amounts: a sku's first priced line, or the exact sum of its priced lines when repeated
        let mut money: IndexMap<&str, (i128, bool)> = IndexMap::new();
        if matches!(ev.kind, Kind::Sale | Kind::Return | Kind::Purchase) {
            for l in &ev.lines {
                let Some(p) = &l.price else { continue };
                let q = scale(l.entered.as_ref().unwrap_or(&l.quantity), 3);
                let units = q.checked_mul(scale(p, 2)).ok_or("an amount beyond 28 digits")?;
                amount_text(units)?;
                match money.get_mut(l.sku.as_str()) {
                    Some(slot) => {
                        slot.0 += units;
                        slot.1 = true;
                    }
                    None => {
                        money.insert(l.sku.as_str(), (units, false));
                    }
                }
            }
        }
        let mut reasons: HashMap<&str, &str> = HashMap::new();
        if ev.kind == Kind::Adjustment {
            for l in &ev.lines {
                reasons.insert(l.sku.as_str(), l.reason.as_deref().or(ev.reason.as_deref()).unwrap_or("correction"));
            }
        }
        let returned = if ev.kind == Kind::Return { Some(ev.reason.as_deref().unwrap_or("customer_return")) } else { None };
        let sale = ev.kind == Kind::Sale;
        let mut rows = Vec::new();
        let mut n = 0;
        for (op, r) in ops.iter().zip(results) {
            if r.outcome == Outcome::Conflict {
                continue;
            }
            if n > 0 {
                rows.push(b',');
            }
            n += 1;
            rows.extend_from_slice(b"{\"sku\":");
            json::str(&mut rows, &op.sku);
            rows.extend_from_slice(b",\"quantity\":");
            json::str(&mut rows, &dec_text(op.qty));
            rows.extend_from_slice(b",\"amount\":");
            match money.get(op.sku.as_str()) {
                Some((units, _)) => json::str(&mut rows, &amount_text(*units)?),
                None => rows.extend_from_slice(b"null"),
            }
            rows.extend_from_slice(b",\"reason\":");
            json::opt_str(&mut rows, reasons.get(op.sku.as_str()).copied().or(returned));
            rows.extend_from_slice(b",\"on_hand_before\":");
            json::str(&mut rows, &dec_text(r.before));
            rows.extend_from_slice(b",\"on_hand_after\":");
            json::str(&mut rows, &dec_text(r.after));
            rows.extend_from_slice(if r.changed() { b",\"changed\":true" } else { b",\"changed\":false" });
            rows.extend_from_slice(b",\"outcome\":");
            let outcome = if r.outcome == Outcome::Duplicate { Outcome::Applied } else { r.outcome };
            json::str(&mut rows, outcome.name());
            let inactive = sale && self.catalog.active(&ev.store_id, &op.sku) == Some(false);
            rows.extend_from_slice(if inactive { b",\"flags\":[\"inactive_product\"]}" } else { b",\"flags\":[]}" });
        }
        if n == 0 {
            return Ok(None);
        }
        let transfer = ev.kind == Kind::Transfer;
        let leg_in = leg == "in";
        let mut e = Vec::with_capacity(400 + rows.len());
        e.extend_from_slice(b"{\"v\":1,\"event_id\":");
        json::str(&mut e, &ev.event_id);
        e.extend_from_slice(b",\"type\":");
        json::str(&mut e, ev.kind.name());
        e.extend_from_slice(b",\"leg\":");
        json::str(&mut e, leg);
        e.extend_from_slice(b",\"store_id\":");
        json::str(&mut e, if transfer && leg_in { ev.to_store_id.as_deref().unwrap_or("") } else { &ev.store_id });
        e.extend_from_slice(b",\"other_store_id\":");
        json::opt_str(&mut e, if transfer { if leg_in { Some(ev.store_id.as_str()) } else { ev.to_store_id.as_deref() } } else { None });
        e.extend_from_slice(b",\"terminal_id\":");
        json::str(&mut e, &ev.terminal_id);
        e.extend_from_slice(b",\"actor\":");
        json::opt_str(&mut e, ev.actor.as_deref());
        e.extend_from_slice(b",\"supplier\":");
        json::opt_str(&mut e, ev.supplier.as_deref());
        e.extend_from_slice(b",\"occurred_at\":");
        match verdict {
            // an applied void is placed at its sale's occurred_at, where the stock rules applied it
            Some(Verdict { status, sale: Some((sale_at, _)), .. }) if status == "applied" => json::str(&mut e, &utc_iso(*sale_at)),
            _ => json::str(&mut e, &ev.occurred_at.iso),
        }
        e.extend_from_slice(b",\"received_at\":");
        json::opt_str(&mut e, ev.received_at.as_ref().map(|t| t.iso.as_str()));
        e.extend_from_slice(b",\"rows\":[");
        e.extend_from_slice(&rows);
        e.push(b']');
        if ev.kind == Kind::Return {
            e.extend_from_slice(b",\"original_event_id\":");
            json::opt_str(&mut e, ev.original_event_id.as_deref());
            if let Some(v) = verdict {
                e.extend_from_slice(b",\"void\":");
                json::str(&mut e, &v.status);
                e.extend_from_slice(b",\"void_occurred_at\":");
                json::str(&mut e, &ev.occurred_at.iso);
            }
        }
        e.push(b'}');
        Ok(Some(e))
    }

    /// Leave the batch to the Python rules. They write keys this cache may hold (and a message the
    /// core could not read may touch any key of its store): every cached state is dropped, and the
    /// next batches read what Python wrote.
    fn decline(&mut self, py: Python<'_>, why: String) -> PyResult<PyObject> {
        self.forget();
        Ok(why.into_pyobject(py)?.into_any().unbind())
    }

    fn remember(&mut self, key: String, s: State) {
        if self.cache_keys == 0 {
            return;
        }
        self.stamp += 1;
        self.order.push_back((key.clone(), self.stamp));
        self.cache.insert(key, (s, self.stamp));
        while self.cache.len() > self.cache_keys {
            let Some((k, stamp)) = self.order.pop_front() else { break };
            if self.cache.get(&k).is_some_and(|(_, st)| *st == stamp) {
                self.cache.remove(&k);
            }
        }
        if self.order.len() > 4 * self.cache_keys.max(1024) {
            let cache = &self.cache;
            self.order.retain(|(k, st)| cache.get(k).is_some_and(|(_, s)| s == st));
        }
    }
}

/// ``datetime.isoformat()`` of a UTC instant (``domain.events.from_us``).
fn utc_iso(us: i64) -> String {
    let (secs, micro) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = wire::civil_from_days(days);
    let mut s = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    if micro != 0 {
        s.push_str(&format!(".{micro:06}"));
    }
    s.push_str("+00:00");
    s
}

/// ``domain.voids.unmatched_alert``: a void that matched no sale it may undo, on its first sku.
fn unmatched_alert(ev: &Event, v: &Verdict, sku: &str, on_hand: i64) -> Vec<u8> {
    let store = ev.store_id.as_str();
    let eid = ev.event_id.as_str();
    let mut o = Vec::with_capacity(600);
    o.extend_from_slice(b"{\"v\":1,\"type\":\"alert\",\"alert_id\":");
    json::str(&mut o, &rules::alert_uuid(&format!("{store}|{sku}|void_unmatched|{eid}")));
    o.extend_from_slice(b",\"kind\":\"void_unmatched\",\"store_id\":");
    json::str(&mut o, store);
    o.extend_from_slice(b",\"sku\":");
    json::str(&mut o, sku);
    o.extend_from_slice(b",\"on_hand\":");
    json::str(&mut o, &dec_text(on_hand));
    o.extend_from_slice(b",\"threshold\":\"0\",\"velocity\":null,\"days_of_cover\":null,\"suggested_reorder\":null,\"reorder_unit\":null,\"event_id\":");
    json::str(&mut o, eid);
    o.extend_from_slice(b",\"occurred_at\":");
    json::str(&mut o, &ev.occurred_at.iso);
    o.extend_from_slice(b",\"raised_at\":");
    json::str(&mut o, &ev.received_at.as_ref().unwrap_or(&ev.occurred_at).iso);
    o.extend_from_slice(b",\"original_event_id\":");
    json::opt_str(&mut o, ev.original_event_id.as_deref());
    o.extend_from_slice(b",\"reason\":");
    json::str(&mut o, &v.status);
    o.extend_from_slice(b",\"detail\":");
    json::str(&mut o, &v.words);
    o.push(b'}');
    o
}

fn alert_message(t: &state::Trans, store: &str, sku: &str, eid: &str, ev: &Event) -> Vec<u8> {
    let mut o = Vec::with_capacity(400);
    o.extend_from_slice(b"{\"v\":1,\"type\":");
    json::str(&mut o, &t.ty);
    o.extend_from_slice(b",\"alert_id\":");
    json::str(&mut o, &t.alert_id);
    o.extend_from_slice(b",\"kind\":");
    json::str(&mut o, &t.kind);
    o.extend_from_slice(b",\"store_id\":");
    json::str(&mut o, store);
    o.extend_from_slice(b",\"sku\":");
    json::str(&mut o, sku);
    o.extend_from_slice(b",\"on_hand\":");
    json::str(&mut o, &dec_text(t.on_hand));
    o.extend_from_slice(b",\"threshold\":");
    json::str(&mut o, &t.threshold);
    o.extend_from_slice(b",\"event_id\":");
    json::str(&mut o, eid);
    o.extend_from_slice(b",\"occurred_at\":");
    json::str(&mut o, &ev.occurred_at.iso);
    o.extend_from_slice(b",\"raised_at\":");
    json::str(&mut o, &ev.received_at.as_ref().unwrap_or(&ev.occurred_at).iso);
    if t.ty == "cleared" {
        o.extend_from_slice(b",\"cleared_alert_id\":");
        json::opt_str(&mut o, t.clears.as_deref());
    } else {
        o.extend_from_slice(b",\"velocity\":");
        json::opt_str(&mut o, t.velocity.as_deref());
        o.extend_from_slice(b",\"days_of_cover\":");
        json::opt_str(&mut o, t.cover.as_deref());
        o.extend_from_slice(b",\"suggested_reorder\":");
        json::opt_str(&mut o, t.suggested.as_deref());
        o.extend_from_slice(b",\"reorder_unit\":");
        json::opt_str(&mut o, t.unit.as_deref());
    }
    o.push(b'}');
    o
}

type Opt<T> = Option<T>;

#[pymethods]
impl Core {
    #[new]
    fn new(
        window_days: i64,
        velocity_days: i64,
        void_window_days: i64,
        ledger_topic: String,
        alerts_topic: String,
        cache_keys: usize,
    ) -> Self {
        Core {
            window_days,
            velocity_days,
            void_window_days,
            ledger_topic: leak(ledger_topic),
            alerts_topic: leak(alerts_topic),
            cache_keys,
            cache: HashMap::new(),
            order: VecDeque::new(),
            stamp: 0,
            catalog: Catalog::default(),
            msgs: Vec::new(),
            needs: Vec::new(),
        }
    }

    /// The catalog as the alert and ledger rules read it: products (sku, reorder point, lead time,
    /// reorder min, reorder max, pack size, pack unit, active: quantities in milli-units), store
    /// overrides ("store|sku", reorder point, active), stores (store, time zone) and each zone's
    /// offsets ([(from µs, offset µs), ...], valid until µs).
    #[allow(clippy::type_complexity)]
    fn set_catalog(
        &mut self,
        products: Vec<(String, Opt<i64>, Opt<i64>, Opt<i64>, Opt<i64>, Opt<i64>, Opt<String>, Opt<bool>)>,
        overrides: Vec<(String, Opt<i64>, Opt<bool>)>,
        stores: Vec<(String, String)>,
        zones: Vec<(String, Vec<(i64, i64)>, i64)>,
    ) {
        let mut c = Catalog::default();
        for (sku, point, lead, min, max, pack, unit, active) in products {
            let limits = Thresholds {
                reorder_point: point,
                lead_time_days: lead,
                reorder_min: min,
                reorder_max: max,
                pack_size: pack,
                pack_unit: unit,
            };
            c.products.insert(sku, Product { limits, active });
        }
        c.overrides = overrides.into_iter().map(|(k, p, a)| (k, (p, a))).collect();
        c.stores = stores.into_iter().collect();
        c.zones = zones.into_iter().map(|(z, s, until)| (z, (s, until))).collect();
        self.catalog = c;
    }

    /// Drop every cached state (partitions may have moved, or the Python rules wrote keys).
    fn forget(&mut self) {
        self.cache.clear();
        self.order.clear();
        self.msgs.clear();
        self.needs.clear();
    }

    fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Read the batch's messages ((partition, offset, key, value, headers, ...) each); the values it
    /// needs from RocksDB: [(partition, key, store's book prefix or None)], a book prefix marking a
    /// bucket (when it is absent, ``run`` wants the days that store's book holds). A string: the
    /// batch is the Python rules'.
    fn prepare<'py>(&mut self, py: Python<'py>, messages: &Bound<'py, PyList>, latest_us: i64) -> PyResult<PyObject> {
        self.msgs.clear();
        self.needs.clear();
        let mut seen: HashSet<String> = HashSet::new();
        let mut needs = Vec::new();
        for m in messages.iter() {
            let partition: i64 = m.get_item(0)?.extract()?;
            let key = m.get_item(2)?;
            let value = m.get_item(3)?;
            let Ok(value) = value.downcast::<PyBytes>() else {
                return self.decline(py, "a message without bytes".into());
            };
            let Ok((leg, digest)) = legs_and_digest(&m.get_item(4)?)? else {
                return self.decline(py, "a header that is not UTF-8".into());
            };
            let leg_in = match leg.as_deref() {
                None | Some("out") => false,
                Some("in") => true,
                Some(_) => {
                    return self.decline(py, "a leg header the core does not read".into());
                }
            };
            let digest = match digest {
                Some(d) if !d.is_empty() => d,
                _ => {
                    return self.decline(py, "a message without its digest header".into());
                }
            };
            let ev = match wire::parse(value.as_bytes(), latest_us) {
                Ok(ev) => ev,
                Err(why) => return self.decline(py, why),
            };
            if leg_in && ev.kind != Kind::Transfer {
                return self.decline(py, "an in leg of an event that is no transfer".into());
            }
            for op in key_ops(&ev, leg_in) {
                let k = format!("{}|{}", op.store, op.sku);
                if !self.cache.contains_key(&k) && seen.insert(k.clone()) {
                    needs.push((partition, k, false));
                }
            }
            if ev.is_void() {
                // every bucket a void may find its sale or itself in: the window and its grace, the
                // days a store idle for a while has not dropped yet, and an absent one so that
                // ``run`` is told the days the book holds (one outside the buckets read: the batch
                // is the Python rules')
                let received = ev.received_at.as_ref().unwrap_or(&ev.occurred_at).us;
                let day = received.div_euclid(US_PER_DAY);
                let first = day - self.void_window_days - GRACE_DAYS - 1 - IDLE_DAYS;
                for d in (first..=day + 1).chain(std::iter::once(NO_DAY)) {
                    let k = book_key(&ev.store_id, d);
                    if seen.insert(k.clone()) {
                        needs.push((partition, k, true));
                    }
                }
            }
            if ev.kind == Kind::Sale {
                let received = ev.received_at.as_ref().unwrap_or(&ev.occurred_at).us;
                let k = book_key(&ev.store_id, received.div_euclid(US_PER_DAY));
                if seen.insert(k.clone()) {
                    needs.push((partition, k, true));
                }
            }
            let key = if key.is_none() { None } else { Some(key.downcast::<PyBytes>()?.clone().unbind()) };
            self.msgs.push(Msg { partition, key, leg_in, digest, ev });
        }
        let out = PyList::empty(py);
        for (p, k, bucket) in &needs {
            let prefix: PyObject = if *bucket {
                let store = &k[1..k.rfind('|').unwrap()];
                PyBytes::new(py, book_prefix(store).as_bytes()).into_any().unbind()
            } else {
                py.None()
            };
            out.append(PyTuple::new(py, [p.into_pyobject(py)?.into_any().unbind(), PyBytes::new(py, k.as_bytes()).into_any().unbind(), prefix])?)?;
        }
        self.needs = needs;
        Ok(out.into_any().unbind())
    }

    /// Apply the prepared batch, given the values ``prepare`` asked for (bytes or None, in its
    /// order) and the days of each store whose bucket was absent ({book prefix: [day, ...]}).
    /// Returns (state writes [(partition, key, value or None)], records [(topic, partition, key,
    /// value)], events [(type, leg, n)], outcomes [(outcome, n)], alerts [(type, kind, n)],
    /// negative, flagged, stock keys written); or a string, and nothing changed: the batch is the
    /// Python rules'.
    fn run<'py>(&mut self, py: Python<'py>, values: &Bound<'py, PyList>, days: &Bound<'py, PyDict>) -> PyResult<PyObject> {
        let mut b = Batch::default();
        let needs = std::mem::take(&mut self.needs);
        if values.len() != needs.len() {
            self.forget();
            return Err(pyo3::exceptions::PyValueError::new_err("run: one value for each key prepare asked for"));
        }
        for ((_, k, bucket), v) in needs.into_iter().zip(values.iter()) {
            let raw = if v.is_none() { None } else { Some(v.downcast::<PyBytes>()?.as_bytes().to_vec()) };
            if bucket {
                b.fed_buckets.insert(k, raw);
            } else {
                b.fed.insert(k, raw);
            }
        }
        for (prefix, list) in days.iter() {
            let prefix: Vec<u8> = prefix.extract()?;
            let store = String::from_utf8_lossy(&prefix[1..prefix.len() - 1]).to_string();
            b.fed_days.insert(store, list.extract()?);
        }
        let msgs = std::mem::take(&mut self.msgs);
        for m in &msgs {
            if let Err(why) = self.apply(&mut b, m, py) {
                return self.decline(py, why);
            }
        }
        let writes = PyList::empty(py);
        let keys = b.states.len();
        for (k, (p, s)) in b.states {
            let value = state::encode(&s);
            writes.append((p, PyBytes::new(py, k.as_bytes()), PyBytes::new(py, &value)))?;
            self.remember(k, s);
        }
        for (k, (p, bucket)) in &b.buckets {
            let value: PyObject = match bucket {
                Some(bucket) => PyBytes::new(py, &bucket.to_json()).into_any().unbind(),
                None => py.None(),
            };
            writes.append((*p, PyBytes::new(py, k.as_bytes()), value))?;
        }
        let records = PyList::empty(py);
        for (topic, p, key, value) in b.records {
            records.append((topic, p, key, PyBytes::new(py, &value)))?;
        }
        let c = b.counts;
        let events: Vec<(&str, &str, i64)> = c.events.iter().map(|((t, l), n)| (*t, *l, *n)).collect();
        let outcomes: Vec<(&str, i64)> = c.outcomes.iter().map(|(o, n)| (*o, *n)).collect();
        let alerts: Vec<(String, String, i64)> = c.alerts.into_iter().map(|((t, k), n)| (t, k, n)).collect();
        let out = (writes, records, events, outcomes, alerts, c.negative, c.flagged, keys);
        Ok(out.into_pyobject(py)?.into_any().unbind())
    }
}

#[pymodule]
fn bazaar_batchcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    let _ = Outcome::ALL;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_print_as_the_ledger_prints_them() {
        assert_eq!(dec_text(1250), "1.25");
        assert_eq!(dec_text(1000), "1");
        assert_eq!(dec_text(-500), "-0.5");
        assert_eq!(dec_text(0), "0");
        assert_eq!(dec_text(-1), "-0.001");
    }

    #[test]
    fn amounts_print_as_decimal_text() {
        assert_eq!(amount_text(1_000_000).unwrap(), "10"); // 10 (10^-5 units)
        assert_eq!(amount_text(1_234_500).unwrap(), "12.345");
        assert_eq!(amount_text(0).unwrap(), "0");
        assert_eq!(amount_text(-50).unwrap(), "-0.0005");
        assert!(amount_text(10i128.pow(28)).is_err());
    }

    #[test]
    fn utc_instants_print_as_isoformat() {
        assert_eq!(utc_iso(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(utc_iso(1_790_000_000_123_456), "2026-09-21T14:13:20.123456+00:00");
        assert_eq!(utc_iso(951_782_400_000_000), "2000-02-29T00:00:00+00:00");
        assert_eq!(utc_iso(-1), "1969-12-31T23:59:59.999999+00:00");
    }

    #[test]
    fn a_bucket_is_written_as_orjson_writes_its_mapping() {
        let mut b = Bucket::stored(br#"{"a":["s",1,2,[["rice",500]],""],"b":["v",3,4,"a","applied"]}"#.to_vec());
        assert!(b.holds("a").unwrap());
        assert!(!b.holds("rice").unwrap()); // quoted in the bucket, but no record's id
        b.add("c", br#"["s",5,6,[],""]"#.to_vec()).unwrap();
        assert_eq!(b.to_json(), br#"{"a":["s",1,2,[["rice",500]],""],"b":["v",3,4,"a","applied"],"c":["s",5,6,[],""]}"#);
        let mut rec = b.get("a").unwrap().unwrap();
        rec[4] = Value::String("v1".into());
        b.replace("a", rec).unwrap(); // in its place
        b.add("d", br#"["s",7,8,[],""]"#.to_vec()).unwrap();
        assert_eq!(
            b.to_json(),
            br#"{"a":["s",1,2,[["rice",500]],"v1"],"b":["v",3,4,"a","applied"],"c":["s",5,6,[],""],"d":["s",7,8,[],""]}"#
        );
        assert_eq!(Bucket::default().to_json(), b"{}");
    }

    #[test]
    fn store_local_days_follow_the_zone_table() {
        let mut c = Catalog::default();
        c.stores.insert("s1".into(), "Asia/Karachi".into());
        c.zones.insert("Asia/Karachi".into(), (vec![(0, 5 * 3_600_000_000)], 10 * US_PER_DAY));
        // 1970-01-01T20:00Z is the 2nd in Karachi; a store not in the catalog keeps UTC days
        assert_eq!(c.local_day("s1", 20 * 3_600_000_000).unwrap(), ORDINAL_EPOCH + 1);
        assert_eq!(c.local_day("s9", 20 * 3_600_000_000).unwrap(), ORDINAL_EPOCH);
        assert!(c.local_day("s1", 11 * US_PER_DAY).is_err());
        assert!(c.local_day("s1", -1).is_err());
    }
}
