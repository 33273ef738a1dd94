//! API keys: only the SHA-256 of a key is stored; lookups compare hashes in constant time.

use rand::{Rng, rngs::OsRng};
use switchyard_auth::{GeneratedKey, ParsedKey, constant_time_eq};

use crate::{
    Store, StoreError,
    db::{DbRow, on_pool},
    now_ms, sql,
};

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
            if !self
                .insert_key(&id, &generated, name, &scopes_json, now)
                .await?
            {
                tracing::debug!("API key prefix collision; generating another key");
                continue;
            }
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
        Err(StoreError::KeyCollision(CREATE_ATTEMPTS))
    }

    /// Inserts one key row. Returns `false` when its id, prefix or public id
    /// is already taken (a unique violation on either backend).
    async fn insert_key(
        &self,
        id: &str,
        generated: &GeneratedKey,
        name: Option<&str>,
        scopes_json: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let res = on_pool!(&self.pool, p => sqlx::query(sql::INSERT_KEY)
            .bind(id)
            .bind(&generated.public_id)
            .bind(&generated.prefix)
            .bind(hex(&generated.hash))
            .bind(name)
            .bind(scopes_json)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()));
        match res {
            Ok(()) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Keys that are not deleted, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(sql::LIST_KEYS).fetch_all(p).await?;
            rows.iter().map(key_record).collect()
        })
    }

    /// The non-deleted key with this prefix.
    pub async fn key_by_prefix(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql::KEY_BY_PREFIX)
                .bind(prefix)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(key_record).transpose()
        })
    }

    /// The key with this public id, including disabled and deleted ones.
    pub async fn find_key_for_auth(
        &self,
        public_id: &str,
    ) -> Result<Option<AuthRecord>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql::KEY_FOR_AUTH)
                .bind(public_id)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(auth_record).transpose()
        })
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
        let affected = on_pool!(&self.pool, p => sqlx::query(sql::SET_DISABLED)
            .bind(disabled)
            .bind(now_ms())
            .bind(prefix)
            .execute(p)
            .await?
            .rows_affected());
        Ok(affected > 0)
    }

    /// Soft-deletes the key with this prefix. Returns whether a non-deleted key existed.
    pub async fn delete_key(&self, prefix: &str) -> Result<bool, StoreError> {
        let affected = on_pool!(&self.pool, p => sqlx::query(sql::SOFT_DELETE)
            .bind(now_ms())
            .bind(prefix)
            .execute(p)
            .await?
            .rows_affected());
        Ok(affected > 0)
    }
}

fn key_record(row: &impl DbRow) -> Result<KeyRecord, StoreError> {
    let scopes: Vec<String> = serde_json::from_str(&row.text("scopes")?)
        .map_err(|e| StoreError::Corrupt(format!("api_keys.scopes: {e}")))?;
    Ok(KeyRecord {
        id: row.text("id")?,
        public_id: row.text("public_id")?,
        prefix: row.text("prefix")?,
        name: row.opt_text("name")?,
        disabled: row.boolean("disabled")?,
        scopes,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

fn auth_record(row: &impl DbRow) -> Result<AuthRecord, StoreError> {
    let hash = unhex32(&row.text("key_hash")?)
        .ok_or_else(|| StoreError::Corrupt("api_keys.key_hash is not 64 hex digits".into()))?;
    Ok(AuthRecord {
        id: row.text("id")?,
        public_id: row.text("public_id")?,
        hash,
        disabled: row.boolean("disabled")?,
        deleted: row.opt_int("deleted_at")?.is_some(),
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
    use crate::testing::PgTestDb;

    /// A second key with a taken prefix (or public id) is reported as a
    /// collision, not an error, on both backends.
    async fn check_collision_detected(store: &Store) {
        let key = GeneratedKey::new();
        assert!(
            store
                .insert_key("key_a", &key, None, "[]", 1)
                .await
                .unwrap()
        );
        assert!(
            !store
                .insert_key("key_b", &key, None, "[]", 2)
                .await
                .unwrap()
        );
        let mut other_public_id = GeneratedKey::new();
        other_public_id.prefix = key.prefix.clone();
        assert!(
            !store
                .insert_key("key_c", &other_public_id, None, "[]", 3)
                .await
                .unwrap()
        );
        assert_eq!(store.list_keys().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn prefix_collision_is_detected_on_sqlite() {
        check_collision_detected(&Store::open_in_memory().await.unwrap()).await;
    }

    #[tokio::test]
    async fn prefix_collision_is_detected_on_postgres() {
        let Some(db) = PgTestDb::create().await.unwrap() else {
            eprintln!("skipping: {} not set", crate::testing::TEST_POSTGRES_ENV);
            return;
        };
        let store = Store::open(db.url()).await.unwrap();
        check_collision_detected(&store).await;
        store.close().await;
        db.drop_db().await.unwrap();
    }

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
