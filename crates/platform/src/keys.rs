//! API keys that belong to accounts: kinds, scopes, spending limits, rate
//! limits. An account only ever sees its own keys: another account's prefix
//! is "not found".

use std::collections::HashMap;

use switchyard_store::{KeyLimitRow, KeyRecord, KeyUpdate, NewKeyRow, RateRow, StoreError};

use crate::{
    KeyKind, KeyLimit, Nanos, Platform, PlatformError, RateLimits, Retention, Scope, Scopes,
};

/// Longest accepted key name, in characters.
pub const KEY_NAME_MAX_CHARS: usize = 256;

/// What a new key is made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: Option<String>,
    pub kind: KeyKind,
    /// `None`: every scope.
    pub scopes: Scopes,
    pub limit: Option<KeyLimit>,
}

/// A key as its owner sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Internal id (the ledger's `key_id`); not shown by the API.
    pub id: String,
    pub prefix: String,
    /// The owning account's id.
    pub account_id: String,
    pub name: Option<String>,
    pub kind: KeyKind,
    pub disabled: bool,
    pub scopes: Scopes,
    pub limit: Option<KeyLimit>,
    /// The key's own rate limits (`None` in a dimension: the account's, else the server's).
    pub rate: RateLimits,
    pub created_at: i64,
    pub updated_at: i64,
    /// Charged since the 1st of the current month, 00:00 UTC.
    pub monthly_usage: Nanos,
}

/// A key just made: the secret is shown once and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedApiKey {
    pub secret: String,
    pub info: KeyInfo,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("secret", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

/// Changes to a key; `None` leaves a field as it is (`Some(None)` clears a name or limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPatch {
    pub name: Option<Option<String>>,
    pub disabled: Option<bool>,
    pub scopes: Option<Scopes>,
    pub limit: Option<Option<KeyLimit>>,
    pub rate: Option<RateLimits>,
}

impl Platform {
    /// Makes a key for the account.
    pub async fn create_key(
        &self,
        account_id: &str,
        new: NewKey,
    ) -> Result<CreatedApiKey, PlatformError> {
        if self.store.account_by_id(account_id).await?.is_none() {
            return Err(PlatformError::NotFound("No such account.".into()));
        }
        let row = NewKeyRow {
            account_id: account_id.to_owned(),
            name: check_name(new.name)?,
            kind: new.kind.as_str().to_owned(),
            scopes: scopes_to_row(new.scopes),
            limit: new.limit.map(limit_to_row).transpose()?,
            rate: RateRow::default(),
        };
        let created = self.store.create_key_at(&row, self.now_ms()).await?;
        tracing::info!(account = %account_id, prefix = %created.record.prefix, kind = %row.kind, "API key created");
        Ok(CreatedApiKey {
            secret: created.secret,
            info: key_info(created.record, 0)?,
        })
    }

    /// The account's keys that are not deleted (of one kind, if given), oldest first.
    pub async fn list_keys(
        &self,
        account_id: &str,
        kind: Option<KeyKind>,
    ) -> Result<Vec<KeyInfo>, PlatformError> {
        let records = self
            .store
            .list_account_keys(account_id, kind.map(KeyKind::as_str))
            .await?;
        let charged: HashMap<String, i64> = self
            .store
            .account_keys_charged_since(account_id, self.month_start())
            .await?;
        records
            .into_iter()
            .map(|r| {
                let used = charged.get(&r.id).copied().unwrap_or(0);
                key_info(r, used)
            })
            .collect()
    }

    /// The account's key with this prefix (`None` also for another account's key).
    pub async fn key(
        &self,
        account_id: &str,
        prefix: &str,
    ) -> Result<Option<KeyInfo>, PlatformError> {
        match self.store.account_key_by_prefix(account_id, prefix).await? {
            Some(r) => self.with_usage(r).await.map(Some),
            None => Ok(None),
        }
    }

    /// The (not deleted) key with this internal id.
    pub async fn key_by_id(&self, key_id: &str) -> Result<Option<KeyInfo>, PlatformError> {
        match self.store.key_by_id(key_id).await? {
            Some(r) => self.with_usage(r).await.map(Some),
            None => Ok(None),
        }
    }

    /// The non-deleted key with this prefix, whichever account owns it (the
    /// operator's view: the CLI). Dashboard and API use [`Platform::key`].
    pub async fn key_by_prefix(&self, prefix: &str) -> Result<Option<KeyInfo>, PlatformError> {
        match self.store.key_by_prefix(prefix).await? {
            Some(r) => self.with_usage(r).await.map(Some),
            None => Ok(None),
        }
    }

    /// Sets the requests/tokens per minute of the key with this prefix,
    /// whichever account owns it (the operator's view). `None` in a
    /// dimension: inherit the account's default, else the server's; 0:
    /// unlimited. Returns the key as it is now, `None` if there is no such key.
    pub async fn set_key_rate(
        &self,
        prefix: &str,
        rate: RateLimits,
    ) -> Result<Option<KeyInfo>, PlatformError> {
        let row = RateRow {
            rpm: rate.rpm.map(i64::from),
            tpm: rate.tpm.map(i64::from),
        };
        if !self.store.set_key_rate(prefix, row, self.now_ms()).await? {
            return Ok(None);
        }
        tracing::info!(prefix = %prefix, rpm = ?rate.rpm, tpm = ?rate.tpm, "API key rate limits set");
        self.key_by_prefix(prefix).await
    }

    /// Changes the account's key with this prefix; `None` if it has no such key.
    pub async fn update_key(
        &self,
        account_id: &str,
        prefix: &str,
        patch: KeyPatch,
    ) -> Result<Option<KeyInfo>, PlatformError> {
        let update = KeyUpdate {
            name: patch.name.map(check_name).transpose()?,
            disabled: patch.disabled,
            scopes: patch.scopes.map(scopes_to_row),
            limit: patch
                .limit
                .map(|l| l.map(limit_to_row).transpose())
                .transpose()?,
            rate: patch.rate.map(|r| RateRow {
                rpm: r.rpm.map(i64::from),
                tpm: r.tpm.map(i64::from),
            }),
        };
        match self
            .store
            .update_account_key(account_id, prefix, &update, self.now_ms())
            .await?
        {
            Some(r) => {
                tracing::info!(account = %account_id, prefix = %prefix, "API key updated");
                self.with_usage(r).await.map(Some)
            }
            None => Ok(None),
        }
    }

    /// Deletes the account's key with this prefix; `false` if it has no such key.
    pub async fn delete_key(&self, account_id: &str, prefix: &str) -> Result<bool, PlatformError> {
        let deleted = self
            .store
            .delete_account_key(account_id, prefix, self.now_ms())
            .await?;
        if deleted {
            tracing::info!(account = %account_id, prefix = %prefix, "API key deleted");
        }
        Ok(deleted)
    }

    async fn with_usage(&self, r: KeyRecord) -> Result<KeyInfo, PlatformError> {
        let used = self
            .store
            .key_charged_since(&r.id, self.month_start())
            .await?;
        key_info(r, used)
    }

    fn month_start(&self) -> i64 {
        Retention::Month.window_start(self.now_ms())
    }
}

fn check_name(name: Option<String>) -> Result<Option<String>, PlatformError> {
    let Some(name) = name else { return Ok(None) };
    if name.chars().count() > KEY_NAME_MAX_CHARS {
        return Err(PlatformError::invalid(
            "name",
            format!("The key name must have at most {KEY_NAME_MAX_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(PlatformError::invalid(
            "name",
            "The key name must not contain control characters.",
        ));
    }
    Ok((!name.trim().is_empty()).then_some(name))
}

/// Scopes as stored: deduplicated, in the order given.
fn scopes_to_row(scopes: Scopes) -> Option<Vec<String>> {
    scopes.map(|list| {
        let mut out: Vec<String> = Vec::with_capacity(list.len());
        for s in list {
            let s = s.as_str().to_owned();
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    })
}

fn limit_to_row(limit: KeyLimit) -> Result<KeyLimitRow, PlatformError> {
    if limit.threshold.0 < 0 {
        return Err(PlatformError::invalid(
            "limit.threshold",
            "The limit's threshold must be a number ≥ 0.",
        ));
    }
    Ok(KeyLimitRow {
        retention: limit.retention.as_str().to_owned(),
        threshold_nanos: limit.threshold.0,
    })
}

fn corrupt(msg: String) -> PlatformError {
    PlatformError::Store(StoreError::Corrupt(msg))
}

pub(crate) fn kind_from_row(kind: &str, key_id: &str) -> Result<KeyKind, PlatformError> {
    KeyKind::parse(kind).ok_or_else(|| corrupt(format!("key {key_id} has unknown kind `{kind}`")))
}

pub(crate) fn scopes_from_row(
    scopes: Option<Vec<String>>,
    key_id: &str,
) -> Result<Scopes, PlatformError> {
    scopes
        .map(|list| {
            list.iter()
                .map(|s| {
                    s.parse::<Scope>()
                        .map_err(|e| corrupt(format!("key {key_id} has scope {e}")))
                })
                .collect()
        })
        .transpose()
}

fn limit_from_row(
    limit: Option<KeyLimitRow>,
    key_id: &str,
) -> Result<Option<KeyLimit>, PlatformError> {
    limit
        .map(|l| {
            let retention = l
                .retention
                .parse::<Retention>()
                .map_err(|e| corrupt(format!("key {key_id} has limit retention {e}")))?;
            if l.threshold_nanos < 0 {
                return Err(corrupt(format!(
                    "key {key_id} has a negative limit threshold"
                )));
            }
            Ok(KeyLimit {
                retention,
                threshold: Nanos(l.threshold_nanos),
            })
        })
        .transpose()
}

/// Stored per-minute limits as `u32` (negative or huge values are corrupt).
pub(crate) fn rate_from_row(
    rpm: Option<i64>,
    tpm: Option<i64>,
    owner: &str,
) -> Result<RateLimits, PlatformError> {
    let conv = |v: Option<i64>, what: &str| {
        v.map(|n| u32::try_from(n).map_err(|_| corrupt(format!("{owner} has {what} limit {n}"))))
            .transpose()
    };
    Ok(RateLimits {
        rpm: conv(rpm, "requests-per-minute")?,
        tpm: conv(tpm, "tokens-per-minute")?,
    })
}

fn key_info(r: KeyRecord, monthly_usage: i64) -> Result<KeyInfo, PlatformError> {
    Ok(KeyInfo {
        kind: kind_from_row(&r.kind, &r.id)?,
        scopes: scopes_from_row(r.scopes, &r.id)?,
        limit: limit_from_row(r.limit, &r.id)?,
        rate: rate_from_row(r.rate.rpm, r.rate.tpm, &format!("key {}", r.id))?,
        prefix: r.prefix,
        account_id: r.account_id,
        name: r.name,
        disabled: r.disabled,
        created_at: r.created_at,
        updated_at: r.updated_at,
        monthly_usage: Nanos(monthly_usage),
        id: r.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_rows_are_refused_with_a_clear_error() {
        assert!(matches!(
            kind_from_row("admin", "k1"),
            Err(PlatformError::Store(_))
        ));
        let e = scopes_from_row(Some(vec!["model:chat".into(), "model:nope".into()]), "k1")
            .unwrap_err();
        assert!(e.to_string().contains("model:nope"), "{e}");
        assert_eq!(scopes_from_row(None, "k1").unwrap(), None);
        let bad_limit = KeyLimitRow {
            retention: "yearly".into(),
            threshold_nanos: 1,
        };
        assert!(limit_from_row(Some(bad_limit), "k1").is_err());
        assert!(rate_from_row(Some(-1), None, "key k1").is_err());
        assert!(rate_from_row(None, Some(i64::MAX), "key k1").is_err());
        assert_eq!(
            rate_from_row(Some(60), None, "key k1").unwrap(),
            RateLimits {
                rpm: Some(60),
                tpm: None
            }
        );
    }

    #[test]
    fn names_are_checked_and_blank_means_none() {
        assert_eq!(check_name(Some("  ".into())).unwrap(), None);
        assert_eq!(check_name(Some("ci".into())).unwrap(), Some("ci".into()));
        assert!(check_name(Some("x".repeat(257))).is_err());
        assert!(check_name(Some("a\nb".into())).is_err());
        assert!(
            limit_to_row(KeyLimit {
                retention: Retention::Day,
                threshold: Nanos(-1)
            })
            .is_err()
        );
    }

    #[test]
    fn scopes_are_deduplicated_in_order() {
        assert_eq!(
            scopes_to_row(Some(vec![Scope::Image, Scope::Chat, Scope::Image])),
            Some(vec!["model:image".to_string(), "model:chat".to_string()])
        );
        assert_eq!(scopes_to_row(None), None);
    }
}
