//! API keys: only the SHA-256 of a key is stored; lookups compare hashes in constant time.

use rand::{Rng, rngs::OsRng};
use sqlx::Row;
use switchyard_auth::{GeneratedKey, ParsedKey, constant_time_eq};

use crate::{Store, StoreError, now_ms, sql};

/// How many fresh keys `create_key` tries when a prefix or public id collides.
const CREATE_ATTEMPTS: u32 = 8;

/// A key as listed (never the secret or its hash).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    pub public_id: String,
    /// First 8 characters of the key.
    pub prefix: String,
    pub name: Option<String>,
    pub disabled: bool,
    pub scopes: Vec<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A newly created key: the secret is shown once and never stored.
#[derive(Clone)]
pub struct CreatedKey {
    pub secret: String,
    pub record: KeyRecord,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("secret", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

/// What authentication needs to know about a key.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthRecord {
    pub id: String,
    pub public_id: String,
    hash: [u8; 32],
    pub disabled: bool,
    pub deleted: bool,
}

impl std::fmt::Debug for AuthRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRecord")
            .field("id", &self.id)
            .field("public_id", &self.public_id)
            .field("disabled", &self.disabled)
            .field("deleted", &self.deleted)
            .finish_non_exhaustive()
    }
}

impl AuthRecord {
    /// Compares the stored hash with `hash` in constant time.
    pub fn hash_matches(&self, hash: &[u8; 32]) -> bool {
        constant_time_eq(&self.hash, hash)
    }

    /// The stored SHA-256 (for an in-process cache; never log it).
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

/// The outcome of checking a presented key against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// Enabled, not deleted, hash matches.
    Valid(AuthRecord),
    /// No key with this public id, or the hash does not match.
    Unknown,
    Disabled,
    Deleted,
}

impl Store {
    /// Creates a key. Generation is retried if the prefix or public id is taken.
    pub async fn create_key(
        &self,
        name: Option<&str>,
        scopes: &[String],
    ) -> Result<CreatedKey, StoreError> {
        let scopes_json = serde_json::to_string(scopes)
            .map_err(|e| StoreError::Corrupt(format!("scopes: {e}")))?;
        for _ in 0..CREATE_ATTEMPTS {
            let generated = GeneratedKey::new();
            let id = new_id();
            let now = now_ms();
            let res = sqlx::query(sql::INSERT_KEY)
                .bind(&id)
                .bind(&generated.public_id)
                .bind(&generated.prefix)
                .bind(hex(&generated.hash))
                .bind(name)
                .bind(&scopes_json)
                .bind(now)
                .execute(&self.pool)
                .await;
            match res {
                Ok(_) => {
                    return Ok(CreatedKey {
                        record: KeyRecord {
                            id,
                            public_id: generated.public_id.clone(),
                            prefix: generated.prefix.clone(),
                            name: name.map(str::to_owned),
                            disabled: false,
                            scopes: scopes.to_vec(),
                            created_at: now,
                            updated_at: now,
                        },
                        secret: generated.secret,
                    });
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    tracing::debug!("API key prefix collision; generating another key");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::KeyCollision(CREATE_ATTEMPTS))
    }

    /// Keys that are not deleted, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(sql::LIST_KEYS).fetch_all(&self.pool).await?;
        rows.iter().map(key_record).collect()
    }

    /// The non-deleted key with this prefix.
    pub async fn key_by_prefix(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(sql::KEY_BY_PREFIX)
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_record).transpose()
    }

    /// The key with this public id, including disabled and deleted ones.
    pub async fn find_key_for_auth(
        &self,
        public_id: &str,
    ) -> Result<Option<AuthRecord>, StoreError> {
        let Some(row) = sqlx::query(sql::KEY_FOR_AUTH)
            .bind(public_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let hash_hex: String = row.try_get("key_hash")?;
        let hash = unhex32(&hash_hex)
            .ok_or_else(|| StoreError::Corrupt("api_keys.key_hash is not 64 hex digits".into()))?;
        let deleted_at: Option<i64> = row.try_get("deleted_at")?;
        Ok(Some(AuthRecord {
            id: row.try_get("id")?,
            public_id: row.try_get("public_id")?,
            hash,
            disabled: row.try_get("disabled")?,
            deleted: deleted_at.is_some(),
        }))
    }

    /// Looks the key up by its public id and compares hashes in constant time.
    pub async fn check_key(&self, key: &ParsedKey) -> Result<KeyCheck, StoreError> {
        let Some(rec) = self.find_key_for_auth(key.public_id()).await? else {
            return Ok(KeyCheck::Unknown);
        };
        if !rec.hash_matches(&key.hash()) {
            return Ok(KeyCheck::Unknown);
        }
        Ok(if rec.deleted {
            KeyCheck::Deleted
        } else if rec.disabled {
            KeyCheck::Disabled
        } else {
            KeyCheck::Valid(rec)
        })
    }

    /// Disables or enables the non-deleted key with this prefix. Returns whether it exists.
    pub async fn set_disabled(&self, prefix: &str, disabled: bool) -> Result<bool, StoreError> {
        let res = sqlx::query(sql::SET_DISABLED)
            .bind(disabled)
            .bind(now_ms())
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() > 0)
    }

    /// Soft-deletes the key with this prefix. Returns whether a non-deleted key existed.
    pub async fn delete_key(&self, prefix: &str) -> Result<bool, StoreError> {
        let res = sqlx::query(sql::SOFT_DELETE)
            .bind(now_ms())
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() > 0)
    }
}

fn key_record(row: &sqlx::sqlite::SqliteRow) -> Result<KeyRecord, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    let scopes: Vec<String> = serde_json::from_str(&scopes)
        .map_err(|e| StoreError::Corrupt(format!("api_keys.scopes: {e}")))?;
    Ok(KeyRecord {
        id: row.try_get("id")?,
        public_id: row.try_get("public_id")?,
        prefix: row.try_get("prefix")?,
        name: row.try_get("name")?,
        disabled: row.try_get("disabled")?,
        scopes,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn new_id() -> String {
    let bytes: [u8; 16] = OsRng.r#gen();
    format!("key_{}", hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let hi = char::from(*pair.first()?).to_digit(16)?;
        let lo = char::from(*pair.get(1)?).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip() {
        let mut h = [0u8; 32];
        for (i, b) in h.iter_mut().enumerate() {
            *b = (i * 37 % 256) as u8;
        }
        let s = hex(&h);
        assert_eq!(s.len(), 64);
        assert_eq!(unhex32(&s), Some(h));
        assert_eq!(unhex32(&s[..62]), None);
        assert_eq!(unhex32(&s.replacen('0', "g", 1)), None);
    }
}
