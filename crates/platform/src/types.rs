//! Typed vocabulary shared by the platform's callers: key kinds, scopes, limits.

use std::{fmt, str::FromStr};

use time::{Date, Duration as TimeDuration, OffsetDateTime, Time};

use crate::money::Nanos;

/// Regular keys call models; management keys only call the key-management API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Regular,
    Management,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Regular => "regular",
            KeyKind::Management => "management",
        }
    }

    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "regular" => Some(KeyKind::Regular),
            "management" => Some(KeyKind::Management),
            _ => None,
        }
    }
}

/// A model-access scope of a regular key (the reference's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Chat,
    Responses,
    Image,
    Audio,
    Video,
    Embeddings,
    Speech,
    Ocr,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::Chat,
        Scope::Responses,
        Scope::Image,
        Scope::Audio,
        Scope::Video,
        Scope::Embeddings,
        Scope::Speech,
        Scope::Ocr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "model:chat",
            Scope::Responses => "model:responses",
            Scope::Image => "model:image",
            Scope::Audio => "model:audio",
            Scope::Video => "model:video",
            Scope::Embeddings => "model:embeddings",
            Scope::Speech => "model:speech",
            Scope::Ocr => "model:ocr",
        }
    }
}

impl FromStr for Scope {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|sc| sc.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's scopes: `None` (stored and shown as `null`) means every scope.
pub type Scopes = Option<Vec<Scope>>;

/// Whether `scopes` allow `needed`.
pub fn allows(scopes: &Scopes, needed: Scope) -> bool {
    scopes.as_ref().is_none_or(|s| s.contains(&needed))
}

/// A string that is not one of the allowed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value `{0}`")]
pub struct UnknownValue(pub String);

/// How often a key's spending limit starts again (00:00 UTC boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retention {
    /// The limit never resets: it caps the key's lifetime spend.
    NoReset,
    /// From 00:00 UTC each day.
    Day,
    /// From Monday 00:00 UTC.
    Week,
    /// From 00:00 UTC on the 1st of the month.
    Month,
}

impl Retention {
    pub fn as_str(self) -> &'static str {
        match self {
            Retention::NoReset => "no_reset",
            Retention::Day => "day",
            Retention::Week => "week",
            Retention::Month => "month",
        }
    }

    /// Unix milliseconds at which the window containing `now_ms` started
    /// (0 for `NoReset`).
    pub fn window_start(self, now_ms: i64) -> i64 {
        let Some(now) = from_ms(now_ms) else {
            return 0;
        };
        let day = now.date();
        let start = match self {
            Retention::NoReset => return 0,
            Retention::Day => day,
            Retention::Week => {
                day - TimeDuration::days(i64::from(day.weekday().number_days_from_monday()))
            }
            Retention::Month => day.replace_day(1).unwrap_or(day),
        };
        to_ms(start)
    }

    /// Unix milliseconds at which the window containing `now_ms` ends (`None` for `NoReset`).
    pub fn window_end(self, now_ms: i64) -> Option<i64> {
        let start = from_ms(self.window_start(now_ms))?.date();
        let end = match self {
            Retention::NoReset => return None,
            Retention::Day => start.next_day()?,
            Retention::Week => start + TimeDuration::days(7),
            Retention::Month => {
                let (y, m) = (start.year(), start.month());
                let (y, m) = if m == time::Month::December {
                    (y + 1, time::Month::January)
                } else {
                    (y, m.next())
                };
                Date::from_calendar_date(y, m, 1).ok()?
            }
        };
        Some(to_ms(end))
    }
}

impl FromStr for Retention {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "no_reset" => Ok(Retention::NoReset),
            "day" => Ok(Retention::Day),
            "week" => Ok(Retention::Week),
            "month" => Ok(Retention::Month),
            _ => Err(UnknownValue(s.to_owned())),
        }
    }
}

fn from_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

fn to_ms(day: Date) -> i64 {
    let t = day.with_time(Time::MIDNIGHT).assume_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// A key's spending limit: at most `threshold` per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLimit {
    pub retention: Retention,
    pub threshold: Nanos,
}

/// Requests and tokens per minute (`None`: not set at this level).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
}

impl RateLimits {
    /// These limits, each unset one taken from `fallback` (a key's own, else its account's).
    pub fn or(self, fallback: RateLimits) -> RateLimits {
        RateLimits {
            rpm: self.rpm.or(fallback.rpm),
            tpm: self.tpm.or(fallback.tpm),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        (t.unix_timestamp_nanos() / 1_000_000) as i64
    }

    #[test]
    fn windows_start_at_utc_midnight_monday_and_the_first() {
        // 2026-11-25 is a Wednesday.
        let now = ms("2026-11-25T13:45:00Z");
        assert_eq!(Retention::Day.window_start(now), ms("2026-11-25T00:00:00Z"));
        assert_eq!(
            Retention::Week.window_start(now),
            ms("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            Retention::Month.window_start(now),
            ms("2026-11-01T00:00:00Z")
        );
        assert_eq!(Retention::NoReset.window_start(now), 0);
        assert_eq!(
            Retention::Day.window_end(now),
            Some(ms("2026-11-26T00:00:00Z"))
        );
        assert_eq!(
            Retention::Week.window_end(now),
            Some(ms("2026-11-30T00:00:00Z"))
        );
        assert_eq!(
            Retention::Month.window_end(ms("2026-12-31T23:59:59Z")),
            Some(ms("2027-01-01T00:00:00Z"))
        );
        assert_eq!(Retention::NoReset.window_end(now), None);
    }

    #[test]
    fn a_boundary_instant_belongs_to_the_new_window() {
        let monday = ms("2026-11-30T00:00:00Z");
        assert_eq!(Retention::Week.window_start(monday), monday);
        assert_eq!(
            Retention::Week.window_start(monday - 1),
            ms("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            Retention::Day.window_start(monday - 1),
            ms("2026-11-29T00:00:00Z")
        );
    }

    #[test]
    fn rate_limits_fall_back_per_dimension() {
        let key = RateLimits {
            rpm: Some(5),
            tpm: None,
        };
        let account = RateLimits {
            rpm: Some(9),
            tpm: Some(100),
        };
        assert_eq!(
            key.or(account),
            RateLimits {
                rpm: Some(5),
                tpm: Some(100)
            }
        );
        assert_eq!(
            RateLimits::default().or(RateLimits::default()),
            RateLimits::default()
        );
    }

    #[test]
    fn scopes_parse_and_null_allows_everything() {
        assert_eq!("model:chat".parse::<Scope>(), Ok(Scope::Chat));
        assert!("model:chats".parse::<Scope>().is_err());
        assert!(allows(&None, Scope::Chat));
        assert!(!allows(&Some(vec![Scope::Image]), Scope::Chat));
        assert!(allows(&Some(vec![Scope::Image, Scope::Chat]), Scope::Chat));
    }
}
