//! The usage ledger: one row per request, written once (idempotent on the request id).

use sqlx::Row;

use crate::{Store, StoreError, sql, to_i64, to_u64};

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
}

impl Store {
    /// Inserts the row unless one with the same request id exists. Returns whether it inserted.
    pub async fn record_usage(&self, row: &UsageRow) -> Result<bool, StoreError> {
        let res = sqlx::query(sql::INSERT_USAGE)
            .bind(&row.request_id)
            .bind(&row.key_id)
            .bind(&row.model)
            .bind(&row.provider)
            .bind(to_i64(row.prompt_tokens))
            .bind(to_i64(row.cached_tokens))
            .bind(to_i64(row.completion_tokens))
            .bind(to_i64(row.reasoning_tokens))
            .bind(row.cost_usd)
            .bind(i32::from(row.status_code))
            .bind(&row.outcome)
            .bind(to_i64(row.latency_ms))
            .bind(row.ttft_ms.map(to_i64))
            .bind(row.created_at)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() > 0)
    }

    /// The row for one request.
    pub async fn usage_for_request(
        &self,
        request_id: &str,
    ) -> Result<Option<UsageRow>, StoreError> {
        let row = sqlx::query(sql::USAGE_BY_REQUEST)
            .bind(request_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(usage_row).transpose()
    }

    /// The most recent rows, newest first.
    pub async fn recent_usage(&self, limit: u32) -> Result<Vec<UsageRow>, StoreError> {
        let rows = sqlx::query(sql::RECENT_USAGE)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(usage_row).collect()
    }

    /// Number of ledger rows (all, or for one request id).
    pub async fn count_usage(&self, request_id: Option<&str>) -> Result<u64, StoreError> {
        let n: i64 = match request_id {
            Some(id) => {
                sqlx::query_scalar(sql::COUNT_USAGE_FOR_REQUEST)
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_scalar(sql::COUNT_USAGE)
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        Ok(to_u64(n))
    }
}

fn usage_row(row: &sqlx::sqlite::SqliteRow) -> Result<UsageRow, StoreError> {
    let status: i32 = row.try_get("status_code")?;
    let ttft: Option<i64> = row.try_get("ttft_ms")?;
    Ok(UsageRow {
        request_id: row.try_get("request_id")?,
        key_id: row.try_get("key_id")?,
        model: row.try_get("model")?,
        provider: row.try_get("provider")?,
        prompt_tokens: to_u64(row.try_get("prompt_tokens")?),
        cached_tokens: to_u64(row.try_get("cached_tokens")?),
        completion_tokens: to_u64(row.try_get("completion_tokens")?),
        reasoning_tokens: to_u64(row.try_get("reasoning_tokens")?),
        cost_usd: row.try_get("cost_usd")?,
        status_code: u16::try_from(status)
            .map_err(|_| StoreError::Corrupt(format!("usage_ledger.status_code {status}")))?,
        outcome: row.try_get("outcome")?,
        latency_ms: to_u64(row.try_get("latency_ms")?),
        ttft_ms: ttft.map(to_u64),
        created_at: row.try_get("created_at")?,
    })
}
