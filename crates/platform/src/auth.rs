//! What an authenticated API key is allowed to do.

use crate::{KeyKind, RateLimits, Scopes};

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
