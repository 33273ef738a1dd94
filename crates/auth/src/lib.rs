//! API key format.
//!
//! A key looks like `sy_<public id: 12>_<secret: 32><checksum: 6>` (54 chars,
//! base62 after the `sy_` marker). The recognisable `sy_` marker lets secret
//! scanners find leaked keys; the CRC-32 checksum lets scanners and our parser
//! reject garbage offline, before any database lookup. The public id finds the
//! row; only a SHA-256 of the whole key is stored and compared.
//!
//! The user-facing `prefix` is the first 8 characters of the key (as in the
//! platform's reference API), e.g. `sy_Ab3dE`. The store keeps it unique.

use rand::{Rng, distributions::Alphanumeric, rngs::OsRng};
use sha2::{Digest, Sha256};

/// The marker every Switchyard key starts with.
pub const MARKER: &str = "sy_";
const PUBLIC_ID_LEN: usize = 12;
const SECRET_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// Total key length.
pub const KEY_LEN: usize = MARKER.len() + PUBLIC_ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;
/// Length of the user-facing prefix.
pub const PREFIX_LEN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("API key has the wrong length")]
    Length,
    #[error("API key does not start with `{MARKER}`")]
    Marker,
    #[error("API key contains characters outside its alphabet")]
    Alphabet,
    #[error("API key checksum does not match (mistyped or truncated key)")]
    Checksum,
}

/// A freshly generated key. The secret is shown to the user once and then dropped.
#[derive(Clone)]
pub struct GeneratedKey {
    /// The full key.
    pub secret: String,
    pub prefix: String,
    pub public_id: String,
    /// SHA-256 of the full key: the only thing stored.
    pub hash: [u8; 32],
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("prefix", &self.prefix)
            .field("public_id", &self.public_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl GeneratedKey {
    /// Generates a key from the operating system's CSPRNG.
    pub fn new() -> Self {
        let public_id = random_base62(PUBLIC_ID_LEN);
        let secret_part = random_base62(SECRET_LEN);
        let body = format!("{MARKER}{public_id}_{secret_part}");
        let secret = format!("{body}{}", checksum(&body));
        let prefix = secret.chars().take(PREFIX_LEN).collect();
        let hash = sha256(&secret);
        GeneratedKey {
            secret,
            prefix,
            public_id,
            hash,
        }
    }
}

impl Default for GeneratedKey {
    fn default() -> Self {
        Self::new()
    }
}

/// A key presented by a client whose format and checksum are valid.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedKey {
    public_id: String,
    prefix: String,
    hash: [u8; 32],
}

impl std::fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedKey")
            .field("prefix", &self.prefix)
            .field("public_id", &self.public_id)
            .finish()
    }
}

impl ParsedKey {
    /// Checks format and checksum offline. The secret itself is hashed, not kept.
    pub fn parse(key: &str) -> Result<ParsedKey, KeyError> {
        if key.len() != KEY_LEN {
            return Err(KeyError::Length);
        }
        let rest = key.strip_prefix(MARKER).ok_or(KeyError::Marker)?;
        let bytes = rest.as_bytes();
        let (public_id, tail) = rest
            .split_at_checked(PUBLIC_ID_LEN)
            .ok_or(KeyError::Length)?;
        let (sep, tail) = tail.split_at_checked(1).ok_or(KeyError::Length)?;
        if sep != "_"
            || !bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == PUBLIC_ID_LEN || b.is_ascii_alphanumeric())
        {
            return Err(KeyError::Alphabet);
        }
        let (_secret, check) = tail.split_at_checked(SECRET_LEN).ok_or(KeyError::Length)?;
        let body = key.get(..KEY_LEN - CHECKSUM_LEN).ok_or(KeyError::Length)?;
        if checksum(body) != check {
            return Err(KeyError::Checksum);
        }
        Ok(ParsedKey {
            public_id: public_id.to_owned(),
            prefix: key.chars().take(PREFIX_LEN).collect(),
            hash: sha256(key),
        })
    }

    pub fn public_id(&self) -> &str {
        &self.public_id
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// SHA-256 of the full key.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// Constant-time comparison with a stored hash.
    pub fn matches(&self, stored: &[u8]) -> bool {
        constant_time_eq(&self.hash, stored)
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_base62(n: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// CRC-32 (IEEE) of `s`, as 6 base62 digits (most significant first).
fn checksum(s: &str) -> String {
    let mut v = crc32(s.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62.get((v % 62) as usize).copied().unwrap_or(b'0');
        v /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_answer() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn generated_key_parses_and_matches_its_hash() {
        let k = GeneratedKey::new();
        assert_eq!(k.secret.len(), KEY_LEN);
        assert!(k.secret.starts_with("sy_"));
        assert_eq!(k.prefix, &k.secret[..8]);
        let p = ParsedKey::parse(&k.secret).unwrap();
        assert_eq!(p.public_id(), k.public_id);
        assert_eq!(p.prefix(), k.prefix);
        assert!(p.matches(&k.hash));
        assert!(!p.matches(&[0u8; 32]));
    }

    #[test]
    fn every_single_character_change_is_rejected_offline() {
        let k = GeneratedKey::new();
        for i in 3..KEY_LEN {
            let mut b = k.secret.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let s = String::from_utf8(b).unwrap();
            assert!(ParsedKey::parse(&s).is_err(), "change at {i} accepted");
        }
    }

    #[test]
    fn garbage_is_rejected_with_reason() {
        assert_eq!(ParsedKey::parse(""), Err(KeyError::Length));
        assert_eq!(ParsedKey::parse("sk-abc"), Err(KeyError::Length));
        let k = GeneratedKey::new();
        let wrong_marker = format!("xx_{}", &k.secret[3..]);
        assert_eq!(ParsedKey::parse(&wrong_marker), Err(KeyError::Marker));
        let mut b = k.secret.clone().into_bytes();
        b[20] = b'!';
        assert_eq!(
            ParsedKey::parse(&String::from_utf8(b).unwrap()),
            Err(KeyError::Alphabet)
        );
        let multibyte = format!("sy_{}", "é".repeat((KEY_LEN - 3) / 2) + "a");
        assert!(ParsedKey::parse(&multibyte).is_err());
    }

    #[test]
    fn debug_redacts_secret() {
        let k = GeneratedKey::new();
        let d = format!("{k:?}");
        assert!(!d.contains(&k.secret[15..]), "{d}");
        assert!(d.contains("redacted"));
        let p = ParsedKey::parse(&k.secret).unwrap();
        assert!(!format!("{p:?}").contains(&k.secret[16..]));
    }
}
