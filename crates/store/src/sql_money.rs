//! The SQL behind money (holds, settlement, grants, transactions), rate-limit
//! windows and the usage reports.
//!
//! Portable between SQLite and PostgreSQL like [`crate::sql`]: `$N`
//! placeholders, no engine-specific functions; sums are cast to BIGINT
//! (PostgreSQL's `SUM(bigint)` is NUMERIC).

/// The start of the window a key's limit currently counts, by its retention.
/// `$d`, `$w`, `$m`: the day/week/month window starts for "now".
macro_rules! window_expr {
    ($d:literal, $w:literal, $m:literal) => {
        concat!(
            "(CASE limit_retention WHEN 'day' THEN ",
            $d,
            " WHEN 'week' THEN ",
            $w,
            " WHEN 'month' THEN ",
            $m,
            " ELSE 0 END)"
        )
    };
}

/// What the key has spent in the current window (0 when the window moved on).
macro_rules! spent_expr {
    ($d:literal, $w:literal, $m:literal) => {
        concat!(
            "(CASE WHEN limit_window_start = ",
            window_expr!($d, $w, $m),
            " THEN limit_spent_nanos ELSE 0 END)"
        )
    };
}

// ---- holds ---------------------------------------------------------------

/// Reserves `$2` on the account if its free balance covers it (or `$3`: the
/// balance check is bypassed). The first statement of `authorize`, a write,
/// so SQLite takes the write lock at once and PostgreSQL locks the row;
/// PostgreSQL re-checks the WHERE on the locked, updated row.
pub const HOLD_ACCOUNT: &str = "UPDATE accounts SET held_nanos = held_nanos + $2 \
     WHERE id = $1 AND ($3 OR balance_nanos - held_nanos >= $2)";

pub const ACCOUNT_MONEY: &str = "SELECT balance_nanos, held_nanos FROM accounts WHERE id = $1";

/// Adds the hold `$3` to key `$1` of account `$2`, restarting the limit's
/// window when it moved, and only if spent + held + hold stays within the
/// threshold (no threshold: always).
pub const HOLD_KEY: &str = concat!(
    "UPDATE api_keys SET limit_spent_nanos = ",
    spent_expr!("$4", "$5", "$6"),
    ", limit_window_start = ",
    window_expr!("$4", "$5", "$6"),
    ", held_nanos = held_nanos + $3 WHERE id = $1 AND account_id = $2 \
     AND (limit_threshold_nanos IS NULL OR ",
    spent_expr!("$4", "$5", "$6"),
    " + held_nanos + $3 <= limit_threshold_nanos)"
);

/// The key's limit as it stands (spent in the current window).
pub const KEY_LIMIT_STATE: &str = concat!(
    "SELECT limit_retention, limit_threshold_nanos, ",
    spent_expr!("$3", "$4", "$5"),
    " AS spent, held_nanos FROM api_keys WHERE id = $1 AND account_id = $2"
);

pub const INSERT_HOLD: &str = "INSERT INTO holds \
     (id, account_id, key_id, amount_nanos, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Removes a hold; returns what it reserved (no row: already settled or released).
pub const DELETE_HOLD: &str =
    "DELETE FROM holds WHERE id = $1 RETURNING account_id, key_id, amount_nanos";

pub const EXPIRED_HOLDS: &str = "SELECT id FROM holds WHERE expires_at <= $1 \
     ORDER BY expires_at, id LIMIT $2";

/// Takes a released hold off the account and charges it `$3`.
pub const SETTLE_ACCOUNT: &str = "UPDATE accounts SET held_nanos = held_nanos - $2, \
     balance_nanos = balance_nanos - $3 WHERE id = $1";

/// Takes a released hold off the key and counts the charge `$3` in the
/// current window (restarted when it moved).
pub const SETTLE_KEY: &str = concat!(
    "UPDATE api_keys SET limit_spent_nanos = ",
    spent_expr!("$4", "$5", "$6"),
    " + $3, limit_window_start = ",
    window_expr!("$4", "$5", "$6"),
    ", held_nanos = held_nanos - $2 WHERE id = $1"
);

// ---- balance and transactions ---------------------------------------------

pub const CREDIT_ACCOUNT: &str = "UPDATE accounts SET balance_nanos = balance_nanos + $2, \
     updated_at = $3 WHERE id = $1";

pub const INSERT_TRANSACTION: &str = "INSERT INTO transactions \
     (id, account_id, created_at, direction, kind, amount_nanos, model, reference_id, key_id, \
      note, created_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// One page of an account's transactions, newest first, after the cursor
/// position `($7, $8)` when given.
pub const LIST_TRANSACTIONS: &str = "SELECT id, account_id, created_at, direction, kind, \
     amount_nanos, model, reference_id, key_id, note, created_by FROM transactions \
     WHERE account_id = $1 \
     AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3) \
     AND ($4 IS NULL OR direction = $4) AND ($5 IS NULL OR kind = $5) \
     AND ($7 IS NULL OR created_at < $7 OR (created_at = $7 AND id < $8)) \
     ORDER BY created_at DESC, id DESC LIMIT $6";

/// TOPUPs and CHARGEs of one account (for reconciliation).
pub const TRANSACTION_TOTALS: &str = "SELECT \
     COALESCE(CAST(SUM(CASE WHEN direction = 'TOPUP' THEN amount_nanos ELSE 0 END) AS BIGINT), 0) \
       AS topups, \
     COALESCE(CAST(SUM(CASE WHEN direction = 'CHARGE' THEN amount_nanos ELSE 0 END) AS BIGINT), 0) \
       AS charges \
     FROM transactions WHERE account_id = $1";

// ---- rate windows ----------------------------------------------------------

/// Counts one request in the minute, only while requests < `$3` and
/// tokens < `$4`; returns the counts after it (no row: refused).
pub const RATE_HIT: &str = "INSERT INTO rate_windows (key_id, minute, requests, tokens) \
     VALUES ($1, $2, 1, 0) \
     ON CONFLICT (key_id, minute) DO UPDATE SET requests = rate_windows.requests + 1 \
     WHERE rate_windows.requests < $3 AND rate_windows.tokens < $4 \
     RETURNING requests, tokens";

pub const RATE_WINDOW: &str =
    "SELECT requests, tokens FROM rate_windows WHERE key_id = $1 AND minute = $2";

pub const RATE_ADD_TOKENS: &str = "INSERT INTO rate_windows (key_id, minute, requests, tokens) \
     VALUES ($1, $2, 0, $3) \
     ON CONFLICT (key_id, minute) DO UPDATE SET tokens = rate_windows.tokens + $3";

pub const PRUNE_RATE_WINDOWS: &str = "DELETE FROM rate_windows WHERE minute < $1";

// ---- reports ---------------------------------------------------------------

/// The rows of one account (`$1`), optionally one key (`$2`), in `[$3, $4)`.
macro_rules! report_scope {
    () => {
        " FROM usage_ledger WHERE account_id = $1 AND ($2 IS NULL OR key_id = $2) \
          AND created_at >= $3 AND created_at < $4"
    };
}

macro_rules! count_succeeded {
    () => {
        "COALESCE(CAST(SUM(CASE WHEN succeeded THEN 1 ELSE 0 END) AS BIGINT), 0)"
    };
}

macro_rules! sum_of {
    ($col:literal) => {
        concat!("COALESCE(CAST(SUM(", $col, ") AS BIGINT), 0)")
    };
}

pub const USAGE_TOTALS: &str = concat!(
    "SELECT ",
    sum_of!("charged_nanos"),
    " AS spend, ",
    count_succeeded!(),
    " AS succeeded",
    report_scope!()
);

/// Per model: spend and charged requests; models with neither are left out.
pub const USAGE_BY_MODEL: &str = concat!(
    "SELECT model, ",
    sum_of!("charged_nanos"),
    " AS spend, ",
    count_succeeded!(),
    " AS succeeded",
    report_scope!(),
    " GROUP BY model HAVING ",
    sum_of!("charged_nanos"),
    " > 0 OR ",
    count_succeeded!(),
    " > 0 ORDER BY spend DESC, model"
);

/// Group columns shared by the bucketed and per-model group queries.
macro_rules! group_sums {
    () => {
        concat!(
            sum_of!("charged_nanos"),
            " AS spend, ",
            sum_of!("prompt_tokens"),
            " AS input_tokens, ",
            sum_of!("completion_tokens"),
            " AS output_tokens, COUNT(*) AS total, ",
            count_succeeded!(),
            " AS succeeded"
        )
    };
}

/// Per model and per `$5`-millisecond bucket (bucket = created_at / $5).
pub const USAGE_BUCKETS: &str = concat!(
    "SELECT created_at / $5 AS bucket, model, ",
    group_sums!(),
    report_scope!(),
    " GROUP BY bucket, model"
);

/// Per model.
pub const USAGE_MODEL_GROUPS: &str = concat!(
    "SELECT model, ",
    group_sums!(),
    report_scope!(),
    " GROUP BY model ORDER BY spend DESC, model"
);

/// Per key (`key_id` may be NULL for rows without a key).
pub const USAGE_KEY_GROUPS: &str = concat!(
    "SELECT key_id, ",
    group_sums!(),
    report_scope!(),
    " GROUP BY key_id ORDER BY spend DESC, key_id"
);

/// The WHERE clause of the request log. Fixed parameters: `$1` account,
/// `$2` key (or NULL), `$3`/`$4` the range, `$5` succeeded (or NULL for any);
/// then one parameter per model filter value from `$6` on. A value without
/// a `/` also matches the alias part of a `source/alias` model.
pub fn log_filter(models: &[&str]) -> String {
    let mut s = String::from(
        " FROM usage_ledger l LEFT JOIN api_keys k ON k.id = l.key_id \
         WHERE l.account_id = $1 AND ($2 IS NULL OR l.key_id = $2) \
         AND l.created_at >= $3 AND l.created_at < $4 \
         AND ($5 IS NULL OR l.succeeded = $5)",
    );
    if !models.is_empty() {
        let alts: Vec<String> = models
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let n = i + 6;
                if m.contains('/') {
                    format!("l.model = ${n}")
                } else {
                    format!(
                        "l.model = ${n} OR (length(l.model) > length(${n}) \
                         AND substr(l.model, length(l.model) - length(${n}) + 1) = ${n} \
                         AND substr(l.model, length(l.model) - length(${n}), 1) = '/')"
                    )
                }
            })
            .collect();
        s.push_str(" AND (");
        s.push_str(&alts.join(" OR "));
        s.push(')');
    }
    s
}

/// The request log page: the filter from [`log_filter`], then LIMIT/OFFSET
/// as the next two parameters.
pub fn log_page(models: &[&str]) -> String {
    let n = models.len() + 6;
    format!(
        "SELECT l.created_at, l.succeeded, l.origin, l.model, l.charged_nanos, l.prompt_tokens, \
         l.completion_tokens, l.request_id, l.inference_id, l.client_request_id, \
         k.prefix AS key_prefix{} ORDER BY l.created_at DESC, l.request_id DESC \
         LIMIT ${n} OFFSET ${}",
        log_filter(models),
        n + 1
    )
}

pub fn log_count(models: &[&str]) -> String {
    format!("SELECT COUNT(*){}", log_filter(models))
}
