//! The stock rules (``domain/stock.py``) and the alert rules (``domain/alerts.py``), statement for
//! statement; the Python modules are the specification (tests/unit/test_batchcore_equivalence.py runs both).

use crate::dec::Dec;
use crate::state::{Alerts, Move, State, Trans};
use sha1::{Digest, Sha1};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Applied,
    Duplicate,
    Conflict,
    BeforeCount,
    StaleCount,
    BeyondWindow,
    NotApplied,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Conflict => "conflict",
            Outcome::BeforeCount => "before_count",
            Outcome::StaleCount => "stale_count",
            Outcome::BeyondWindow => "beyond_window",
            Outcome::NotApplied => "not_applied",
        }
    }
    pub const ALL: [Outcome; 7] = [
        Outcome::Applied,
        Outcome::Duplicate,
        Outcome::Conflict,
        Outcome::BeforeCount,
        Outcome::StaleCount,
        Outcome::BeyondWindow,
        Outcome::NotApplied,
    ];
}

#[derive(Clone, Copy, Debug)]
pub struct Res {
    pub outcome: Outcome,
    pub before: i64,
    pub after: i64,
}

impl Res {
    pub fn changed(&self) -> bool {
        self.outcome != Outcome::Conflict && self.before != self.after
    }
    pub fn went_negative(&self) -> bool {
        matches!(self.outcome, Outcome::Applied | Outcome::BeyondWindow) && self.after < 0 && 0 <= self.before
    }
}

fn horizon_of(s: &State) -> Option<i64> {
    if s.horizon.is_some() {
        return s.horizon;
    }
    s.folded_until.map(|f| f + 1)
}

fn pin_horizon(s: &mut State) -> Option<i64> {
    s.horizon = horizon_of(s);
    s.horizon
}

fn recount(s: &mut State) {
    s.moved = s.moves.values().map(|m| m.delta).sum();
    s.oldest = s.moves.values().map(Move::fold_key).min();
}

fn fold(s: &mut State, horizon: i64) {
    let horizon = match s.horizon {
        Some(c) if c > horizon => c,
        _ => horizon,
    };
    if s.oldest.is_some_and(|o| o < horizon) {
        let (mut base, mut folded) = (s.base, s.folded_until);
        s.moves.retain(|_, m| {
            if m.fold_key() < horizon {
                base += m.delta;
                if folded.is_none_or(|f| m.at > f) {
                    folded = Some(m.at);
                }
                false
            } else {
                true
            }
        });
        s.base = base;
        s.folded_until = folded;
        recount(s);
    }
    s.horizon = Some(horizon);
}

pub fn apply_movement(s: &mut State, event_id: &str, at: i64, delta: i64, digest: &str, received: i64, window: i64) -> Res {
    let before = s.on_hand();
    if let Some(seen) = s.moves.get(event_id) {
        if seen.digest == digest {
            return Res { outcome: Outcome::Duplicate, before: seen.before, after: seen.before + seen.delta };
        }
        return Res { outcome: Outcome::Conflict, before, after: before };
    }
    if s.count_at.is_some_and(|c| at <= c) {
        return Res { outcome: Outcome::BeforeCount, before, after: before };
    }
    let mut late = s.folded_until.is_some_and(|f| at <= f);
    let horizon = pin_horizon(s);
    if horizon.is_some_and(|h| received < h) {
        s.base += delta;
        if s.folded_until.is_none_or(|f| at > f) {
            s.folded_until = Some(at);
        }
        late = true;
    } else {
        s.moves.insert(event_id.to_string(), Move { at, delta, digest: digest.to_string(), before, received: Some(received) });
        s.moved += delta;
        if s.oldest.is_none_or(|o| received < o) {
            s.oldest = Some(received);
        }
    }
    fold(s, received - window);
    s.updated_at = Some(received);
    Res { outcome: if late { Outcome::BeyondWindow } else { Outcome::Applied }, before, after: s.on_hand() }
}

pub fn apply_count(s: &mut State, event_id: &str, at: i64, quantity: i64, digest: &str, received: i64, window: i64) -> Res {
    let before = s.on_hand();
    if let Some(c) = s.count_at {
        if (at, event_id) <= (c, s.count_id.as_str()) {
            if event_id == s.count_id {
                if digest == s.count_digest {
                    return Res { outcome: Outcome::Duplicate, before: s.count_before, after: s.count_after };
                }
                return Res { outcome: Outcome::Conflict, before, after: before };
            }
            return Res { outcome: Outcome::StaleCount, before, after: before };
        }
    }
    if s.folded_until.is_some_and(|f| at < f) {
        return Res { outcome: Outcome::StaleCount, before, after: before };
    }
    pin_horizon(s);
    s.count_at = Some(at);
    s.count_id = event_id.to_string();
    s.count_qty = quantity;
    s.count_digest = digest.to_string();
    s.count_before = before;
    s.moves.retain(|_, m| m.at > at);
    recount(s);
    s.base = 0;
    s.folded_until = None;
    fold(s, received - window);
    s.updated_at = Some(received);
    s.count_after = s.on_hand();
    Res { outcome: Outcome::Applied, before, after: s.count_after }
}

// ---- alerts -------------------------------------------------------------------------------------

pub const KINDS: [&str; 4] = ["negative_stock", "out_of_stock", "low_stock", "running_out"];
const RECENT_EVENTS: usize = 16;
const NS: [u8; 16] = [0x6b, 0x3f, 0x7a, 0x52, 0x0a, 0x1e, 0x4c, 0x55, 0x9d, 0x7e, 0x3c, 0x2a, 0x1f, 0x0b, 0x9e, 0x11];

#[derive(Clone, Debug, Default)]
pub struct Thresholds {
    pub reorder_point: Option<i64>,
    pub lead_time_days: Option<i64>,
    pub reorder_min: Option<i64>,
    pub reorder_max: Option<i64>,
    pub pack_size: Option<i64>,
    pub pack_unit: Option<String>,
}

/// ``domain.alerts.alert_uuid``: uuid5 of the name in the alerts' namespace.
pub fn alert_uuid(name: &str) -> String {
    let mut h = Sha1::new();
    h.update(NS);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0F) | 0x50;
    b[8] = (b[8] & 0x3F) | 0x80;
    let x: String = b.iter().map(|v| format!("{v:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &x[..8], &x[8..12], &x[12..16], &x[16..20], &x[20..])
}

fn record_sale(a: &mut Alerts, day: i64, sold: i64, window_days: i64) {
    let known = a.sales.contains_key(&day);
    *a.sales.entry(day).or_insert(0) += sold;
    if a.first_day.is_none_or(|f| day < f) {
        a.first_day = Some(day);
    }
    if known {
        return;
    }
    let newest = *a.sales.keys().max().unwrap();
    a.sales.retain(|d, _| *d > newest - window_days);
}

fn sold(a: &Alerts, window_days: i64) -> (i64, i64) {
    let newest = *a.sales.keys().max().unwrap();
    let first = a.first_day.unwrap_or(newest);
    (a.sales.values().sum(), 1.max(window_days.min(newest - first + 1)))
}

fn velocity(a: &Alerts, window_days: i64) -> Option<Dec> {
    if a.sales.is_empty() {
        return None;
    }
    let (s, days) = sold(a, window_days);
    Some(Dec::from_i128(s as i128).div(&Dec::from_i128(1000)).div(&Dec::from_i128(days as i128)))
}

fn conditions(a: &Alerts, on_hand: i64, l: &Thresholds, window_days: i64) -> [bool; 4] {
    let mut running = false;
    if let Some(lead) = l.lead_time_days {
        if on_hand > 0 && !a.sales.is_empty() {
            let (s, days) = sold(a, window_days);
            running = s > 0 && (on_hand as i128) * (days as i128) < (lead as i128) * (s as i128);
        }
    }
    let low = l.reorder_point.is_some_and(|p| on_hand <= p);
    [on_hand < 0, on_hand <= 0, low, running]
}

fn threshold(kind: &str, l: &Thresholds) -> String {
    if kind == "low_stock" {
        if let Some(p) = l.reorder_point {
            return Dec::from_i128(p as i128).div(&Dec::from_i128(1000)).to_sci_string();
        }
    }
    if kind == "running_out" {
        if let Some(d) = l.lead_time_days {
            return d.to_string();
        }
    }
    "0".into()
}

fn suggest(on_hand: i64, l: &Thresholds, vel: &Option<Dec>) -> Option<Dec> {
    let d = |v: i64| Dec::from_i128(v as i128);
    let target = if let Some(max) = l.reorder_max {
        d(max)
    } else if let Some(point) = l.reorder_point {
        let demand = match (vel, l.lead_time_days) {
            (Some(v), Some(lead)) if !v.is_zero() && lead != 0 => v.mul(&d(lead)).mul(&d(1000)),
            _ => d(0),
        };
        d(point).add(&demand)
    } else {
        return None;
    };
    // max(target - on_hand, reorder_min or 0, 0): the first of equals, as Python's max keeps it
    let mut need = target.sub(&d(on_hand));
    for other in [d(l.reorder_min.unwrap_or(0)), d(0)] {
        if other.cmp_num(&need) == std::cmp::Ordering::Greater {
            need = other;
        }
    }
    if need.is_zero() {
        return None;
    }
    let pack = d(match l.pack_size {
        Some(p) if p != 0 => p,
        _ => 1000,
    });
    let packs = need.div(&pack).to_integral_ceiling();
    Some(packs.mul(&pack).div(&d(1000)).normalize())
}

fn q3(v: &Option<Dec>) -> Result<Option<String>, String> {
    match v {
        None => Ok(None),
        Some(v) => v.quantize(-3).map(|q| Some(q.to_sci_string())).ok_or_else(|| "a figure too large to quantize".to_string()),
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    a: &mut Alerts,
    store: &str,
    sku: &str,
    on_hand: i64,
    l: &Thresholds,
    event_key: &str,
    window_days: i64,
) -> Result<Vec<Trans>, String> {
    let holds = conditions(a, on_hand, l, window_days);
    if a.fired.is_empty() && !holds.iter().any(|h| *h) {
        return Ok(Vec::new());
    }
    let changes: Vec<(&str, bool)> =
        KINDS.iter().zip(holds).filter(|(k, active)| *active != a.fired.contains_key(**k)).map(|(k, h)| (*k, h)).collect();
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let vel = velocity(a, window_days);
    let cover = match &vel {
        Some(v) if !v.is_zero() => Some(Dec::from_i128(on_hand as i128).div(&Dec::from_i128(1000)).div(v)),
        _ => None,
    };
    let (vel_q, cover_q) = (q3(&vel)?, q3(&cover)?);
    let suggestion = if changes.iter().any(|(_, active)| *active) { suggest(on_hand, l, &vel) } else { None };
    let mut out = Vec::with_capacity(changes.len());
    for (kind, active) in changes {
        let word = if active { "alert" } else { "cleared" };
        let alert_id = alert_uuid(&format!("{store}|{sku}|{kind}|{event_key}|{word}"));
        let suggested = if active { suggestion.clone() } else { None };
        let clears = if active { None } else { a.fired.shift_remove(kind) };
        let truthy = suggested.as_ref().is_some_and(|s| !s.is_zero());
        out.push(Trans {
            ty: word.into(),
            kind: kind.into(),
            alert_id: alert_id.clone(),
            on_hand,
            threshold: threshold(kind, l),
            velocity: vel_q.clone(),
            cover: cover_q.clone(),
            suggested: suggested.map(|s| s.to_sci_string()),
            unit: if truthy { l.pack_unit.clone() } else { None },
            clears,
        });
        if active {
            a.fired.insert(kind.to_string(), alert_id);
        }
    }
    a.recent.push((event_key.to_string(), out.clone()));
    if a.recent.len() > RECENT_EVENTS {
        let cut = a.recent.len() - RECENT_EVENTS;
        a.recent.drain(..cut);
    }
    Ok(out)
}

/// ``domain.alerts.after_apply``.
#[allow(clippy::too_many_arguments)]
pub fn after_apply(
    a: &mut Alerts,
    sale: bool,
    outcome: Outcome,
    store: &str,
    sku: &str,
    quantity: i64,
    on_hand: i64,
    l: &Thresholds,
    day: i64,
    event_key: &str,
    window_days: i64,
) -> Result<Vec<Trans>, String> {
    match outcome {
        Outcome::Duplicate => {
            Ok(a.recent.iter().find(|(k, _)| k == event_key).map(|(_, ts)| ts.clone()).unwrap_or_default())
        }
        Outcome::Conflict => Ok(Vec::new()),
        _ => {
            if sale {
                record_sale(a, day, -quantity, window_days);
            }
            evaluate(a, store, sku, on_hand, l, event_key, window_days)
        }
    }
}
