//! Money in the database: holds for calls in flight, settlement into the
//! ledger, grants, the transactions list, and the per-minute rate windows.
//!
//! Every balance movement is one database transaction whose first statement
//! is a write: SQLite takes its write lock at once (waiting up to the busy
//! timeout for another writer) and PostgreSQL locks the account row, so
//! concurrent callers — threads or replicas — serialise on it and the
//! conditional UPDATEs can never overspend. Rows are always locked in the
//! same order (ledger, account, key, rate window) so PostgreSQL cannot
//! deadlock. A transaction refused as busy/locked is retried a few times.

use std::{future::Future, time::Duration};

use crate::{
    Store, StoreError, UsageRow,
    db::{DbRow, on_pool},
    sql, sql_money,
    usage::bind_usage,
};

/// Start (unix ms) of the current day, week and month windows, so the
/// database can restart a key's limit whose window moved on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowStarts {
    pub day: i64,
    pub week: i64,
    pub month: i64,
}

/// A hold to place.
#[derive(Debug, Clone)]
pub struct NewHold<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub key_id: &'a str,
    pub amount_nanos: i64,
    /// Skip the balance check (the hold is still placed).
    pub bypass_balance: bool,
    pub windows: WindowStarts,
    pub now: i64,
    pub expires_at: i64,
}

/// What placing a hold came to. Anything but `Placed` changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    Placed,
    NoAccount,
    InsufficientBalance {
        balance_nanos: i64,
        held_nanos: i64,
    },
    /// The key does not exist or belongs to another account.
    NoKey,
    KeyLimitExceeded {
        retention: Option<String>,
        threshold_nanos: Option<i64>,
        /// Spent in the current window.
        spent_nanos: i64,
        held_nanos: i64,
    },
}

/// A hold being settled (as placed).
#[derive(Debug, Clone, Copy)]
pub struct HoldRef<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub key_id: &'a str,
}

/// One settlement: the ledger row (with `charged_nanos` set) and, when the
/// call had a hold, the hold and the charge row to write.
#[derive(Debug, Clone)]
pub struct SettleSpec<'a> {
    pub row: &'a UsageRow,
    pub hold: Option<HoldRef<'a>>,
    /// The CHARGE transaction (only when `row.charged_nanos > 0`).
    pub charge: Option<&'a TxRecord>,
    pub windows: WindowStarts,
    /// Start (unix ms) of the current rate-limit minute and the tokens to count in it.
    pub minute: i64,
    pub tokens: i64,
}

/// A `transactions` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    pub id: String,
    pub account_id: String,
    pub created_at: i64,
    /// `TOPUP` or `CHARGE`.
    pub direction: String,
    /// `PAYMENT`, `MODEL_USAGE`, ...
    pub kind: String,
    /// Always positive; `direction` carries the sign.
    pub amount_nanos: i64,
    pub model: Option<String>,
    pub reference_id: Option<String>,
    pub key_id: Option<String>,
    pub note: Option<String>,
    pub created_by: Option<String>,
}

/// Which transactions to list (newest first).
#[derive(Debug, Clone)]
pub struct TxFilter<'a> {
    pub account_id: &'a str,
    /// `created_at >= from`.
    pub from: Option<i64>,
    /// `created_at < to`.
    pub to: Option<i64>,
    pub direction: Option<&'a str>,
    pub kind: Option<&'a str>,
    /// Continue after this `(created_at, id)` position.
    pub after: Option<(i64, &'a str)>,
    pub limit: u32,
}

/// An account's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountMoney {
    pub balance_nanos: i64,
    pub held_nanos: i64,
}

/// Sums of an account's transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxTotals {
    pub topups_nanos: i64,
    pub charges_nanos: i64,
}

/// Requests and tokens counted in one rate-limit minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateCounts {
    pub requests: i64,
    pub tokens: i64,
}

/// Attempts for a transaction refused as busy/locked/serialisation failure.
const BUSY_ATTEMPTS: u32 = 6;

impl Store {
    /// Places a hold: reserves the amount on the account (if its balance
    /// covers it) and on the key (if its limit allows), and records it.
    pub async fn place_hold(&self, h: &NewHold<'_>) -> Result<HoldOutcome, StoreError> {
        retry_busy(|| self.place_hold_once(h)).await
    }

    async fn place_hold_once(&self, h: &NewHold<'_>) -> Result<HoldOutcome, StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let held = sqlx::query(sql_money::HOLD_ACCOUNT)
                .bind(h.account_id)
                .bind(h.amount_nanos)
                .bind(h.bypass_balance)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if held == 0 {
                let row = sqlx::query(sql_money::ACCOUNT_MONEY)
                    .bind(h.account_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.rollback().await?;
                return match row {
                    None => Ok(HoldOutcome::NoAccount),
                    Some(r) => Ok(HoldOutcome::InsufficientBalance {
                        balance_nanos: r.int("balance_nanos")?,
                        held_nanos: r.int("held_nanos")?,
                    }),
                };
            }
            let w = h.windows;
            let keyed = sqlx::query(sql_money::HOLD_KEY)
                .bind(h.key_id)
                .bind(h.account_id)
                .bind(h.amount_nanos)
                .bind(w.day)
                .bind(w.week)
                .bind(w.month)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if keyed == 0 {
                let row = sqlx::query(sql_money::KEY_LIMIT_STATE)
                    .bind(h.key_id)
                    .bind(h.account_id)
                    .bind(w.day)
                    .bind(w.week)
                    .bind(w.month)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.rollback().await?;
                return match row {
                    None => Ok(HoldOutcome::NoKey),
                    Some(r) => Ok(HoldOutcome::KeyLimitExceeded {
                        retention: r.opt_text("limit_retention")?,
                        threshold_nanos: r.opt_int("limit_threshold_nanos")?,
                        spent_nanos: r.int("spent")?,
                        held_nanos: r.int("held_nanos")?,
                    }),
                };
            }
            sqlx::query(sql_money::INSERT_HOLD)
                .bind(h.id)
                .bind(h.account_id)
                .bind(h.key_id)
                .bind(h.amount_nanos)
                .bind(h.now)
                .bind(h.expires_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(HoldOutcome::Placed)
        })
    }

    /// Settles one call: writes the ledger row unless its request id is
    /// already there (then nothing else happens and `false` is returned);
    /// otherwise removes the hold (taking it off the account and key if it
    /// was not released already), charges `row.charged_nanos`, writes the
    /// charge transaction and counts the tokens in the rate window.
    pub async fn settle(&self, s: &SettleSpec<'_>) -> Result<bool, StoreError> {
        retry_busy(|| self.settle_once(s)).await
    }

    async fn settle_once(&self, s: &SettleSpec<'_>) -> Result<bool, StoreError> {
        let row = s.row;
        let charge = row.charged_nanos;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let inserted = bind_usage!(sqlx::query(sql::INSERT_USAGE), row)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            if let Some(h) = s.hold {
                let released = sqlx::query(sql_money::DELETE_HOLD)
                    .bind(h.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let held = match &released {
                    Some(r) => r.int("amount_nanos")?,
                    // Already released as expired: only the charge remains.
                    None => 0,
                };
                sqlx::query(sql_money::SETTLE_ACCOUNT)
                    .bind(h.account_id)
                    .bind(held)
                    .bind(charge)
                    .execute(&mut *tx)
                    .await?;
                let w = s.windows;
                sqlx::query(sql_money::SETTLE_KEY)
                    .bind(h.key_id)
                    .bind(held)
                    .bind(charge)
                    .bind(w.day)
                    .bind(w.week)
                    .bind(w.month)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(t) = s.charge {
                bind_tx!(sqlx::query(sql_money::INSERT_TRANSACTION), t)
                    .execute(&mut *tx)
                    .await?;
            }
            if let (Some(key_id), true) = (&row.key_id, s.tokens > 0) {
                sqlx::query(sql_money::RATE_ADD_TOKENS)
                    .bind(key_id)
                    .bind(s.minute)
                    .bind(s.tokens)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Ids of holds that expired at or before `now` (oldest first, at most `limit`).
    pub async fn expired_holds(&self, now: i64, limit: u32) -> Result<Vec<String>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(sql_money::EXPIRED_HOLDS)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            rows.iter().map(|r| r.text("id").map_err(StoreError::from)).collect()
        })
    }

    /// Releases a hold without charging anything. Returns whether it was
    /// still open.
    pub async fn release_hold(&self, id: &str) -> Result<bool, StoreError> {
        retry_busy(|| self.release_hold_once(id)).await
    }

    async fn release_hold_once(&self, id: &str) -> Result<bool, StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let Some(r) = sqlx::query(sql_money::DELETE_HOLD)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
            else {
                tx.rollback().await?;
                return Ok(false);
            };
            let account_id = r.text("account_id")?;
            let key_id = r.text("key_id")?;
            let amount = r.int("amount_nanos")?;
            sqlx::query(sql_money::SETTLE_ACCOUNT)
                .bind(&account_id)
                .bind(amount)
                .bind(0_i64)
                .execute(&mut *tx)
                .await?;
            // Only the held amount changes; the limit window is left alone.
            sqlx::query("UPDATE api_keys SET held_nanos = held_nanos - $2 WHERE id = $1")
                .bind(&key_id)
                .bind(amount)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Adds `t.amount_nanos` to the account's balance and records the TOPUP
    /// transaction `t`, in one database transaction. Returns `false` (and
    /// changes nothing) when the account does not exist.
    pub async fn credit_account(&self, t: &TxRecord) -> Result<bool, StoreError> {
        retry_busy(|| self.credit_account_once(t)).await
    }

    async fn credit_account_once(&self, t: &TxRecord) -> Result<bool, StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query(sql_money::CREDIT_ACCOUNT)
                .bind(&t.account_id)
                .bind(t.amount_nanos)
                .bind(t.created_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            bind_tx!(sqlx::query(sql_money::INSERT_TRANSACTION), t)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The account's balance and open holds (`None`: no such account).
    pub async fn account_money(
        &self,
        account_id: &str,
    ) -> Result<Option<AccountMoney>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql_money::ACCOUNT_MONEY)
                .bind(account_id)
                .fetch_optional(p)
                .await?;
            row.map(|r| -> Result<AccountMoney, StoreError> {
                Ok(AccountMoney {
                    balance_nanos: r.int("balance_nanos")?,
                    held_nanos: r.int("held_nanos")?,
                })
            })
            .transpose()
        })
    }

    /// One page of transactions, newest first.
    pub async fn list_transactions(&self, f: &TxFilter<'_>) -> Result<Vec<TxRecord>, StoreError> {
        let (after_at, after_id) = match f.after {
            Some((at, id)) => (Some(at), Some(id)),
            None => (None, None),
        };
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(sql_money::LIST_TRANSACTIONS)
                .bind(f.account_id)
                .bind(f.from)
                .bind(f.to)
                .bind(f.direction)
                .bind(f.kind)
                .bind(i64::from(f.limit))
                .bind(after_at)
                .bind(after_id)
                .fetch_all(p)
                .await?;
            rows.iter().map(tx_record).collect()
        })
    }

    /// Sums of the account's TOPUPs and CHARGEs.
    pub async fn transaction_totals(&self, account_id: &str) -> Result<TxTotals, StoreError> {
        on_pool!(&self.pool, p => {
            let r = sqlx::query(sql_money::TRANSACTION_TOTALS)
                .bind(account_id)
                .fetch_one(p)
                .await?;
            Ok(TxTotals {
                topups_nanos: r.int("topups")?,
                charges_nanos: r.int("charges")?,
            })
        })
    }

    /// Counts one request for the key in `minute` if fewer than `max_requests`
    /// requests and `max_tokens` tokens are counted there. Returns the counts
    /// after it, or `None` when refused (nothing counted).
    pub async fn rate_hit(
        &self,
        key_id: &str,
        minute: i64,
        max_requests: i64,
        max_tokens: i64,
    ) -> Result<Option<RateCounts>, StoreError> {
        retry_busy(|| async {
            on_pool!(&self.pool, p => {
                let row = sqlx::query(sql_money::RATE_HIT)
                    .bind(key_id)
                    .bind(minute)
                    .bind(max_requests)
                    .bind(max_tokens)
                    .fetch_optional(p)
                    .await?;
                row.map(|r| rate_counts(&r)).transpose()
            })
        })
        .await
    }

    /// The counts of the key's `minute` (zero when nothing was counted).
    pub async fn rate_window(&self, key_id: &str, minute: i64) -> Result<RateCounts, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql_money::RATE_WINDOW)
                .bind(key_id)
                .bind(minute)
                .fetch_optional(p)
                .await?;
            Ok(match row {
                Some(r) => rate_counts(&r)?,
                None => RateCounts { requests: 0, tokens: 0 },
            })
        })
    }

    /// Deletes rate windows that started before `before`. Returns how many.
    pub async fn prune_rate_windows(&self, before: i64) -> Result<u64, StoreError> {
        retry_busy(|| async {
            Ok(
                on_pool!(&self.pool, p => sqlx::query(sql_money::PRUNE_RATE_WINDOWS)
                .bind(before)
                .execute(p)
                .await?
                .rows_affected()),
            )
        })
        .await
    }
}

fn rate_counts(r: &impl DbRow) -> Result<RateCounts, StoreError> {
    Ok(RateCounts {
        requests: r.int("requests")?,
        tokens: r.int("tokens")?,
    })
}

/// Binds a [`TxRecord`] to [`sql_money::INSERT_TRANSACTION`]'s parameters.
macro_rules! bind_tx {
    ($q:expr, $t:expr) => {{
        let t: &TxRecord = $t;
        $q.bind(&t.id)
            .bind(&t.account_id)
            .bind(t.created_at)
            .bind(&t.direction)
            .bind(&t.kind)
            .bind(t.amount_nanos)
            .bind(&t.model)
            .bind(&t.reference_id)
            .bind(&t.key_id)
            .bind(&t.note)
            .bind(&t.created_by)
    }};
}
use bind_tx;

fn tx_record(r: &impl DbRow) -> Result<TxRecord, StoreError> {
    Ok(TxRecord {
        id: r.text("id")?,
        account_id: r.text("account_id")?,
        created_at: r.int("created_at")?,
        direction: r.text("direction")?,
        kind: r.text("kind")?,
        amount_nanos: r.int("amount_nanos")?,
        model: r.opt_text("model")?,
        reference_id: r.opt_text("reference_id")?,
        key_id: r.opt_text("key_id")?,
        note: r.opt_text("note")?,
        created_by: r.opt_text("created_by")?,
    })
}

/// Whether `e` is a transient conflict worth retrying: SQLite busy/locked
/// (codes 5, 6 and their extended forms), PostgreSQL serialisation failure
/// or deadlock.
fn is_busy(e: &StoreError) -> bool {
    let StoreError::Db(sqlx::Error::Database(db)) = e else {
        return false;
    };
    let code = db.code();
    let code = code.as_deref().unwrap_or("");
    if matches!(code, "40001" | "40P01") {
        return true;
    }
    let primary = code.parse::<i64>().map(|c| c & 0xff).unwrap_or(-1);
    matches!(primary, 5 | 6) || db.message().contains("database is locked")
}

/// Runs `op`, retrying a transient conflict with a short, growing backoff.
async fn retry_busy<T, F, Fut>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(10);
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if attempt < BUSY_ATTEMPTS && is_busy(&e) => {
                tracing::debug!(attempt, error = %e, "database busy; retrying");
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
                attempt += 1;
            }
            other => return other,
        }
    }
}
