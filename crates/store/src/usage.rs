//! The usage ledger: one row per request, written once (idempotent on the request id).

use crate::{
    Store, StoreError,
    db::{DbRow, on_pool},
    sql, to_u64,
};

/// One ledger row.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    /// Unique per request; a second insert with the same id is ignored.
    pub request_id: String,
    /// Internal id of the API key (`KeyRecord::id`), if the request was authenticated.
    pub key_id: Option<String>,
    /// Public model id (empty if the request never got that far).
    pub model: String,
    /// Backend name (empty if no backend was chosen).
    pub provider: String,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: f64,
    /// HTTP status code of the response.
    pub status_code: u16,
    /// Short outcome: `ok`, `client_disconnected`, `upstream_error`, ...
    pub outcome: String,
    pub latency_ms: u64,
    /// Time to first token, when any output was produced.
    pub ttft_ms: Option<u64>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// The account the key belongs to (reports are per account).
    pub account_id: Option<String>,
    /// The completion id (`chatcmpl-…`, sent as `x-inference-id`).
    pub inference_id: Option<String>,
    /// The caller's `X-Client-Request-Id`, if any.
    pub client_request_id: Option<String>,
    /// `api` or `playground`.
    pub origin: String,
    /// What the call was charged, in nano-dollars (0 for a failed call).
    pub charged_nanos: i64,
    /// Whether the call succeeded (a failed call is charged nothing).
    pub succeeded: bool,
}

/// Binds a [`UsageRow`] to [`sql::INSERT_USAGE`]'s parameters.
macro_rules! bind_usage {
    ($q:expr, $row:expr) => {{
        let row: &UsageRow = $row;
        $q.bind(&row.request_id)
            .bind(&row.key_id)
            .bind(&row.model)
            .bind(&row.provider)
            .bind($crate::to_i64(row.prompt_tokens))
            .bind($crate::to_i64(row.cached_tokens))
            .bind($crate::to_i64(row.completion_tokens))
            .bind($crate::to_i64(row.reasoning_tokens))
            .bind(row.cost_usd)
            .bind(i32::from(row.status_code))
            .bind(&row.outcome)
            .bind($crate::to_i64(row.latency_ms))
            .bind(row.ttft_ms.map($crate::to_i64))
            .bind(row.created_at)
            .bind(&row.account_id)
            .bind(&row.inference_id)
            .bind(&row.client_request_id)
            .bind(&row.origin)
            .bind(row.charged_nanos)
            .bind(row.succeeded)
    }};
}
pub(crate) use bind_usage;

impl Store {
    /// Inserts the row unless one with the same request id exists. Returns whether it inserted.
    pub async fn record_usage(&self, row: &UsageRow) -> Result<bool, StoreError> {
        let affected = on_pool!(&self.pool, p => bind_usage!(sqlx::query(sql::INSERT_USAGE), row)
            .execute(p)
            .await?
            .rows_affected());
        Ok(affected > 0)
    }

    /// The row for one request.
    pub async fn usage_for_request(
        &self,
        request_id: &str,
    ) -> Result<Option<UsageRow>, StoreError> {
        on_pool!(&self.pool, p => {
            let row = sqlx::query(sql::USAGE_BY_REQUEST)
                .bind(request_id)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(usage_row).transpose()
        })
    }

    /// The most recent rows, newest first.
    pub async fn recent_usage(&self, limit: u32) -> Result<Vec<UsageRow>, StoreError> {
        on_pool!(&self.pool, p => {
            let rows = sqlx::query(sql::RECENT_USAGE)
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            rows.iter().map(usage_row).collect()
        })
    }

    /// Number of ledger rows (all, or for one request id).
    pub async fn count_usage(&self, request_id: Option<&str>) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(&self.pool, p => match request_id {
            Some(id) => {
                sqlx::query_scalar(sql::COUNT_USAGE_FOR_REQUEST)
                    .bind(id)
                    .fetch_one(p)
                    .await?
            }
            None => sqlx::query_scalar(sql::COUNT_USAGE).fetch_one(p).await?,
        });
        Ok(to_u64(n))
    }
}

fn usage_row(row: &impl DbRow) -> Result<UsageRow, StoreError> {
    let status = row.int32("status_code")?;
    Ok(UsageRow {
        request_id: row.text("request_id")?,
        key_id: row.opt_text("key_id")?,
        model: row.text("model")?,
        provider: row.text("provider")?,
        prompt_tokens: to_u64(row.int("prompt_tokens")?),
        cached_tokens: to_u64(row.int("cached_tokens")?),
        completion_tokens: to_u64(row.int("completion_tokens")?),
        reasoning_tokens: to_u64(row.int("reasoning_tokens")?),
        cost_usd: row.real("cost_usd")?,
        status_code: u16::try_from(status)
            .map_err(|_| StoreError::Corrupt(format!("usage_ledger.status_code {status}")))?,
        outcome: row.text("outcome")?,
        latency_ms: to_u64(row.int("latency_ms")?),
        ttft_ms: row.opt_int("ttft_ms")?.map(to_u64),
        created_at: row.int("created_at")?,
        account_id: row.opt_text("account_id")?,
        inference_id: row.opt_text("inference_id")?,
        client_request_id: row.opt_text("client_request_id")?,
        origin: row.text("origin")?,
        charged_nanos: row.int("charged_nanos")?,
        succeeded: row.boolean("succeeded")?,
    })
}
