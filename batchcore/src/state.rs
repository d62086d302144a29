//! A (store, sku)'s state and its stored layouts (``streams/codec.py``): read LAYOUT_2 and
//! LAYOUT_3, write LAYOUT_3 (current) byte for byte as ``streams.codec.encode`` writes it. A value
//! in another layout (LAYOUT_1's one array, LAYOUT_4's spilled movements) is left to the Python
//! rules (``Err``).

use crate::json;
use indexmap::IndexMap;
use serde_json::Value;

pub type Res<T> = Result<T, String>;

#[derive(Clone, Debug)]
pub struct Move {
    pub at: i64,
    pub delta: i64,
    pub digest: String,
    pub before: i64,
    pub received: Option<i64>, // None: stored before receive times were kept (4 items)
}

impl Move {
    pub fn fold_key(&self) -> i64 {
        self.received.unwrap_or(self.at)
    }
}

#[derive(Clone, Debug)]
pub struct Trans {
    pub ty: String,
    pub kind: String,
    pub alert_id: String,
    pub on_hand: i64,
    pub threshold: String,
    pub velocity: Option<String>,
    pub cover: Option<String>,
    pub suggested: Option<String>,
    pub unit: Option<String>,
    pub clears: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Alerts {
    pub fired: IndexMap<String, String>,
    pub sales: IndexMap<i64, i64>,
    pub first_day: Option<i64>,
    pub recent: Vec<(String, Vec<Trans>)>,
}

#[derive(Clone, Debug, Default)]
pub struct State {
    pub count_at: Option<i64>,
    pub count_id: String,
    pub count_qty: i64,
    pub count_digest: String,
    pub count_before: i64,
    pub count_after: i64,
    pub base: i64,
    pub folded_until: Option<i64>,
    pub moves: IndexMap<String, Move>,
    pub updated_at: Option<i64>,
    pub alerts: Alerts,
    pub moved: i64,
    pub oldest: Option<i64>,
    pub horizon: Option<i64>,
}

impl State {
    pub fn on_hand(&self) -> i64 {
        self.count_qty + self.base + self.moved
    }
}

// ---- decode -----------------------------------------------------------------------------------

fn int(v: &Value) -> Res<i64> {
    v.as_i64().filter(|_| !v.is_f64()).ok_or_else(|| format!("not an integer: {v}"))
}

fn opt_int(v: &Value) -> Res<Option<i64>> {
    if v.is_null() {
        Ok(None)
    } else {
        int(v).map(Some)
    }
}

fn string(v: &Value) -> Res<String> {
    v.as_str().map(str::to_string).ok_or_else(|| format!("not a string: {v}"))
}

fn opt_string(v: &Value) -> Res<Option<String>> {
    if v.is_null() {
        Ok(None)
    } else {
        string(v).map(Some)
    }
}

fn arr(v: &Value) -> Res<&Vec<Value>> {
    v.as_array().ok_or_else(|| format!("not an array: {v}"))
}

fn decode_move(v: &Value) -> Res<Move> {
    let a = arr(v)?;
    if a.len() != 4 && a.len() != 5 {
        return Err("a movement of another shape".into());
    }
    Ok(Move {
        at: int(&a[0])?,
        delta: int(&a[1])?,
        digest: string(&a[2])?,
        before: int(&a[3])?,
        received: if a.len() == 5 { Some(int(&a[4])?) } else { None },
    })
}

pub fn decode_moves(raw: &[u8]) -> Res<IndexMap<String, Move>> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let o = v.as_object().ok_or("movements not an object")?;
    let mut out = IndexMap::with_capacity(o.len());
    for (k, m) in o {
        out.insert(k.clone(), decode_move(m)?);
    }
    Ok(out)
}

fn decode_trans(v: &Value) -> Res<Trans> {
    let a = arr(v)?;
    if a.len() != 10 {
        return Err("a transition of another shape".into());
    }
    Ok(Trans {
        ty: string(&a[0])?,
        kind: string(&a[1])?,
        alert_id: string(&a[2])?,
        on_hand: int(&a[3])?,
        threshold: string(&a[4])?,
        velocity: opt_string(&a[5])?,
        cover: opt_string(&a[6])?,
        suggested: opt_string(&a[7])?,
        unit: opt_string(&a[8])?,
        clears: opt_string(&a[9])?,
    })
}

fn decode_alerts(v: &Value) -> Res<Alerts> {
    let a = arr(v)?;
    if a.len() != 4 {
        return Err("alerts of another shape".into());
    }
    let mut out = Alerts::default();
    for (k, id) in a[0].as_object().ok_or("fired not an object")? {
        out.fired.insert(k.clone(), string(id)?);
    }
    match &a[1] {
        Value::Object(o) => {
            for (day, sold) in o {
                out.sales.insert(day.parse::<i64>().map_err(|e| e.to_string())?, int(sold)?);
            }
        }
        Value::Array(flat) => {
            if flat.len() % 2 != 0 {
                return Err("sales of odd length".into());
            }
            for pair in flat.chunks(2) {
                out.sales.insert(int(&pair[0])?, int(&pair[1])?);
            }
        }
        _ => return Err("sales".into()),
    }
    out.first_day = opt_int(&a[2])?;
    for r in arr(&a[3])? {
        let r = arr(r)?;
        if r.len() != 2 {
            return Err("recent of another shape".into());
        }
        let ts = arr(&r[1])?.iter().map(decode_trans).collect::<Res<Vec<_>>>()?;
        out.recent.push((string(&r[0])?, ts));
    }
    Ok(out)
}

/// The state a stored value holds (LAYOUT_2 or LAYOUT_3).
pub fn decode(data: &[u8]) -> Res<State> {
    let cut = data.iter().position(|&b| b == b'\n').ok_or("a layout without movements on a second line")?;
    let h: Value = serde_json::from_slice(&data[..cut]).map_err(|e| e.to_string())?;
    let f = arr(&h)?;
    if f.len() != 12 && f.len() != 13 {
        return Err("a header of another length".into());
    }
    Ok(State {
        count_at: opt_int(&f[0])?,
        count_id: string(&f[1])?,
        count_qty: int(&f[2])?,
        count_digest: string(&f[3])?,
        count_before: int(&f[4])?,
        count_after: int(&f[5])?,
        base: int(&f[6])?,
        folded_until: opt_int(&f[7])?,
        updated_at: opt_int(&f[8])?,
        alerts: decode_alerts(&f[9])?,
        moved: int(&f[10])?,
        oldest: opt_int(&f[11])?,
        horizon: if f.len() == 13 { opt_int(&f[12])? } else { None },
        moves: decode_moves(&data[cut + 1..])?,
    })
}

// ---- encode -----------------------------------------------------------------------------------

fn trans_json(out: &mut Vec<u8>, t: &Trans) {
    out.push(b'[');
    json::str(out, &t.ty);
    out.push(b',');
    json::str(out, &t.kind);
    out.push(b',');
    json::str(out, &t.alert_id);
    out.push(b',');
    json::int(out, t.on_hand);
    out.push(b',');
    json::str(out, &t.threshold);
    for s in [&t.velocity, &t.cover, &t.suggested, &t.unit, &t.clears] {
        out.push(b',');
        json::opt_str(out, s.as_deref());
    }
    out.push(b']');
}

pub fn move_json(out: &mut Vec<u8>, m: &Move) {
    out.push(b'[');
    json::int(out, m.at);
    out.push(b',');
    json::int(out, m.delta);
    out.push(b',');
    json::str(out, &m.digest);
    out.push(b',');
    json::int(out, m.before);
    if let Some(r) = m.received {
        out.push(b',');
        json::int(out, r);
    }
    out.push(b']');
}

/// ``streams.codec.encode``: the header, a newline, the movements.
pub fn encode(s: &State) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + 80 * s.moves.len());
    out.push(b'[');
    json::opt_int(&mut out, s.count_at);
    out.push(b',');
    json::str(&mut out, &s.count_id);
    out.push(b',');
    json::int(&mut out, s.count_qty);
    out.push(b',');
    json::str(&mut out, &s.count_digest);
    for v in [s.count_before, s.count_after, s.base] {
        out.push(b',');
        json::int(&mut out, v);
    }
    out.push(b',');
    json::opt_int(&mut out, s.folded_until);
    out.push(b',');
    json::opt_int(&mut out, s.updated_at);
    out.extend_from_slice(b",[{");
    let a = &s.alerts;
    for (i, (k, v)) in a.fired.iter().enumerate() {
        json::key(&mut out, i == 0, k);
        json::str(&mut out, v);
    }
    out.extend_from_slice(b"},[");
    for (i, (d, n)) in a.sales.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::int(&mut out, *d);
        out.push(b',');
        json::int(&mut out, *n);
    }
    out.extend_from_slice(b"],");
    json::opt_int(&mut out, a.first_day);
    out.extend_from_slice(b",[");
    for (i, (key, ts)) in a.recent.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        json::str(&mut out, key);
        out.extend_from_slice(b",[");
        for (j, t) in ts.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            trans_json(&mut out, t);
        }
        out.extend_from_slice(b"]]");
    }
    out.extend_from_slice(b"]],");
    json::int(&mut out, s.moved);
    out.push(b',');
    json::opt_int(&mut out, s.oldest);
    out.push(b',');
    json::opt_int(&mut out, s.horizon);
    out.extend_from_slice(b"]\n{");
    for (i, (k, m)) in s.moves.iter().enumerate() {
        json::key(&mut out, i == 0, k);
        move_json(&mut out, m);
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUT_3: &[u8] = b"[1000,\"c1\",5000,\"d1\",0,5000,-250,900,2000,[{\"low_stock\":\"a1\"},[20400,1500,20401,500],20400,[[\"e1|out\",[[\"alert\",\"low_stock\",\"a1\",4000,\"5\",\"1.000\",\"4.000\",\"6\",\"carton\",null]]]]],-750,1500,1400]\n{\"m1\":[1100,-500,\"d2\",5000,1500],\"m2\":[1200,-250,\"d3\",4500,1600]}";

    #[test]
    fn the_current_layout_reads_and_writes_back_byte_for_byte() {
        let s = decode(LAYOUT_3).unwrap();
        assert_eq!(s.on_hand(), 5000 - 250 - 750);
        assert_eq!(s.horizon, Some(1400));
        assert_eq!(s.alerts.recent[0].1[0].unit.as_deref(), Some("carton"));
        assert_eq!(encode(&s), LAYOUT_3);
    }

    #[test]
    fn the_layout_before_the_horizon_reads_and_is_written_in_the_current_one() {
        // 12 header fields, sales by day in an object, movements of 4 items
        let old = b"[1000,\"c1\",5000,\"\",0,5000,0,null,2000,[{},{\"20400\":1500},20400,[]],-500,1100]\n{\"m1\":[1100,-500,\"d2\",5000]}";
        let s = decode(old).unwrap();
        assert_eq!(s.horizon, None);
        assert_eq!(s.moves["m1"].received, None);
        assert_eq!(s.moves["m1"].fold_key(), 1100);
        let new = encode(&s);
        assert_eq!(
            new,
            b"[1000,\"c1\",5000,\"\",0,5000,0,null,2000,[{},[20400,1500],20400,[]],-500,1100,null]\n{\"m1\":[1100,-500,\"d2\",5000]}"
        );
    }

    #[test]
    fn other_layouts_are_left_to_python() {
        assert!(decode(b"[null,\"\",0,\"\",0,0,0,null,null,{},[{},[],null,[]],0,null]").is_err()); // LAYOUT_1
        assert!(decode(b"[null,\"\",0,\"\",0,0,0,null,null,[{},[],null,[]],0,null,null,3]").is_err()); // LAYOUT_4
    }

    #[test]
    fn a_new_state_encodes_as_python_encodes_one() {
        assert_eq!(encode(&State::default()), b"[null,\"\",0,\"\",0,0,0,null,null,[{},[],null,[]],0,null,null]\n{}");
    }
}
