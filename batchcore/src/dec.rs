//! Python's ``decimal.Decimal`` arithmetic, as far as the alert rules use it (``domain/alerts.py``):
//! the default context (28 significant digits, ROUND_HALF_EVEN), division, multiplication,
//! addition, comparison, ``quantize``, ``to_integral_value(ROUND_CEILING)``, ``normalize`` and
//! ``str``. Every figure an alert carries is printed from these, so they follow the General Decimal
//! Arithmetic specification (which CPython's libmpdec implements) digit for digit.

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};
use std::cmp::Ordering;

const PREC: usize = 28;

#[derive(Clone, Debug)]
pub struct Dec {
    pub neg: bool,
    pub coeff: BigUint,
    pub exp: i64,
}

fn pow10(n: u64) -> BigUint {
    BigUint::from(10u32).pow(n as u32)
}

fn ndigits(c: &BigUint) -> usize {
    if c.is_zero() {
        return 1;
    }
    match c.to_u128() {
        Some(v) => {
            let mut n = 1;
            let mut x = v;
            while x >= 10 {
                x /= 10;
                n += 1;
            }
            n
        }
        None => c.to_str_radix(10).len(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Round {
    HalfEven,
    Ceiling,
}

/// Drop the last ``drop`` digits of ``coeff`` (of sign ``neg``), rounding as asked.
fn round_off(neg: bool, coeff: &BigUint, drop: u64, how: Round) -> BigUint {
    if drop == 0 {
        return coeff.clone();
    }
    let unit = pow10(drop);
    let (q, r) = coeff.div_rem(&unit);
    if r.is_zero() {
        return q;
    }
    let up = match how {
        Round::Ceiling => !neg,
        Round::HalfEven => {
            let twice = &r * 2u32;
            match twice.cmp(&unit) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => q.is_odd(),
            }
        }
    };
    if up {
        q + 1u32
    } else {
        q
    }
}

impl Dec {
    pub fn from_i128(v: i128) -> Dec {
        Dec { neg: v < 0, coeff: BigUint::from(v.unsigned_abs()), exp: 0 }
    }

    pub fn is_zero(&self) -> bool {
        self.coeff.is_zero()
    }

    /// Rounded to the context's precision (``Decimal._fix``; exponent limits are never reached here).
    fn fix(mut self) -> Dec {
        if self.coeff.is_zero() {
            return self;
        }
        let len = ndigits(&self.coeff);
        if len <= PREC {
            return self;
        }
        let drop = (len - PREC) as u64;
        let mut c = round_off(self.neg, &self.coeff, drop, Round::HalfEven);
        self.exp += drop as i64;
        if ndigits(&c) > PREC {
            c /= 10u32;
            self.exp += 1;
        }
        self.coeff = c;
        self
    }

    pub fn div(&self, o: &Dec) -> Dec {
        let neg = self.neg ^ o.neg;
        if self.coeff.is_zero() {
            return Dec { neg, coeff: BigUint::zero(), exp: self.exp - o.exp }.fix();
        }
        let shift = ndigits(&o.coeff) as i64 - ndigits(&self.coeff) as i64 + PREC as i64 + 1;
        let mut exp = self.exp - o.exp - shift;
        let (mut coeff, rem) = if shift >= 0 {
            (&self.coeff * pow10(shift as u64)).div_rem(&o.coeff)
        } else {
            self.coeff.div_rem(&(&o.coeff * pow10((-shift) as u64)))
        };
        if !rem.is_zero() {
            if (&coeff % 5u32).is_zero() {
                coeff += 1u32;
            }
        } else {
            let ideal = self.exp - o.exp;
            while exp < ideal && (&coeff % 10u32).is_zero() {
                coeff /= 10u32;
                exp += 1;
            }
        }
        Dec { neg, coeff, exp }.fix()
    }

    pub fn mul(&self, o: &Dec) -> Dec {
        Dec { neg: self.neg ^ o.neg, coeff: &self.coeff * &o.coeff, exp: self.exp + o.exp }.fix()
    }

    fn rescale(&self, exp: i64, how: Round) -> Dec {
        if self.coeff.is_zero() {
            return Dec { neg: self.neg, coeff: BigUint::zero(), exp };
        }
        if self.exp >= exp {
            return Dec { neg: self.neg, coeff: &self.coeff * pow10((self.exp - exp) as u64), exp };
        }
        let digits = ndigits(&self.coeff) as i64 + self.exp - exp;
        let coeff = if digits < 0 {
            // far below the last kept digit: rounds as a 1 just below it would
            round_off(self.neg, &BigUint::one(), 1, how)
        } else {
            round_off(self.neg, &self.coeff, (exp - self.exp) as u64, how)
        };
        Dec { neg: self.neg, coeff, exp }
    }

    pub fn add(&self, o: &Dec) -> Dec {
        let exp = self.exp.min(o.exp);
        if self.coeff.is_zero() && o.coeff.is_zero() {
            return Dec { neg: self.neg && o.neg, coeff: BigUint::zero(), exp }.fix();
        }
        if self.coeff.is_zero() {
            let e = exp.max(o.exp - PREC as i64 - 1);
            return o.rescale(e, Round::HalfEven).fix();
        }
        if o.coeff.is_zero() {
            let e = exp.max(self.exp - PREC as i64 - 1);
            return self.rescale(e, Round::HalfEven).fix();
        }
        let a = &self.coeff * pow10((self.exp - exp) as u64);
        let b = &o.coeff * pow10((o.exp - exp) as u64);
        if self.neg == o.neg {
            return Dec { neg: self.neg, coeff: a + b, exp }.fix();
        }
        match a.cmp(&b) {
            Ordering::Equal => Dec { neg: false, coeff: BigUint::zero(), exp }.fix(),
            Ordering::Greater => Dec { neg: self.neg, coeff: a - b, exp }.fix(),
            Ordering::Less => Dec { neg: o.neg, coeff: b - a, exp }.fix(),
        }
    }

    pub fn sub(&self, o: &Dec) -> Dec {
        self.add(&Dec { neg: !o.neg, coeff: o.coeff.clone(), exp: o.exp })
    }

    pub fn cmp_num(&self, o: &Dec) -> Ordering {
        let (za, zb) = (self.coeff.is_zero(), o.coeff.is_zero());
        let sa = if za { 0 } else if self.neg { -1 } else { 1 };
        let sb = if zb { 0 } else if o.neg { -1 } else { 1 };
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let e = self.exp.min(o.exp);
        let a = &self.coeff * pow10((self.exp - e) as u64);
        let b = &o.coeff * pow10((o.exp - e) as u64);
        if sa > 0 {
            a.cmp(&b)
        } else {
            b.cmp(&a)
        }
    }

    /// ``quantize`` to exponent ``exp`` (ROUND_HALF_EVEN); None where Python raises InvalidOperation.
    pub fn quantize(&self, exp: i64) -> Option<Dec> {
        let d = self.rescale(exp, Round::HalfEven);
        if ndigits(&d.coeff) > PREC {
            return None;
        }
        Some(d)
    }

    pub fn to_integral_ceiling(&self) -> Dec {
        if self.exp >= 0 {
            return self.clone();
        }
        self.rescale(0, Round::Ceiling)
    }

    pub fn normalize(&self) -> Dec {
        let d = self.clone().fix();
        if d.coeff.is_zero() {
            return Dec { neg: d.neg, coeff: BigUint::zero(), exp: 0 };
        }
        let mut c = d.coeff;
        let mut exp = d.exp;
        loop {
            let (q, r) = c.div_rem(&BigUint::from(10u32));
            if !r.is_zero() {
                break;
            }
            c = q;
            exp += 1;
        }
        Dec { neg: d.neg, coeff: c, exp }
    }

    /// ``str(Decimal)``: the specification's to-scientific-string.
    pub fn to_sci_string(&self) -> String {
        let digits = self.coeff.to_str_radix(10);
        let n = digits.len() as i64;
        let left = self.exp + n;
        let dot = if self.exp <= 0 && left > -6 { left } else { 1 };
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        if dot <= 0 {
            s.push_str("0.");
            for _ in 0..(-dot) {
                s.push('0');
            }
            s.push_str(&digits);
        } else if dot >= n {
            s.push_str(&digits);
            for _ in 0..(dot - n) {
                s.push('0');
            }
        } else {
            s.push_str(&digits[..dot as usize]);
            s.push('.');
            s.push_str(&digits[dot as usize..]);
        }
        if left != dot {
            let e = left - dot;
            s.push('E');
            s.push(if e < 0 { '-' } else { '+' });
            s.push_str(&e.abs().to_string());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn d(v: i128) -> Dec {
        Dec::from_i128(v)
    }
    #[test]
    fn prints_like_python() {
        assert_eq!(d(1500).div(&d(1000)).to_sci_string(), "1.5");
        assert_eq!(d(1000).div(&d(1000)).to_sci_string(), "1");
        assert_eq!(d(0).div(&d(1000)).to_sci_string(), "0");
        assert_eq!(d(1).div(&d(3)).to_sci_string(), "0.3333333333333333333333333333");
        assert_eq!(d(2).div(&d(3)).quantize(-3).unwrap().to_sci_string(), "0.667");
        assert_eq!(d(3000).div(&d(1000)).mul(&d(1000)).normalize().to_sci_string(), "3E+3");
        assert_eq!(d(-1).div(&d(10000)).quantize(-3).unwrap().to_sci_string(), "-0.000");
    }
}
