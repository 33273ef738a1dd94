//! Password hashing (argon2id, default parameters, PHC strings) and the
//! random tokens of sessions, CSRF and invites.
//!
//! Hashing is CPU-heavy by design, so it runs on tokio's blocking pool.

use std::sync::OnceLock;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{Error as HashError, SaltString},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{Rng, rngs::OsRng};
use sha2::{Digest, Sha256};

use crate::PlatformError;

/// Shortest and longest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 1024;

/// Checks a new password's length (`param` names the field for the caller).
pub fn validate_password(password: &str) -> Result<(), PlatformError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(PlatformError::invalid(
            "password",
            format!("The password must have at least {PASSWORD_MIN_CHARS} characters."),
        ));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(PlatformError::invalid(
            "password",
            format!("The password must have at most {PASSWORD_MAX_CHARS} characters."),
        ));
    }
    Ok(())
}

/// argon2id PHC string of `password` with a fresh random salt.
pub async fn hash_password(password: &str) -> Result<String, PlatformError> {
    let password = password.to_owned();
    blocking(move || hash_sync(&password)).await
}

/// Whether `password` matches the PHC string `phc`. A malformed stored hash is an error.
pub async fn verify_password(phc: &str, password: &str) -> Result<bool, PlatformError> {
    let (phc, password) = (phc.to_owned(), password.to_owned());
    blocking(move || verify_sync(&phc, &password)).await
}

/// Spends the time of one verification without an account, so that an
/// unknown email answers as slowly as a wrong password.
pub async fn verify_dummy(password: &str) -> Result<(), PlatformError> {
    let password = password.to_owned();
    blocking(move || {
        let phc = dummy_hash()?;
        verify_sync(phc, &password).map(|_| ())
    })
    .await
}

fn dummy_hash() -> Result<&'static str, PlatformError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_sync("switchyard-dummy-password")?;
    Ok(DUMMY.get_or_init(|| h))
}

fn hash_sync(password: &str) -> Result<String, PlatformError> {
    let salt_bytes: [u8; 16] = OsRng.r#gen();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| PlatformError::Internal(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PlatformError::Internal(format!("password hashing failed: {e}")))
}

fn verify_sync(phc: &str, password: &str) -> Result<bool, PlatformError> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| PlatformError::Internal(format!("stored password hash is malformed: {e}")))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(HashError::Password) => Ok(false),
        Err(e) => Err(PlatformError::Internal(format!(
            "password verification failed: {e}"
        ))),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PlatformError> + Send + 'static,
) -> Result<T, PlatformError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PlatformError::Internal(format!("password task failed: {e}")))?
}

/// `n` random bytes from the OS, base64url without padding.
pub(crate) fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill(bytes.as_mut_slice());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// 16 random bytes as 32 hex digits (ids).
pub(crate) fn random_hex_id(prefix: &str) -> String {
    let bytes: [u8; 16] = OsRng.r#gen();
    format!("{prefix}{}", hex(&bytes))
}

/// SHA-256 of `s`, lowercase hex (what the store keeps of tokens and codes).
pub(crate) fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse").await.unwrap();
        let b = hash_password("correct horse").await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salts differ");
        assert!(!a.contains("correct horse"));
        assert!(verify_password(&a, "correct horse").await.unwrap());
        assert!(!verify_password(&a, "correct horsE").await.unwrap());
        assert!(verify_password("not a phc string", "x").await.is_err());
        verify_dummy("anything").await.unwrap();
    }

    #[test]
    fn password_length_is_checked_in_characters() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"é".repeat(1024)).is_ok());
        assert!(validate_password(&"é".repeat(1025)).is_err());
    }

    #[test]
    fn tokens_are_url_safe_and_hashes_hex() {
        let t = random_token(32);
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(t, random_token(32));
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(random_hex_id("acct_").len(), 5 + 32);
    }
}
