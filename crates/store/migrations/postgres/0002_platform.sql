-- Platform tables: accounts, sessions, login throttling, invites, settings,
-- money (balances, holds, transactions), key ownership/kinds/limits,
-- rate-limit windows, and the ledger columns the usage/billing API reports.
-- Portable SQL (SQLite and PostgreSQL). Money is integer nano-dollars (1e-9 USD).

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    -- Lower-cased, trimmed.
    email         TEXT NOT NULL UNIQUE,
    -- argon2id PHC string; NULL: the account cannot log in (e.g. the bootstrap administrator).
    password_hash TEXT,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    -- Defaults for the account's keys (NULL: the server default).
    rpm_limit     BIGINT,
    tpm_limit     BIGINT,
    -- Grants minus settled charges.
    balance_nanos BIGINT NOT NULL DEFAULT 0,
    -- Sum of open holds (calls in flight).
    held_nanos    BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    -- SHA-256 (hex) of the session token; the token itself lives only in the cookie.
    token_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE login_failures (
    id      TEXT PRIMARY KEY,
    email   TEXT NOT NULL,
    client  TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);
CREATE INDEX login_failures_client ON login_failures (client, at);

CREATE TABLE invites (
    -- SHA-256 (hex) of the invite code.
    code_hash   TEXT PRIMARY KEY,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_by     TEXT,
    used_at     BIGINT
);

CREATE TABLE settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

ALTER TABLE api_keys ADD COLUMN account_id TEXT;
-- `regular` or `management`.
ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'regular';
-- Spending limit: `no_reset` | `day` | `week` | `month`, NULL for none.
ALTER TABLE api_keys ADD COLUMN limit_retention TEXT;
ALTER TABLE api_keys ADD COLUMN limit_threshold_nanos BIGINT;
-- Start (unix ms, 0 for no_reset) of the window that limit_spent_nanos counts.
ALTER TABLE api_keys ADD COLUMN limit_window_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN limit_spent_nanos BIGINT NOT NULL DEFAULT 0;
-- Sum of this key's open holds.
ALTER TABLE api_keys ADD COLUMN held_nanos BIGINT NOT NULL DEFAULT 0;
-- Per-key rate limits (NULL: the account's, else the server default).
ALTER TABLE api_keys ADD COLUMN rpm_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN tpm_limit BIGINT;
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);
-- Scopes: JSON array, or `null` for every scope. Keys made before scopes existed get every scope.
UPDATE api_keys SET scopes = 'null' WHERE scopes = '[]';

-- Keys made before accounts existed go to a bootstrap administrator (no password; set one with
-- `switchyard admin create admin@localhost`).
INSERT INTO accounts (id, email, password_hash, is_admin, created_at, updated_at)
    SELECT 'acct_bootstrap', 'admin@localhost', NULL, TRUE, MIN(created_at), MIN(created_at)
    FROM api_keys HAVING COUNT(*) > 0;
UPDATE api_keys SET account_id = 'acct_bootstrap' WHERE account_id IS NULL;

-- A hold reserves the worst-case cost of a call in flight, on the account and on the key.
CREATE TABLE holds (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    amount_nanos    BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX holds_expires ON holds (expires_at);

-- Every balance movement. amount_nanos > 0; direction carries the sign.
CREATE TABLE transactions (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- `TOPUP` or `CHARGE`.
    direction     TEXT NOT NULL,
    -- PAYMENT | BONUS | REFUND | ADJUSTMENT | MODEL_USAGE | CREDITS_EXPIRED | INIT
    kind          TEXT NOT NULL,
    amount_nanos  BIGINT NOT NULL,
    model         TEXT,
    -- For MODEL_USAGE: the inference id.
    reference_id  TEXT,
    key_id        TEXT,
    note          TEXT,
    -- Account id of the administrator who made a grant.
    created_by    TEXT
);
CREATE INDEX transactions_account ON transactions (account_id, created_at, id);
CREATE UNIQUE INDEX transactions_usage_once ON transactions (kind, reference_id);

-- Fixed one-minute windows per key for requests/tokens per minute.
CREATE TABLE rate_windows (
    key_id    TEXT NOT NULL,
    -- Unix ms of the minute's start.
    minute    BIGINT NOT NULL,
    requests  BIGINT NOT NULL DEFAULT 0,
    tokens    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, minute)
);

ALTER TABLE usage_ledger ADD COLUMN account_id TEXT;
-- The completion id (`chatcmpl-…`), sent as `x-inference-id`; reference_id of the charge.
ALTER TABLE usage_ledger ADD COLUMN inference_id TEXT;
-- The caller's `X-Client-Request-Id`, if any.
ALTER TABLE usage_ledger ADD COLUMN client_request_id TEXT;
-- `api` or `playground`.
ALTER TABLE usage_ledger ADD COLUMN origin TEXT NOT NULL DEFAULT 'api';
-- What the call was charged (0 for a failed call).
ALTER TABLE usage_ledger ADD COLUMN charged_nanos BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_ledger ADD COLUMN succeeded BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX usage_ledger_account_created ON usage_ledger (account_id, created_at);
