//! Figures behind the usage endpoints and the dashboard: sums over the
//! ledger of one account (optionally one key) in a time range, and the
//! request log.

use crate::{
    Store, StoreError,
    db::{DbRow, on_pool},
    sql_money, to_i64, to_u64,
};

/// Whose rows, and when: `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy)]
pub struct ReportScope<'a> {
    pub account_id: &'a str,
    /// `None`: every key of the account.
    pub key_id: Option<&'a str>,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Spend and charged (= succeeded) requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpendTotals {
    pub spend_nanos: i64,
    pub succeeded: u64,
}

/// Spend and charged requests of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelTotals {
    pub model: String,
    pub spend_nanos: i64,
    pub succeeded: u64,
}

/// Sums of a group of ledger rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupSums {
    pub spend_nanos: i64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Every request.
    pub total: u64,
    pub succeeded: u64,
}

impl GroupSums {
    pub fn add(&mut self, o: &GroupSums) {
        self.spend_nanos = self.spend_nanos.saturating_add(o.spend_nanos);
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.total = self.total.saturating_add(o.total);
        self.succeeded = self.succeeded.saturating_add(o.succeeded);
    }
}

/// The sums of one model in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSums {
    /// Unix ms of the bucket's start.
    pub bucket_start: i64,
    pub model: String,
    pub sums: GroupSums,
}

/// Which requests the log lists.
#[derive(Debug, Clone)]
pub struct LogFilter<'a> {
    pub scope: ReportScope<'a>,
    /// Exact model names (a bare alias also matches `source/alias`); empty: all.
    pub models: &'a [&'a str],
    /// `Some(true)`: only succeeded; `Some(false)`: only failed; `None`: both.
    pub succeeded: Option<bool>,
    pub limit: u32,
    pub offset: u64,
}

/// One request in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub created_at: i64,
    pub succeeded: bool,
    pub origin: String,
    pub model: String,
    pub charged_nanos: i64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub request_id: String,
    pub inference_id: Option<String>,
    pub client_request_id: Option<String>,
    pub key_prefix: Option<String>,
}

impl Store {
    /// Total spend and charged requests.
    pub async fn usage_totals(&self, s: &ReportScope<'_>) -> Result<SpendTotals, StoreError> {
        on_pool!(&self.read, p => {
            let r = sqlx::query(sql_money::USAGE_TOTALS)
                .bind(s.account_id)
                .bind(s.key_id)
                .bind(s.start_ms)
                .bind(s.end_ms)
                .fetch_one(p)
                .await?;
            Ok(SpendTotals {
                spend_nanos: r.int("spend")?,
                succeeded: to_u64(r.int("succeeded")?),
            })
        })
    }

    /// Spend and charged requests per model, highest spend first (models
    /// with neither are left out).
    pub async fn usage_by_model(
        &self,
        s: &ReportScope<'_>,
    ) -> Result<Vec<ModelTotals>, StoreError> {
        on_pool!(&self.read, p => {
            let rows = sqlx::query(sql_money::USAGE_BY_MODEL)
                .bind(s.account_id)
                .bind(s.key_id)
                .bind(s.start_ms)
                .bind(s.end_ms)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| -> Result<ModelTotals, StoreError> {
                    Ok(ModelTotals {
                        model: r.text("model")?,
                        spend_nanos: r.int("spend")?,
                        succeeded: to_u64(r.int("succeeded")?),
                    })
                })
                .collect()
        })
    }

    /// Sums per model and per `bucket_ms`-wide time bucket (aligned to the
    /// unix epoch), in no particular order.
    pub async fn usage_buckets(
        &self,
        s: &ReportScope<'_>,
        bucket_ms: i64,
    ) -> Result<Vec<BucketSums>, StoreError> {
        let bucket_ms = bucket_ms.max(1);
        on_pool!(&self.read, p => {
            let rows = sqlx::query(sql_money::USAGE_BUCKETS)
                .bind(s.account_id)
                .bind(s.key_id)
                .bind(s.start_ms)
                .bind(s.end_ms)
                .bind(bucket_ms)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| -> Result<BucketSums, StoreError> {
                    Ok(BucketSums {
                        bucket_start: r.int("bucket")?.saturating_mul(bucket_ms),
                        model: r.text("model")?,
                        sums: group_sums(r)?,
                    })
                })
                .collect()
        })
    }

    /// Sums per model, highest spend first.
    pub async fn usage_model_groups(
        &self,
        s: &ReportScope<'_>,
    ) -> Result<Vec<(String, GroupSums)>, StoreError> {
        on_pool!(&self.read, p => {
            let rows = sqlx::query(sql_money::USAGE_MODEL_GROUPS)
                .bind(s.account_id)
                .bind(s.key_id)
                .bind(s.start_ms)
                .bind(s.end_ms)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| -> Result<(String, GroupSums), StoreError> {
                    Ok((r.text("model")?, group_sums(r)?))
                })
                .collect()
        })
    }

    /// Sums per key (internal key id; `None` for rows without one),
    /// highest spend first.
    pub async fn usage_key_groups(
        &self,
        s: &ReportScope<'_>,
    ) -> Result<Vec<(Option<String>, GroupSums)>, StoreError> {
        on_pool!(&self.read, p => {
            let rows = sqlx::query(sql_money::USAGE_KEY_GROUPS)
                .bind(s.account_id)
                .bind(s.key_id)
                .bind(s.start_ms)
                .bind(s.end_ms)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| -> Result<(Option<String>, GroupSums), StoreError> {
                    Ok((r.opt_text("key_id")?, group_sums(r)?))
                })
                .collect()
        })
    }

    /// One page of the request log (newest first) and the number of
    /// matching requests across all pages.
    pub async fn usage_logs(&self, f: &LogFilter<'_>) -> Result<(Vec<LogRecord>, u64), StoreError> {
        let page_sql = sql_money::log_page(f.models);
        let count_sql = sql_money::log_count(f.models);
        let s = &f.scope;
        on_pool!(&self.read, p => {
            let mut page = sqlx::query(&page_sql)
                .bind(s.account_id)
                .bind(s.key_id)
                .bind(s.start_ms)
                .bind(s.end_ms)
                .bind(f.succeeded);
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql)
                .bind(s.account_id)
                .bind(s.key_id)
                .bind(s.start_ms)
                .bind(s.end_ms)
                .bind(f.succeeded);
            for m in f.models {
                page = page.bind(*m);
                count = count.bind(*m);
            }
            let rows = page
                .bind(i64::from(f.limit))
                .bind(to_i64(f.offset))
                .fetch_all(p)
                .await?;
            let total = count.fetch_one(p).await?;
            let rows = rows
                .iter()
                .map(log_record)
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((rows, to_u64(total)))
        })
    }
}

fn group_sums(r: &impl DbRow) -> Result<GroupSums, StoreError> {
    Ok(GroupSums {
        spend_nanos: r.int("spend")?,
        input_tokens: to_u64(r.int("input_tokens")?),
        output_tokens: to_u64(r.int("output_tokens")?),
        total: to_u64(r.int("total")?),
        succeeded: to_u64(r.int("succeeded")?),
    })
}

fn log_record(r: &impl DbRow) -> Result<LogRecord, StoreError> {
    Ok(LogRecord {
        created_at: r.int("created_at")?,
        succeeded: r.boolean("succeeded")?,
        origin: r.text("origin")?,
        model: r.text("model")?,
        charged_nanos: r.int("charged_nanos")?,
        input_tokens: to_u64(r.int("prompt_tokens")?),
        output_tokens: to_u64(r.int("completion_tokens")?),
        request_id: r.text("request_id")?,
        inference_id: r.opt_text("inference_id")?,
        client_request_id: r.opt_text("client_request_id")?,
        key_prefix: r.opt_text("key_prefix")?,
    })
}
