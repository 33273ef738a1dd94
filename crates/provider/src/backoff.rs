//! Backoff between retries, and the upstream's `retry-after`.

use std::time::Duration;

use rand::Rng;
use reqwest::header::HeaderMap;

use crate::RetryPolicy;

/// The wait before retry number `retry` (0-based): the upstream's
/// `retry-after` if it gave one, else `base * 2^retry` with "equal jitter"
/// (half fixed, half random); never more than `max_delay`.
pub fn delay(policy: &RetryPolicy, retry: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(policy.max_delay);
    }
    let exp = policy
        .base_delay
        .saturating_mul(2u32.saturating_pow(retry.min(16)))
        .min(policy.max_delay);
    let half = exp / 2;
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    let jitter = if jitter_ms == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(rand::thread_rng().gen_range(0..=jitter_ms))
    };
    (half + jitter).min(policy.max_delay)
}

/// `retry-after-ms` (OpenAI's extension) or `retry-after` in seconds.
/// The HTTP-date form is ignored (the computed backoff is used instead).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    number("retry-after").map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn grows_exponentially_with_jitter_and_caps() {
        let p = RetryPolicy::default();
        for _ in 0..50 {
            let d0 = delay(&p, 0, None);
            assert!(d0 >= Duration::from_millis(125) && d0 <= Duration::from_millis(250));
            let d2 = delay(&p, 2, None);
            assert!(d2 >= Duration::from_millis(500) && d2 <= Duration::from_secs(1));
            let d9 = delay(&p, 9, None);
            assert!(d9 >= Duration::from_secs(2) && d9 <= Duration::from_secs(4));
        }
        assert_eq!(
            delay(&p, 40, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            delay(&p, 0, Some(Duration::from_secs(60))),
            Duration::from_secs(4)
        );
    }

    #[test]
    fn parses_retry_after_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }
}
