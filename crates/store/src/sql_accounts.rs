//! SQL for accounts, sessions, login throttling, invites, settings and API keys.
//!
//! Portable between SQLite and PostgreSQL like [`crate::sql`]: `$N`
//! placeholders, no engine-specific functions; sums are cast to BIGINT
//! because PostgreSQL's `SUM(bigint)` is `numeric`.

// ---- accounts ----

macro_rules! account_columns {
    () => {
        "id, email, password_hash, is_admin, disabled, rpm_limit, tpm_limit, balance_nanos, \
         held_nanos, created_at, updated_at"
    };
}

pub const INSERT_ACCOUNT: &str = "INSERT INTO accounts \
     (id, email, password_hash, is_admin, disabled, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, FALSE, $5, $5)";

pub const ACCOUNT_BY_ID: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE id = $1"
);

pub const ACCOUNT_BY_EMAIL: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE email = $1"
);

pub const LIST_ACCOUNTS: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts ORDER BY created_at, id"
);

pub const FIRST_ADMIN: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE is_admin = TRUE AND disabled = FALSE ORDER BY created_at, id LIMIT 1"
);

pub const SET_ACCOUNT_ADMIN: &str =
    "UPDATE accounts SET is_admin = $1, updated_at = $2 WHERE id = $3";

pub const SET_ACCOUNT_DISABLED: &str =
    "UPDATE accounts SET disabled = $1, updated_at = $2 WHERE id = $3";

pub const SET_ACCOUNT_RATE: &str =
    "UPDATE accounts SET rpm_limit = $1, tpm_limit = $2, updated_at = $3 WHERE id = $4";

/// Makes the account an administrator with this password hash.
pub const PROMOTE_ACCOUNT: &str =
    "UPDATE accounts SET is_admin = TRUE, password_hash = $1, updated_at = $2 WHERE email = $3";

// ---- invites ----

pub const INSERT_INVITE: &str = "INSERT INTO invites \
     (code_hash, created_by, created_at, expires_at, used_by, used_at) \
     VALUES ($1, $2, $3, $4, NULL, NULL)";

/// Marks an unused, unexpired invite as used (0 rows: not usable).
pub const USE_INVITE: &str = "UPDATE invites SET used_by = $1, used_at = $2 \
     WHERE code_hash = $3 AND used_by IS NULL AND expires_at > $2";

// ---- sessions ----

pub const INSERT_SESSION: &str = "INSERT INTO sessions \
     (token_hash, account_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

pub const SESSION_BY_HASH: &str = "SELECT s.csrf_token AS session_csrf, \
     s.created_at AS session_created_at, s.expires_at AS session_expires_at, \
     a.id, a.email, a.password_hash, a.is_admin, a.disabled, a.rpm_limit, a.tpm_limit, \
     a.balance_nanos, a.held_nanos, a.created_at, a.updated_at \
     FROM sessions s JOIN accounts a ON a.id = s.account_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2";

pub const DELETE_SESSION: &str = "DELETE FROM sessions WHERE token_hash = $1";

pub const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";

pub const DELETE_ACCOUNT_SESSIONS: &str = "DELETE FROM sessions WHERE account_id = $1";

// ---- login throttling ----

pub const INSERT_LOGIN_FAILURE: &str =
    "INSERT INTO login_failures (id, email, client, at) VALUES ($1, $2, $3, $4)";

/// The newest `$3` failures for an email after `$2`, newest first.
pub const RECENT_FAILURES_BY_EMAIL: &str =
    "SELECT at FROM login_failures WHERE email = $1 AND at > $2 ORDER BY at DESC LIMIT $3";

/// The newest `$3` failures from a client address after `$2`, newest first.
pub const RECENT_FAILURES_BY_CLIENT: &str =
    "SELECT at FROM login_failures WHERE client = $1 AND at > $2 ORDER BY at DESC LIMIT $3";

pub const CLEAR_FAILURES_FOR_EMAIL: &str = "DELETE FROM login_failures WHERE email = $1";

pub const PRUNE_FAILURES: &str = "DELETE FROM login_failures WHERE at <= $1";

// ---- settings ----

pub const GET_SETTING: &str = "SELECT value FROM settings WHERE name = $1";

pub const PUT_SETTING: &str = "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

// ---- API keys ----

pub const INSERT_KEY: &str = "INSERT INTO api_keys \
     (id, public_id, prefix, key_hash, name, disabled, scopes, deleted_at, created_at, updated_at, \
      account_id, kind, limit_retention, limit_threshold_nanos, rpm_limit, tpm_limit) \
     VALUES ($1, $2, $3, $4, $5, FALSE, $6, NULL, $7, $7, $8, $9, $10, $11, $12, $13)";

macro_rules! key_columns {
    () => {
        "id, public_id, prefix, account_id, name, kind, disabled, scopes, limit_retention, \
         limit_threshold_nanos, rpm_limit, tpm_limit, created_at, updated_at"
    };
}

/// Every account's keys (the operator's view), oldest first.
pub const LIST_KEYS: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys WHERE deleted_at IS NULL ORDER BY created_at, id"
);

/// One account's keys, optionally of one kind (`$2` NULL: all kinds), oldest first.
pub const LIST_ACCOUNT_KEYS: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys WHERE account_id = $1 AND deleted_at IS NULL \
     AND ($2 IS NULL OR kind = $2) ORDER BY created_at, id"
);

pub const KEY_BY_PREFIX: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys WHERE prefix = $1 AND deleted_at IS NULL"
);

pub const ACCOUNT_KEY_BY_PREFIX: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys WHERE account_id = $1 AND prefix = $2 AND deleted_at IS NULL"
);

pub const KEY_BY_ID: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys WHERE id = $1 AND deleted_at IS NULL"
);

/// The key (any state) with its account's flags and rate defaults.
pub const KEY_FOR_AUTH: &str = "SELECT k.id, k.public_id, k.prefix, k.key_hash, k.disabled, \
     k.deleted_at, k.kind, k.scopes, k.rpm_limit, k.tpm_limit, k.account_id, \
     a.id AS account_found, COALESCE(a.is_admin, FALSE) AS account_is_admin, \
     COALESCE(a.disabled, FALSE) AS account_disabled, \
     a.rpm_limit AS account_rpm_limit, a.tpm_limit AS account_tpm_limit \
     FROM api_keys k LEFT JOIN accounts a ON a.id = k.account_id WHERE k.public_id = $1";

/// Changes the fields whose flag (`$1`, `$3`, `$5`, `$7`, `$10`) is true, in one statement.
pub const UPDATE_ACCOUNT_KEY: &str = "UPDATE api_keys SET \
     name = CASE WHEN $1 THEN $2 ELSE name END, \
     disabled = CASE WHEN $3 THEN $4 ELSE disabled END, \
     scopes = CASE WHEN $5 THEN $6 ELSE scopes END, \
     limit_retention = CASE WHEN $7 THEN $8 ELSE limit_retention END, \
     limit_threshold_nanos = CASE WHEN $7 THEN $9 ELSE limit_threshold_nanos END, \
     rpm_limit = CASE WHEN $10 THEN $11 ELSE rpm_limit END, \
     tpm_limit = CASE WHEN $10 THEN $12 ELSE tpm_limit END, \
     updated_at = $13 \
     WHERE account_id = $14 AND prefix = $15 AND deleted_at IS NULL";

pub const SET_DISABLED: &str = "UPDATE api_keys SET disabled = $1, updated_at = $2 \
     WHERE prefix = $3 AND deleted_at IS NULL";

/// Sets the per-minute limits of the non-deleted key with this prefix,
/// whichever account owns it (`NULL`: inherit the account's / server's).
pub const SET_KEY_RATE: &str = "UPDATE api_keys SET rpm_limit = $1, tpm_limit = $2, \
     updated_at = $3 WHERE prefix = $4 AND deleted_at IS NULL";

pub const SOFT_DELETE: &str = "UPDATE api_keys SET deleted_at = $1, updated_at = $1 \
     WHERE prefix = $2 AND deleted_at IS NULL";

pub const SOFT_DELETE_ACCOUNT_KEY: &str = "UPDATE api_keys SET deleted_at = $1, updated_at = $1 \
     WHERE account_id = $2 AND prefix = $3 AND deleted_at IS NULL";

/// What one key was charged since `$2` (unix ms).
pub const KEY_CHARGED_SINCE: &str = "SELECT CAST(COALESCE(SUM(charged_nanos), 0) AS BIGINT) \
     FROM usage_ledger WHERE key_id = $1 AND created_at >= $2";

/// What each of an account's keys was charged since `$2` (keys without charges are absent).
pub const ACCOUNT_KEYS_CHARGED_SINCE: &str = "SELECT key_id, \
     CAST(COALESCE(SUM(charged_nanos), 0) AS BIGINT) AS charged \
     FROM usage_ledger \
     WHERE key_id IN (SELECT id FROM api_keys WHERE account_id = $1) AND created_at >= $2 \
     GROUP BY key_id";
