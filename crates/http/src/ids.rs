//! Identifiers: completion ids, request ids and the system fingerprint.

use rand::{Rng, distributions::Alphanumeric};

/// Current unix time in seconds.
pub fn unix_now() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}

/// `gen-<unix secs>-<20 random alphanumerics>`, as on the seed page.
pub fn completion_id(created: u64) -> String {
    let mut id = format!("gen-{created}-");
    id.extend(
        rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(20)
            .map(char::from),
    );
    id
}

/// Accepts an incoming `x-request-id` only if it is short and plain
/// (`[A-Za-z0-9._:-]`, 1..=128 bytes); anything else is replaced by ours.
pub fn sane_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// `fp_` + 10 hex digits of a hash of this build (crate name and version).
pub fn default_system_fingerprint() -> String {
    const BUILD: &str = concat!(env!("CARGO_PKG_NAME"), "@", env!("CARGO_PKG_VERSION"));
    // FNV-1a, 64 bit: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in BUILD.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fp_{:010x}", h >> 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_id_has_the_seed_shape() {
        let id = completion_id(1744186588);
        let rest = id.strip_prefix("gen-1744186588-").unwrap();
        assert_eq!(rest.len(), 20);
        assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(completion_id(1), completion_id(1));
    }

    #[test]
    fn fingerprint_is_fp_and_ten_hex() {
        let fp = default_system_fingerprint();
        let hex = fp.strip_prefix("fp_").unwrap();
        assert_eq!(hex.len(), 10);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn request_id_sanity() {
        assert!(sane_request_id("abc-123_x.y:z"));
        assert!(!sane_request_id(""));
        assert!(!sane_request_id("has space"));
        assert!(!sane_request_id("new\nline"));
        assert!(!sane_request_id(&"a".repeat(129)));
    }
}
