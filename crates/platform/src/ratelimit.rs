//! Requests and tokens per minute per key, in fixed one-minute windows
//! shared through the database (so every replica counts against the same
//! window).
//!
//! A request is counted by [`Platform::rate_check`] before it runs; its
//! tokens are added to the window when it is settled. A request is refused
//! when the minute's requests are used up or its tokens are already at or
//! over the limit.

use crate::{KeyAuth, Platform, PlatformError, RateKind, RateLimits};

const MINUTE_MS: i64 = 60_000;
/// Windows older than this are deleted by the housekeeping.
pub const RATE_WINDOW_KEEP_MS: i64 = 10 * MINUTE_MS;

/// One dimension's state after a request was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dim {
    pub limit: u32,
    pub remaining: u32,
    /// Milliseconds until the window ends.
    pub reset_ms: i64,
}

/// The limits that apply to a key, after a request was let through.
/// `None` in a dimension: unlimited (send no headers for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateStatus {
    pub requests: Option<Dim>,
    pub tokens: Option<Dim>,
}

/// Start of the minute containing `now_ms`.
pub(crate) fn minute_of(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(MINUTE_MS)
}

impl Platform {
    /// The key's effective requests/tokens per minute (0: unlimited): the
    /// key's own, else its account's (both in `auth.rate`), else the server's.
    pub fn effective_rate(&self, auth: &KeyAuth) -> (u32, u32) {
        self.effective_rate_of(auth.rate, RateLimits::default())
    }

    /// The effective requests/tokens per minute (0: unlimited) of a key
    /// with its own limits `key` in an account with the defaults `account`.
    /// `effective_rate_of(RateLimits::default(), account)` is what a key
    /// without limits of its own gets.
    pub fn effective_rate_of(&self, key: RateLimits, account: RateLimits) -> (u32, u32) {
        let merged = key.or(account);
        (
            merged.rpm.unwrap_or(self.config.default_rpm),
            merged.tpm.unwrap_or(self.config.default_tpm),
        )
    }

    /// Counts one request of the key in the current minute, or refuses it
    /// with [`PlatformError::RateLimited`] (then nothing is counted).
    pub async fn rate_check(&self, auth: &KeyAuth) -> Result<RateStatus, PlatformError> {
        let (rpm, tpm) = self.effective_rate(auth);
        if rpm == 0 && tpm == 0 {
            return Ok(RateStatus::default());
        }
        let now = self.now_ms();
        let minute = minute_of(now);
        let reset_ms = minute + MINUTE_MS - now;
        let cap = |limit: u32| {
            if limit == 0 {
                i64::MAX
            } else {
                i64::from(limit)
            }
        };
        let counted = self
            .store
            .rate_hit(&auth.key_id, minute, cap(rpm), cap(tpm))
            .await?;
        let Some(counts) = counted else {
            let c = self.store.rate_window(&auth.key_id, minute).await?;
            let retry_after_secs = u64::try_from((reset_ms + 999) / 1000).unwrap_or(1).max(1);
            let (kind, limit) = if rpm != 0 && c.requests >= i64::from(rpm) {
                (RateKind::Requests, rpm)
            } else if tpm != 0 {
                (RateKind::Tokens, tpm)
            } else {
                (RateKind::Requests, rpm)
            };
            return Err(PlatformError::RateLimited {
                kind,
                limit,
                retry_after_secs,
            });
        };
        let dim = |limit: u32, used: i64| {
            (limit != 0).then(|| Dim {
                limit,
                remaining: u32::try_from(i64::from(limit).saturating_sub(used).max(0)).unwrap_or(0),
                reset_ms,
            })
        };
        Ok(RateStatus {
            requests: dim(rpm, counts.requests),
            tokens: dim(tpm, counts.tokens),
        })
    }

    /// Deletes rate windows older than ten minutes. Returns how many.
    pub async fn prune_rate_windows(&self) -> Result<u64, PlatformError> {
        let before = minute_of(self.now_ms()) - RATE_WINDOW_KEEP_MS;
        Ok(self.store.prune_rate_windows(before).await?)
    }
}
