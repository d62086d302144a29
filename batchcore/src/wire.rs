//! The event contract (``schemas/events.py``) read from the wire, for what the API writes.
//!
//! The core never refuses a message: whatever it is not sure pydantic accepts exactly as it reads it
//! here (another spelling of a time, a number where the API writes a decimal string, a void, ...)
//! is ``Err`` and the whole batch goes to the Python rules, which accept it or dead-letter it with
//! the contract's own error. So every ``Ok`` is an event ``schemas.events.from_wire`` accepts, with
//! the same values.

use serde_json::{Map, Value};

pub type Res<T> = Result<T, String>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Sale,
    Purchase,
    Return,
    Adjustment,
    Count,
    Transfer,
}

impl Event {
    /// A return that voids a sale (``schemas.events.Return.is_void``).
    pub fn is_void(&self) -> bool {
        self.kind == Kind::Return && self.reason.as_deref() == Some("void")
    }
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sale => "sale",
            Kind::Purchase => "purchase",
            Kind::Return => "return",
            Kind::Adjustment => "adjustment",
            Kind::Count => "count",
            Kind::Transfer => "transfer",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Time {
    pub us: i64,     // microseconds since the epoch (UTC)
    pub iso: String, // datetime.isoformat() of the parsed value
}

/// A decimal read from a plain string: ``units`` of 10^-``places``.
#[derive(Clone, Copy, Debug)]
pub struct Fixed {
    pub units: i128,
    pub places: u32,
}

#[derive(Clone, Debug)]
pub struct Line {
    pub sku: String,
    pub milli: i64,            // quantity in milli-units
    pub quantity: Fixed,       // quantity as a decimal (3 places)
    pub entered: Option<Fixed>, // entered_quantity
    pub price: Option<Fixed>,  // unit_price or unit_cost (2 places)
    pub reason: Option<String>, // an adjustment line's own reason
}

#[derive(Clone, Debug)]
pub struct Event {
    pub kind: Kind,
    pub event_id: String,
    pub store_id: String,
    pub terminal_id: String,
    pub occurred_at: Time,
    pub received_at: Option<Time>,
    pub actor: Option<String>,
    pub supplier: Option<String>,
    pub to_store_id: Option<String>,
    pub reason: Option<String>,
    pub original_event_id: Option<String>,
    pub lines: Vec<Line>,
}

const MAX_LINES: usize = 200;
const EARLIEST_US: i64 = 946_684_800_000_000; // 2000-01-01T00:00:00Z

fn is_id(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 64 || !b[0].is_ascii_alphanumeric() {
        return false;
    }
    b[1..].iter().all(|&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b':' || c == b'-')
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                c == b'-'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
            }
        })
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn req_str<'a>(o: &'a Map<String, Value>, k: &str) -> Res<&'a str> {
    match o.get(k) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(format!("{k}: not a string")),
    }
}

fn opt_str<'a>(o: &'a Map<String, Value>, k: &str) -> Res<Option<&'a str>> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        _ => Err(format!("{k}: not a string")),
    }
}

/// ``-?[0-9]{1,whole}(\.[0-9]{1,places})?`` (the contract's plain decimal), as units of 10^-places.
fn plain(s: &str, whole: usize, places: u32, signed: bool) -> Res<Fixed> {
    let b = s.as_bytes();
    let (neg, body) = if signed && b.first() == Some(&b'-') { (true, &b[1..]) } else { (false, b) };
    let dot = body.iter().position(|&c| c == b'.');
    let (int, frac) = match dot {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &body[body.len()..]),
    };
    if int.is_empty() || int.len() > whole || !int.iter().all(u8::is_ascii_digit) {
        return Err(format!("not a plain decimal: {s:?}"));
    }
    if dot.is_some() && (frac.is_empty() || frac.len() > places as usize || !frac.iter().all(u8::is_ascii_digit)) {
        return Err(format!("not a plain decimal: {s:?}"));
    }
    let mut units: i128 = 0;
    for &c in int {
        units = units * 10 + (c - b'0') as i128;
    }
    for i in 0..places as usize {
        units = units * 10 + frac.get(i).map_or(0, |c| (c - b'0') as i128);
    }
    Ok(Fixed { units: if neg { -units } else { units }, places })
}

fn decimal(o: &Map<String, Value>, k: &str, whole: usize, places: u32, signed: bool) -> Res<Option<Fixed>> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => plain(s, whole, places, signed).map(Some),
        _ => Err(format!("{k}: not a decimal string")),
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn num(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |a, &c| a * 10 + (c - b'0') as i64))
}

/// ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)``, inside the contract's bounds.
fn time(s: &str, latest_us: i64) -> Res<Time> {
    let b = s.as_bytes();
    let bad = || format!("time not in the API's form: {s:?}");
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (y, mo, d) = (num(&b[0..4]).ok_or_else(bad)?, num(&b[5..7]).ok_or_else(bad)?, num(&b[8..10]).ok_or_else(bad)?);
    let (h, mi, se) = (num(&b[11..13]).ok_or_else(bad)?, num(&b[14..16]).ok_or_else(bad)?, num(&b[17..19]).ok_or_else(bad)?);
    let mut i = 19;
    let mut micro = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let n = j - start;
        if n == 0 || n > 6 {
            return Err(bad());
        }
        micro = num(&b[start..j]).ok_or_else(bad)? * 10i64.pow((6 - n) as u32);
        i = j;
    }
    let offset_min = match &b[i..] {
        b"Z" => 0,
        rest if rest.len() == 6 && (rest[0] == b'+' || rest[0] == b'-') && rest[3] == b':' => {
            let oh = num(&rest[1..3]).ok_or_else(bad)?;
            let om = num(&rest[4..6]).ok_or_else(bad)?;
            if oh > 23 || om > 59 || (oh == 0 && om == 0 && rest[0] == b'-') {
                return Err(bad());
            }
            let v = oh * 60 + om;
            if rest[0] == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return Err(bad()),
    };
    let mdays = [31, if leap(y) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > mdays[(mo - 1) as usize] || h > 23 || mi > 59 || se > 59 {
        return Err(bad());
    }
    let local = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + se;
    let us = (local - offset_min * 60) * 1_000_000 + micro;
    if us < EARLIEST_US || us > latest_us {
        return Err(format!("time out of the contract's range, or too near its bound: {s:?}"));
    }
    let mut iso = String::with_capacity(32);
    iso.push_str(&s[..19]);
    if micro != 0 {
        iso.push_str(&format!(".{micro:06}"));
    }
    if offset_min == 0 {
        iso.push_str("+00:00");
    } else {
        iso.push_str(std::str::from_utf8(&b[i..]).unwrap());
    }
    Ok(Time { us, iso })
}

const ADJUSTMENT_REASONS: [&str; 5] = ["damage", "expiry", "theft", "own_use", "correction"];
const MAX_LINE_MILLI: i128 = 1_000_000_000; // MAX_LINE_QUANTITY in milli-units
const MAX_UNIT_CENTS: i128 = 1_000_000_000; // MAX_UNIT_MONEY in paisa

/// The event in ``value``, or why the Python rules must read it. ``latest_us``: the latest time the
/// contract accepts now, less a margin (a time near the bound is read by the contract itself).
pub fn parse(value: &[u8], latest_us: i64) -> Res<Event> {
    let v: Value = serde_json::from_slice(value).map_err(|e| format!("not JSON the core reads: {e}"))?;
    let o = match &v {
        Value::Object(o) => o,
        _ => return Err("not an object".into()),
    };
    match o.get("v") {
        None => {}
        Some(Value::Number(n)) if n.as_i64() == Some(1) && !n.is_f64() => {}
        _ => return Err("v is not 1".into()),
    }
    let kind = match req_str(o, "type")? {
        "sale" => Kind::Sale,
        "purchase" => Kind::Purchase,
        "return" => Kind::Return,
        "adjustment" => Kind::Adjustment,
        "count" => Kind::Count,
        "transfer" => Kind::Transfer,
        _ => return Err("unknown type".into()),
    };
    let event_id = req_str(o, "event_id")?;
    if !is_uuid(event_id) {
        return Err("event_id not a lowercase uuid".into());
    }
    let store_id = req_str(o, "store_id")?;
    if !is_id(store_id) {
        return Err("store_id".into());
    }
    let terminal_id = req_str(o, "terminal_id")?;
    if terminal_id.is_empty() || chars(terminal_id) > 64 {
        return Err("terminal_id".into());
    }
    let occurred_at = time(req_str(o, "occurred_at")?, latest_us)?;
    let received_at = match opt_str(o, "received_at")? {
        Some(s) => Some(time(s, latest_us)?),
        None => None,
    };
    let actor = opt_str(o, "actor")?;
    if actor.is_some_and(|a| chars(a) > 64) {
        return Err("actor".into());
    }
    if opt_str(o, "note")?.is_some_and(|n| chars(n) > 500) {
        return Err("note".into());
    }
    let mut ev = Event {
        kind,
        event_id: event_id.to_string(),
        store_id: store_id.to_string(),
        terminal_id: terminal_id.to_string(),
        occurred_at,
        received_at,
        actor: actor.map(str::to_string),
        supplier: None,
        to_store_id: None,
        reason: None,
        original_event_id: None,
        lines: Vec::new(),
    };
    match kind {
        Kind::Purchase => {
            let s = req_str(o, "supplier")?;
            if s.is_empty() || chars(s) > 120 {
                return Err("supplier".into());
            }
            ev.supplier = Some(s.to_string());
        }
        Kind::Transfer => {
            let t = req_str(o, "to_store_id")?;
            if !is_id(t) || t == store_id {
                return Err("to_store_id".into());
            }
            ev.to_store_id = Some(t.to_string());
        }
        Kind::Return => {
            let reason = opt_str(o, "reason")?;
            if !matches!(reason, None | Some("customer_return") | Some("void")) {
                return Err("reason".into());
            }
            if let Some(orig) = opt_str(o, "original_event_id")? {
                if !is_uuid(orig) {
                    return Err("original_event_id".into());
                }
                ev.original_event_id = Some(orig.to_string());
            }
            if reason == Some("void") && ev.original_event_id.is_none() {
                return Err("a void without original_event_id".into());
            }
            ev.reason = opt_str(o, "reason")?.map(str::to_string);
        }
        Kind::Adjustment => {
            let r = opt_str(o, "reason")?;
            if r.is_some_and(|r| !ADJUSTMENT_REASONS.contains(&r)) {
                return Err("reason".into());
            }
            ev.reason = r.map(str::to_string);
        }
        _ => {}
    }
    let lines = match o.get("lines") {
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_LINES => a,
        _ => return Err("lines".into()),
    };
    for line in lines {
        let l = match line {
            Value::Object(l) => l,
            _ => return Err("line not an object".into()),
        };
        let sku = req_str(l, "sku")?;
        if !is_id(sku) {
            return Err("sku".into());
        }
        let signed = kind == Kind::Adjustment;
        let q = decimal(l, "quantity", 12, 3, signed)?.ok_or("quantity missing")?;
        let ok = match kind {
            Kind::Count => q.units >= 0,
            Kind::Adjustment => q.units != 0,
            _ => q.units > 0,
        };
        if !ok {
            return Err("quantity sign".into());
        }
        let unit = opt_str(l, "unit")?;
        if unit.is_some_and(|u| u.is_empty() || chars(u) > 24) {
            return Err("unit".into());
        }
        let entered_unit = opt_str(l, "entered_unit")?;
        if entered_unit.is_some_and(|u| chars(u) > 24) {
            return Err("entered_unit".into());
        }
        // _Line._bounded checks only a base-unit quantity; the core reads only bounded ones
        if q.units.abs() > MAX_LINE_MILLI {
            return Err("quantity beyond the line bound".into());
        }
        let entered = decimal(l, "entered_quantity", 12, 3, true)?;
        let price = match kind {
            Kind::Sale | Kind::Return => decimal(l, "unit_price", 13, 2, false)?,
            Kind::Purchase => decimal(l, "unit_cost", 13, 2, false)?,
            _ => None,
        };
        if price.is_none() && matches!(kind, Kind::Sale | Kind::Purchase) {
            return Err("price missing".into());
        }
        if price.is_some_and(|p| p.units > MAX_UNIT_CENTS) {
            return Err("price beyond the bound".into());
        }
        let mut reason = None;
        if kind == Kind::Adjustment {
            let r = opt_str(l, "reason")?;
            if r.is_some_and(|r| !ADJUSTMENT_REASONS.contains(&r)) {
                return Err("line reason".into());
            }
            let effective = r.or(ev.reason.as_deref());
            match effective {
                None => return Err("adjustment reason missing".into()),
                Some(e) if e != "correction" && q.units > 0 => return Err("adjustment sign".into()),
                _ => {}
            }
            reason = r.map(str::to_string);
        }
        ev.lines.push(Line { sku: sku.to_string(), milli: q.units as i64, quantity: q, entered, price, reason });
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn times() {
        let t = time("2026-11-22T09:30:00+05:00", i64::MAX).unwrap();
        assert_eq!(t.iso, "2026-11-22T09:30:00+05:00");
        let t = time("2026-01-01T10:00:00.5Z", i64::MAX).unwrap();
        assert_eq!(t.iso, "2026-01-01T10:00:00.500000+00:00");
        assert_eq!(time("2000-01-01T00:00:00Z", i64::MAX).unwrap().us, EARLIEST_US);
    }
}
