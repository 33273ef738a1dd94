//! API keys: only the SHA-256 of a key is stored; lookups compare hashes in constant time.
//!
//! Every key belongs to an account and has a kind (`regular` / `management`),
//! scopes (a JSON array, or `null` for every scope), an optional spending
//! limit and optional per-minute rate limits. The store keeps these as plain
//! strings and integers; the platform gives them their types.

use std::collections::HashMap;

use rand::{Rng, rngs::OsRng};
use switchyard_auth::{GeneratedKey, ParsedKey, constant_time_eq};

use crate::{
    Store, StoreError,
    db::{DbRow, on_pool},
    now_ms, sql_accounts as sql,
};

/// How many fresh keys `create_key` tries when a prefix or public id collides.
const CREATE_ATTEMPTS: u32 = 8;

/// A key's spending limit as stored: `retention` is `no_reset|day|week|month`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLimitRow {
    pub retention: String,
    pub threshold_nanos: i64,
}

/// Requests / tokens per minute as stored (`None`: not set at this level).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateRow {
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
}

/// A key as listed (never the secret or its hash).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    pub public_id: String,
    /// First 8 characters of the key.
    pub prefix: String,
    pub account_id: String,
    pub name: Option<String>,
    /// `regular` or `management`.
    pub kind: String,
    pub disabled: bool,
    /// `None`: every scope (stored as JSON `null`).
    pub scopes: Option<Vec<String>>,
    pub limit: Option<KeyLimitRow>,
    pub rate: RateRow,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a new key is made with.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKeyRow {
    pub account_id: String,
    pub name: Option<String>,
    /// `regular` or `management`.
    pub kind: String,
    /// `None`: every scope.
    pub scopes: Option<Vec<String>>,
    pub limit: Option<KeyLimitRow>,
    pub rate: RateRow,
}

/// Changes to a key; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyUpdate {
    pub name: Option<Option<String>>,
    pub disabled: Option<bool>,
    pub scopes: Option<Option<Vec<String>>>,
    pub limit: Option<Option<KeyLimitRow>>,
    pub rate: Option<RateRow>,
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

/// What authentication needs to know about a key and its account.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthRecord {
    pub id: String,
    pub public_id: String,
    pub prefix: String,
    hash: [u8; 32],
    pub disabled: bool,
    pub deleted: bool,
    /// `regular` or `management`.
    pub kind: String,
    pub scopes: Option<Vec<String>>,
    /// The key's own rate limits.
    pub rate: RateRow,
    /// `None` when the key has no account or its account row is missing.
    pub account: Option<AuthAccount>,
}

/// The owning account's part of an [`AuthRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAccount {
    pub id: String,
    pub is_admin: bool,
    pub disabled: bool,
    /// The account's default rate limits for its keys.
    pub rate: RateRow,
}

impl std::fmt::Debug for AuthRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRecord")
            .field("id", &self.id)
            .field("public_id", &self.public_id)
            .field("prefix", &self.prefix)
            .field("disabled", &self.disabled)
            .field("deleted", &self.deleted)
            .field("kind", &self.kind)
            .field("scopes", &self.scopes)
            .field("rate", &self.rate)
            .field("account", &self.account)
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
    /// Enabled, not deleted, hash matches (the account may still be disabled:
    /// see [`AuthRecord::account`]).
    Valid(Box<AuthRecord>),
    /// No key with this public id, or the hash does not match.
    Unknown,
    Disabled,
    Deleted,
}

impl Store {
    /// Creates a key now (system time). Generation is retried if the prefix or public id is taken.
    pub async fn create_key(&self, new: &NewKeyRow) -> Result<CreatedKey, StoreError> {
        self.create_key_at(new, now_ms()).await
    }

    /// Creates a key stamped `now` (unix ms).
    pub async fn create_key_at(&self, new: &NewKeyRow, now: i64) -> Result<CreatedKey, StoreError> {
        let scopes_json = scopes_to_json(new.scopes.as_deref())?;
        for _ in 0..CREATE_ATTEMPTS {
            let generated = GeneratedKey::new();
            let id = new_id();
            if !self
                .insert_key(&id, &generated, new, &scopes_json, now)
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
                    account_id: new.account_id.clone(),
                    name: new.name.clone(),
                    kind: new.kind.clone(),
                    disabled: false,
                    scopes: new.scopes.clone(),
                    limit: new.limit.clone(),
                    rate: new.rate,
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
        new: &NewKeyRow,
        scopes_json: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let res = on_pool!(&self.pool, p => sqlx::query(sql::INSERT_KEY)
            .bind(id)
            .bind(&generated.public_id)
            .bind(&generated.prefix)
            .bind(hex(&generated.hash))
            .bind(&new.name)
            .bind(scopes_json)
            .bind(now)
            .bind(&new.account_id)
            .bind(&new.kind)
            .bind(new.limit.as_ref().map(|l| l.retention.as_str()))
            .bind(new.limit.as_ref().map(|l| l.threshold_nanos))
            .bind(new.rate.rpm)
            .bind(new.rate.tpm)
            .execute(p)
            .await
            .map(|_| ()));
        match res {
            Ok(()) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every account's keys that are not deleted, oldest first (the operator's view).
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(sql::LIST_KEYS).fetch_all(p).await?;
            rows.iter().map(key_record).collect()
        })
    }

    /// One account's keys that are not deleted (of one kind, if given), oldest first.
    pub async fn list_account_keys(
        &self,
        account_id: &str,
        kind: Option<&str>,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(sql::LIST_ACCOUNT_KEYS)
                .bind(account_id)
                .bind(kind)
                .fetch_all(p)
                .await?;
            rows.iter().map(key_record).collect()
        })
    }

    /// The non-deleted key with this prefix, whichever account owns it (the operator's view).
    pub async fn key_by_prefix(&self, prefix: &str) -> Result<Option<KeyRecord>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql::KEY_BY_PREFIX)
                .bind(prefix)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(key_record).transpose()
        })
    }

    /// The non-deleted key with this prefix if `account_id` owns it.
    pub async fn account_key_by_prefix(
        &self,
        account_id: &str,
        prefix: &str,
    ) -> Result<Option<KeyRecord>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql::ACCOUNT_KEY_BY_PREFIX)
                .bind(account_id)
                .bind(prefix)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(key_record).transpose()
        })
    }

    /// The non-deleted key with this internal id.
    pub async fn key_by_id(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql::KEY_BY_ID)
                .bind(id)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(key_record).transpose()
        })
    }

    /// Applies `update` (one statement, stamped `now`) to the account's
    /// non-deleted key with this prefix and returns the key as it is now;
    /// `None` if the account has no such key.
    pub async fn update_account_key(
        &self,
        account_id: &str,
        prefix: &str,
        update: &KeyUpdate,
        now: i64,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let scopes_json = match &update.scopes {
            Some(s) => Some(scopes_to_json(s.as_deref())?),
            None => None,
        };
        let name = update.name.as_ref().and_then(|n| n.as_deref());
        let limit = update.limit.as_ref().and_then(|l| l.as_ref());
        let rate = update.rate.unwrap_or_default();
        let affected = on_pool!(&self.pool, p => sqlx::query(sql::UPDATE_ACCOUNT_KEY)
            .bind(update.name.is_some())
            .bind(name)
            .bind(update.disabled.is_some())
            .bind(update.disabled.unwrap_or(false))
            .bind(scopes_json.is_some())
            .bind(scopes_json.as_deref().unwrap_or("null"))
            .bind(update.limit.is_some())
            .bind(limit.map(|l| l.retention.as_str()))
            .bind(limit.map(|l| l.threshold_nanos))
            .bind(update.rate.is_some())
            .bind(rate.rpm)
            .bind(rate.tpm)
            .bind(now)
            .bind(account_id)
            .bind(prefix)
            .execute(p)
            .await?
            .rows_affected());
        if affected == 0 {
            return Ok(None);
        }
        self.account_key_by_prefix(account_id, prefix).await
    }

    /// The key with this public id (including disabled and deleted ones) and its account.
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
            KeyCheck::Valid(Box::new(rec))
        })
    }

    /// Disables or enables the non-deleted key with this prefix, whichever
    /// account owns it (the operator's view). Returns whether it exists.
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

    /// Sets the per-minute limits of the non-deleted key with this prefix,
    /// whichever account owns it (the operator's view), stamped `now`.
    /// `None` in a dimension: inherit. Returns whether the key exists.
    pub async fn set_key_rate(
        &self,
        prefix: &str,
        rate: RateRow,
        now: i64,
    ) -> Result<bool, StoreError> {
        let affected = on_pool!(&self.pool, p => sqlx::query(sql::SET_KEY_RATE)
            .bind(rate.rpm)
            .bind(rate.tpm)
            .bind(now)
            .bind(prefix)
            .execute(p)
            .await?
            .rows_affected());
        Ok(affected > 0)
    }

    /// Soft-deletes the key with this prefix, whichever account owns it (the
    /// operator's view). Returns whether a non-deleted key existed.
    pub async fn delete_key(&self, prefix: &str) -> Result<bool, StoreError> {
        let affected = on_pool!(&self.pool, p => sqlx::query(sql::SOFT_DELETE)
            .bind(now_ms())
            .bind(prefix)
            .execute(p)
            .await?
            .rows_affected());
        Ok(affected > 0)
    }

    /// Soft-deletes the account's key with this prefix. Returns whether the
    /// account had such a (non-deleted) key.
    pub async fn delete_account_key(
        &self,
        account_id: &str,
        prefix: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let affected = on_pool!(&self.pool, p => sqlx::query(sql::SOFT_DELETE_ACCOUNT_KEY)
            .bind(now)
            .bind(account_id)
            .bind(prefix)
            .execute(p)
            .await?
            .rows_affected());
        Ok(affected > 0)
    }

    /// Nano-dollars charged to one key (ledger `charged_nanos`) since `since_ms`.
    pub async fn key_charged_since(&self, key_id: &str, since_ms: i64) -> Result<i64, StoreError> {
        let n: i64 = on_pool!(&self.pool, p => sqlx::query_scalar(sql::KEY_CHARGED_SINCE)
            .bind(key_id)
            .bind(since_ms)
            .fetch_one(p)
            .await?);
        Ok(n)
    }

    /// Nano-dollars charged to each of the account's keys since `since_ms`
    /// (keys without charges are absent).
    pub async fn account_keys_charged_since(
        &self,
        account_id: &str,
        since_ms: i64,
    ) -> Result<HashMap<String, i64>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(sql::ACCOUNT_KEYS_CHARGED_SINCE)
                .bind(account_id)
                .bind(since_ms)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| Ok((r.text("key_id")?, r.int("charged")?)))
                .collect()
        })
    }
}

fn scopes_to_json(scopes: Option<&[String]>) -> Result<String, StoreError> {
    serde_json::to_string(&scopes).map_err(|e| StoreError::Corrupt(format!("scopes: {e}")))
}

fn scopes_from_json(text: &str) -> Result<Option<Vec<String>>, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Corrupt(format!("api_keys.scopes is not a JSON array or null: {e}"))
    })
}

fn limit_row(
    retention: Option<String>,
    threshold: Option<i64>,
) -> Result<Option<KeyLimitRow>, StoreError> {
    match (retention, threshold) {
        (Some(retention), Some(threshold_nanos)) => Ok(Some(KeyLimitRow {
            retention,
            threshold_nanos,
        })),
        (None, None) => Ok(None),
        _ => Err(StoreError::Corrupt(
            "api_keys.limit_retention and limit_threshold_nanos must be both set or both NULL"
                .into(),
        )),
    }
}

fn key_record(row: &impl DbRow) -> Result<KeyRecord, StoreError> {
    let id = row.text("id")?;
    let account_id = row
        .opt_text("account_id")?
        .ok_or_else(|| StoreError::Corrupt(format!("api key {id} has no account")))?;
    Ok(KeyRecord {
        public_id: row.text("public_id")?,
        prefix: row.text("prefix")?,
        account_id,
        name: row.opt_text("name")?,
        kind: row.text("kind")?,
        disabled: row.boolean("disabled")?,
        scopes: scopes_from_json(&row.text("scopes")?)?,
        limit: limit_row(
            row.opt_text("limit_retention")?,
            row.opt_int("limit_threshold_nanos")?,
        )?,
        rate: RateRow {
            rpm: row.opt_int("rpm_limit")?,
            tpm: row.opt_int("tpm_limit")?,
        },
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        id,
    })
}

fn auth_record(row: &impl DbRow) -> Result<AuthRecord, StoreError> {
    let hash = unhex32(&row.text("key_hash")?)
        .ok_or_else(|| StoreError::Corrupt("api_keys.key_hash is not 64 hex digits".into()))?;
    let account = match row.opt_text("account_found")? {
        Some(id) => Some(AuthAccount {
            id,
            is_admin: row.boolean("account_is_admin")?,
            disabled: row.boolean("account_disabled")?,
            rate: RateRow {
                rpm: row.opt_int("account_rpm_limit")?,
                tpm: row.opt_int("account_tpm_limit")?,
            },
        }),
        None => None,
    };
    Ok(AuthRecord {
        id: row.text("id")?,
        public_id: row.text("public_id")?,
        prefix: row.text("prefix")?,
        hash,
        disabled: row.boolean("disabled")?,
        deleted: row.opt_int("deleted_at")?.is_some(),
        kind: row.text("kind")?,
        scopes: scopes_from_json(&row.text("scopes")?)?,
        rate: RateRow {
            rpm: row.opt_int("rpm_limit")?,
            tpm: row.opt_int("tpm_limit")?,
        },
        account,
    })
}

/// A random id: `prefix` followed by 32 hex digits.
pub(crate) fn random_id(prefix: &str) -> String {
    let bytes: [u8; 16] = OsRng.r#gen();
    format!("{prefix}{}", hex(&bytes))
}

fn new_id() -> String {
    random_id("key_")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
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
        let new = NewKeyRow {
            account_id: "acct_1".into(),
            name: None,
            kind: "regular".into(),
            scopes: None,
            limit: None,
            rate: RateRow::default(),
        };
        let key = GeneratedKey::new();
        assert!(
            store
                .insert_key("key_a", &key, &new, "null", 1)
                .await
                .unwrap()
        );
        assert!(
            !store
                .insert_key("key_b", &key, &new, "null", 2)
                .await
                .unwrap()
        );
        let mut other_public_id = GeneratedKey::new();
        other_public_id.prefix = key.prefix.clone();
        assert!(
            !store
                .insert_key("key_c", &other_public_id, &new, "null", 3)
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
