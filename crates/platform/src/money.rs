//! Money as integer nano-dollars, so sums are exact and never drift.

use std::fmt;

/// Nano-dollars per dollar.
pub const NANOS_PER_USD: i64 = 1_000_000_000;
/// Credits per dollar (the reference API's `credits`: 0.25 USD = 500 000 credits).
pub const CREDITS_PER_USD: i64 = 2_000_000;

/// An amount of US dollars in nano-dollars (1e-9 USD). May be negative (a balance).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub i64);

impl Nanos {
    pub const ZERO: Nanos = Nanos(0);

    /// Rounds `usd` to the nearest nano-dollar; `None` if not finite or out of range.
    pub fn from_usd(usd: f64) -> Option<Nanos> {
        let n = (usd * NANOS_PER_USD as f64).round();
        (n.is_finite() && n.abs() < 9.0e18).then_some(Nanos(n as i64))
    }

    /// Rounds a cost *up* to the next nano-dollar (we never undercharge by rounding).
    pub fn from_usd_ceil(usd: f64) -> Option<Nanos> {
        let n = (usd * NANOS_PER_USD as f64).ceil();
        (n.is_finite() && n.abs() < 9.0e18).then_some(Nanos(n as i64))
    }

    pub fn usd(self) -> f64 {
        self.0 as f64 / NANOS_PER_USD as f64
    }

    /// Whole credits (rounded to nearest; 1 credit = 500 nano-dollars).
    pub fn credits(self) -> i64 {
        let per = NANOS_PER_USD / CREDITS_PER_USD;
        (self.0 + per / 2 * self.0.signum()) / per
    }

    pub fn saturating_add(self, o: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(o.0))
    }

    pub fn saturating_sub(self, o: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(o.0))
    }
}

impl fmt::Display for Nanos {
    /// `$1.234567` style: dollars with up to 6 decimals, trailing zeros kept to cents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let dollars = abs / NANOS_PER_USD as u64;
        let micros = (abs % NANOS_PER_USD as u64) / 1_000;
        let mut frac = format!("{micros:06}");
        while frac.len() > 2 && frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "{sign}${dollars}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_round_trips_and_credits_follow_the_reference_ratio() {
        let n = Nanos::from_usd(0.25).unwrap();
        assert_eq!(n, Nanos(250_000_000));
        assert_eq!(n.credits(), 500_000);
        assert_eq!(Nanos::from_usd(1.56).unwrap().credits(), 3_120_000);
        assert!((n.usd() - 0.25).abs() < 1e-12);
        assert_eq!(Nanos::from_usd(f64::NAN), None);
        assert_eq!(Nanos::from_usd_ceil(1e-10), Some(Nanos(1)));
    }

    #[test]
    fn display_keeps_cents_and_trims_zeros() {
        assert_eq!(Nanos::from_usd(25.0).unwrap().to_string(), "$25.00");
        assert_eq!(Nanos::from_usd(0.0123).unwrap().to_string(), "$0.0123");
        assert_eq!(Nanos::from_usd(-1.5).unwrap().to_string(), "-$1.50");
    }
}
