//! Every SQL statement the store runs, in one place.
//!
//! The statements are portable between SQLite and PostgreSQL: `$N`
//! placeholders (SQLite accepts them too), no engine-specific functions,
//! `ON CONFLICT … DO NOTHING` for idempotent inserts. The same statements run
//! on both pool kinds (see `db::on_pool!`).

pub const INSERT_USAGE: &str = "INSERT INTO usage_ledger \
     (request_id, key_id, model, provider, prompt_tokens, cached_tokens, completion_tokens, \
      reasoning_tokens, cost_usd, status_code, outcome, latency_ms, ttft_ms, created_at, \
      account_id, inference_id, client_request_id, origin, charged_nanos, succeeded) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
      $15, $16, $17, $18, $19, $20) \
     ON CONFLICT (request_id) DO NOTHING";

macro_rules! usage_columns {
    () => {
        "request_id, key_id, model, provider, prompt_tokens, cached_tokens, completion_tokens, \
         reasoning_tokens, cost_usd, status_code, outcome, latency_ms, ttft_ms, created_at, \
         account_id, inference_id, client_request_id, origin, charged_nanos, succeeded"
    };
}

pub const USAGE_BY_REQUEST: &str = concat!(
    "SELECT ",
    usage_columns!(),
    " FROM usage_ledger WHERE request_id = $1"
);

pub const RECENT_USAGE: &str = concat!(
    "SELECT ",
    usage_columns!(),
    " FROM usage_ledger ORDER BY created_at DESC, request_id LIMIT $1"
);

pub const COUNT_USAGE: &str = "SELECT COUNT(*) FROM usage_ledger";

pub const COUNT_USAGE_FOR_REQUEST: &str = "SELECT COUNT(*) FROM usage_ledger WHERE request_id = $1";
