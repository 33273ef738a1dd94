//! What an authenticated API key is allowed to do.

use switchyard_auth::ParsedKey;

use crate::{
    KeyKind, Platform, PlatformError, RateLimits, Scopes,
    keys::{kind_from_row, rate_from_row, scopes_from_row},
};

/// What every authenticated request knows about its key (cached by HTTP for ≤ 2 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAuth {
    /// Internal key id (`api_keys.id`).
    pub key_id: String,
    /// The key's public id (the part of the secret that is safe to show).
    pub public_id: String,
    /// The prefix shown to users and used in `/v1/keys/{prefix}`.
    pub prefix: String,
    pub account_id: String,
    pub account_is_admin: bool,
    pub kind: KeyKind,
    pub scopes: Scopes,
    /// The key's own rate limits, else the account's; `None` in a dimension = the server default.
    pub rate: RateLimits,
}

/// The outcome of looking up a presented API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAuthResult {
    Valid(KeyAuth),
    /// No such key, or the secret does not match.
    Unknown,
    /// The key exists but is disabled.
    Disabled,
    /// The key was deleted.
    Deleted,
    /// The key's account is disabled.
    AccountDisabled,
}

impl Platform {
    /// Looks a presented key up (hash compared in constant time) with its
    /// account. Deleted, disabled, and keys of disabled accounts are told apart
    /// so the caller can say why it refuses them.
    pub async fn authenticate(&self, key: &ParsedKey) -> Result<KeyAuthResult, PlatformError> {
        let Some(rec) = self.store.find_key_for_auth(key.public_id()).await? else {
            return Ok(KeyAuthResult::Unknown);
        };
        if !rec.hash_matches(&key.hash()) {
            return Ok(KeyAuthResult::Unknown);
        }
        if rec.deleted {
            return Ok(KeyAuthResult::Deleted);
        }
        if rec.disabled {
            return Ok(KeyAuthResult::Disabled);
        }
        let Some(account) = rec.account else {
            tracing::warn!(prefix = %rec.prefix, "API key without an account refused");
            return Ok(KeyAuthResult::Unknown);
        };
        if account.disabled {
            return Ok(KeyAuthResult::AccountDisabled);
        }
        let key_rate = rate_from_row(rec.rate.rpm, rec.rate.tpm, &format!("key {}", rec.id))?;
        let account_rate = rate_from_row(
            account.rate.rpm,
            account.rate.tpm,
            &format!("account {}", account.id),
        )?;
        Ok(KeyAuthResult::Valid(KeyAuth {
            kind: kind_from_row(&rec.kind, &rec.id)?,
            scopes: scopes_from_row(rec.scopes, &rec.id)?,
            rate: key_rate.or(account_rate),
            key_id: rec.id,
            public_id: rec.public_id,
            prefix: rec.prefix,
            account_id: account.id,
            account_is_admin: account.is_admin,
        }))
    }
}
