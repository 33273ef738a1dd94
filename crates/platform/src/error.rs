//! The platform's errors. The HTTP crate maps each variant to a status, a
//! type and a code; messages here are safe to show to the caller (a store
//! error is wrapped and never shown).

use crate::{Nanos, Retention};

/// Which per-minute limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKind {
    Requests,
    Tokens,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Database trouble (shown to callers only as an internal error).
    #[error("store: {0}")]
    Store(#[from] switchyard_store::StoreError),
    /// Something unexpected inside the platform (e.g. password hashing failed).
    #[error("internal: {0}")]
    Internal(String),
    /// A caller-supplied value is wrong. `param` names it as the caller wrote it.
    #[error("{message}")]
    InvalidInput { param: String, message: String },
    /// The thing does not exist *for this caller* (another account's key is "not found" too).
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (wrong key kind, missing scope, not an administrator).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("Sign-up is closed on this server.")]
    SignupClosed,
    #[error("A valid invite code is needed to sign up.")]
    InviteRequired,
    #[error("An account with this email already exists.")]
    EmailTaken,
    /// Wrong email or password (one message for both, so emails cannot be probed).
    #[error("Incorrect email or password.")]
    InvalidCredentials,
    #[error("This account is disabled.")]
    AccountDisabled,
    /// Too many failed logins; try again after this many seconds.
    #[error("Too many failed login attempts. Try again in {retry_after_secs} seconds.")]
    LoginThrottled { retry_after_secs: u64 },
    /// The account's balance (less what is held for calls in flight) cannot cover the worst case.
    #[error(
        "Insufficient balance: {available} available, this request may cost up to {needed}. Add credit to your account."
    )]
    InsufficientBalance { available: Nanos, needed: Nanos },
    /// The key's spending limit for the current window would be exceeded.
    #[error("This key's spending limit ({threshold} per {}) would be exceeded: {spent} spent or held in this window, this request may cost up to {needed}.", retention_word(*retention))]
    KeyLimitExceeded {
        retention: Retention,
        threshold: Nanos,
        spent: Nanos,
        needed: Nanos,
        /// Unix ms when the window resets (`None` for `no_reset`).
        resets_at: Option<i64>,
    },
    /// Requests or tokens per minute exceeded.
    #[error("Rate limit reached: {limit} {} per minute. Try again in {retry_after_secs} seconds.", rate_word(*kind))]
    RateLimited {
        kind: RateKind,
        limit: u32,
        retry_after_secs: u64,
    },
}

fn retention_word(r: Retention) -> &'static str {
    match r {
        Retention::NoReset => "lifetime",
        Retention::Day => "day",
        Retention::Week => "week",
        Retention::Month => "month",
    }
}

fn rate_word(k: RateKind) -> &'static str {
    match k {
        RateKind::Requests => "requests",
        RateKind::Tokens => "tokens",
    }
}

impl PlatformError {
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        PlatformError::InvalidInput {
            param: param.into(),
            message: message.into(),
        }
    }
}
