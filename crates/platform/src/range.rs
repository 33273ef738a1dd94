//! The time window and time zone of a usage report, parsed from the
//! caller's `period` / `start` / `end` / `tz` parameters.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::PlatformError;

pub use chrono_tz::Tz;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The longest window a report may cover.
pub const MAX_RANGE_DAYS: i64 = 92;
/// The window when the caller names none.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

/// A report's window, `[start_ms, end_ms)` in unix milliseconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRange {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// `period` (`24h`, `7d`: a positive integer then `h` or `d`) or `start` and
/// `end` (ISO-8601; without an offset read as UTC; a bare date is its
/// midnight UTC), never both; the window is at most 92 days and `end` is not
/// before `start`. Neither given: the last 30 days. Errors name the parameter.
pub fn parse_range(
    period: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
    now_ms: i64,
) -> Result<ReportRange, PlatformError> {
    if let Some(p) = period {
        if start.is_some() || end.is_some() {
            return Err(PlatformError::invalid(
                "period",
                "Provide either `period` or `start` and `end`, not both.",
            ));
        }
        let len = parse_period(p)?;
        return Ok(ReportRange {
            start_ms: now_ms.saturating_sub(len),
            end_ms: now_ms,
        });
    }
    let (start, end) = match (start, end) {
        (None, None) => {
            return Ok(ReportRange {
                start_ms: now_ms.saturating_sub(DEFAULT_RANGE_DAYS * DAY_MS),
                end_ms: now_ms,
            });
        }
        (Some(_), None) => {
            return Err(PlatformError::invalid(
                "end",
                "`end` is required together with `start`.",
            ));
        }
        (None, Some(_)) => {
            return Err(PlatformError::invalid(
                "start",
                "`start` is required together with `end`.",
            ));
        }
        (Some(s), Some(e)) => (parse_instant("start", s)?, parse_instant("end", e)?),
    };
    if end < start {
        return Err(PlatformError::invalid(
            "end",
            "`end` must not be earlier than `start`.",
        ));
    }
    if end - start > MAX_RANGE_DAYS * DAY_MS {
        return Err(PlatformError::invalid(
            "end",
            format!("The window from `start` to `end` must not exceed {MAX_RANGE_DAYS} days."),
        ));
    }
    Ok(ReportRange {
        start_ms: start,
        end_ms: end,
    })
}

/// `Nh` / `Nd` → milliseconds.
fn parse_period(p: &str) -> Result<i64, PlatformError> {
    let bad = || {
        PlatformError::invalid(
            "period",
            format!(
                "`period` must be a positive whole number followed by `h` or `d` (e.g. `24h`, `7d`), at most {MAX_RANGE_DAYS} days."
            ),
        )
    };
    let (digits, unit) = match (p.strip_suffix('h'), p.strip_suffix('d')) {
        (Some(d), _) => (d, HOUR_MS),
        (_, Some(d)) => (d, DAY_MS),
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let len = n.checked_mul(unit).ok_or_else(bad)?;
    if n == 0 || len > MAX_RANGE_DAYS * DAY_MS {
        return Err(bad());
    }
    Ok(len)
}

/// An ISO-8601 instant: with an offset (`Z`, `+02:00`), without one (UTC),
/// or a bare date (midnight UTC).
pub fn parse_instant(param: &str, s: &str) -> Result<i64, PlatformError> {
    let bad = || {
        PlatformError::invalid(
            param,
            format!(
                "`{param}` must be an ISO-8601 date-time such as `2026-07-01T00:00:00Z` (no offset: UTC) or a date such as `2026-07-01`."
            ),
        )
    };
    let t = s.trim();
    if t.len() != s.len() || t.is_empty() {
        return Err(bad());
    }
    let utc: DateTime<Utc> = if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        d.with_timezone(&Utc)
    } else if let Ok(n) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f") {
        n.and_utc()
    } else if let Ok(n) = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M") {
        n.and_utc()
    } else if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc()
    } else {
        return Err(bad());
    };
    Ok(utc.timestamp_millis())
}

/// A canonical IANA time-zone name matched exactly (`UTC`, `Europe/Berlin`);
/// other spellings (`utc`) and offsets (`+05:00`) are refused.
pub fn parse_tz(tz: &str) -> Result<Tz, PlatformError> {
    tz.parse::<Tz>().map_err(|_| {
        PlatformError::invalid(
            "tz",
            format!(
                "`tz` must be an IANA time-zone name spelled exactly, such as `UTC` or `Europe/Berlin` (got `{}`).",
                tz.chars().take(64).collect::<String>()
            ),
        )
    })
}

/// The calendar day (`YYYY-MM-DD`) of `ms` in `tz`.
pub fn local_day(ms: i64, tz: Tz) -> Option<String> {
    let utc = DateTime::<Utc>::from_timestamp_millis(ms)?;
    Some(utc.with_timezone(&tz).format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn param(e: PlatformError) -> String {
        match e {
            PlatformError::InvalidInput { param, .. } => param,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    const NOW: &str = "2026-07-28T12:00:00Z";

    #[test]
    fn period_is_hours_or_days_back_from_now() {
        let now = ms(NOW);
        let r = parse_range(Some("24h"), None, None, now).unwrap();
        assert_eq!(
            r,
            ReportRange {
                start_ms: now - DAY_MS,
                end_ms: now
            }
        );
        let r = parse_range(Some("7d"), None, None, now).unwrap();
        assert_eq!(r.start_ms, ms("2026-07-21T12:00:00Z"));
        assert_eq!(
            parse_range(Some("92d"), None, None, now).unwrap().start_ms,
            now - 92 * DAY_MS
        );
        assert_eq!(
            parse_range(Some("2208h"), None, None, now)
                .unwrap()
                .start_ms,
            now - 92 * DAY_MS
        );
        for bad in [
            "0h",
            "0d",
            "-1d",
            "93d",
            "2209h",
            "1w",
            "d",
            "",
            "1.5d",
            "24H",
            " 24h",
            "+1d",
            "99999999999999999999d",
        ] {
            assert_eq!(
                param(parse_range(Some(bad), None, None, now).unwrap_err()),
                "period",
                "{bad}"
            );
        }
    }

    #[test]
    fn neither_means_the_last_30_days() {
        let now = ms(NOW);
        let r = parse_range(None, None, None, now).unwrap();
        assert_eq!(
            r,
            ReportRange {
                start_ms: now - 30 * DAY_MS,
                end_ms: now
            }
        );
    }

    #[test]
    fn start_and_end_accept_offsets_utc_without_offset_and_dates() {
        let now = ms(NOW);
        let r = parse_range(
            None,
            Some("2026-07-01T00:00:00Z"),
            Some("2026-07-28T00:00:00+02:00"),
            now,
        )
        .unwrap();
        assert_eq!(r.start_ms, ms("2026-07-01T00:00:00Z"));
        assert_eq!(r.end_ms, ms("2026-07-27T22:00:00Z"));
        let r = parse_range(
            None,
            Some("2026-07-01T10:30:00"),
            Some("2026-07-02T10:30:00.250"),
            now,
        )
        .unwrap();
        assert_eq!(r.start_ms, ms("2026-07-01T10:30:00Z"));
        assert_eq!(r.end_ms, ms("2026-07-02T10:30:00.250Z"));
        let r = parse_range(None, Some("2026-07-01"), Some("2026-07-02"), now).unwrap();
        assert_eq!(r.start_ms, ms("2026-07-01T00:00:00Z"));
        assert_eq!(r.end_ms, ms("2026-07-02T00:00:00Z"));
        // Equal ends are allowed; exactly 92 days is allowed.
        assert!(parse_range(None, Some("2026-07-01"), Some("2026-07-01"), now).is_ok());
        assert!(parse_range(None, Some("2026-04-01"), Some("2026-07-02"), now).is_ok());
    }

    #[test]
    fn bad_windows_name_the_parameter() {
        let now = ms(NOW);
        let e = |p, s, en| param(parse_range(p, s, en, now).unwrap_err());
        assert_eq!(e(Some("7d"), Some("2026-07-01"), None), "period");
        assert_eq!(e(Some("7d"), None, Some("2026-07-01")), "period");
        assert_eq!(e(None, Some("2026-07-01"), None), "end");
        assert_eq!(e(None, None, Some("2026-07-01")), "start");
        assert_eq!(e(None, Some("yesterday"), Some("2026-07-01")), "start");
        assert_eq!(e(None, Some("2026-07-01"), Some("2026-13-01")), "end");
        assert_eq!(e(None, Some("2026-07-02"), Some("2026-07-01")), "end");
        // 92 days and one millisecond.
        assert_eq!(
            e(
                None,
                Some("2026-04-01T00:00:00Z"),
                Some("2026-07-02T00:00:00.001Z")
            ),
            "end"
        );
    }

    #[test]
    fn tz_names_must_be_exact_iana_names() {
        assert_eq!(parse_tz("UTC").unwrap(), Tz::UTC);
        assert_eq!(parse_tz("Europe/Berlin").unwrap(), Tz::Europe__Berlin);
        for bad in [
            "utc",
            "europe/berlin",
            "+05:00",
            "UTC+5",
            "",
            "Mars/Olympus",
            " UTC",
        ] {
            assert_eq!(param(parse_tz(bad).unwrap_err()), "tz", "{bad}");
        }
    }

    #[test]
    fn local_day_follows_the_zone_and_dst() {
        let berlin = parse_tz("Europe/Berlin").unwrap();
        // Summer (UTC+2): 22:00Z is already the next day in Berlin.
        assert_eq!(
            local_day(ms("2026-07-01T21:59:59.999Z"), berlin).unwrap(),
            "2026-07-01"
        );
        assert_eq!(
            local_day(ms("2026-07-01T22:00:00Z"), berlin).unwrap(),
            "2026-07-02"
        );
        // Winter (UTC+1).
        assert_eq!(
            local_day(ms("2026-01-01T22:30:00Z"), berlin).unwrap(),
            "2026-01-01"
        );
        assert_eq!(
            local_day(ms("2026-01-01T23:00:00Z"), berlin).unwrap(),
            "2026-01-02"
        );
        assert_eq!(
            local_day(ms("2026-01-01T23:00:00Z"), Tz::UTC).unwrap(),
            "2026-01-01"
        );
    }
}
