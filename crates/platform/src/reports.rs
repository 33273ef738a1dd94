//! The figures behind `/v2/usage`, `/v2/usage/detail`, `/v2/logs` and the
//! dashboard's usage page: spend, tokens and request counts of one account
//! (or one of its keys) over a window, grouped by day in a time zone and/or
//! by model, and the request log.
//!
//! A request is *charged* when it succeeded (failed calls are billed
//! nothing); `total` counts every request.

use std::collections::BTreeMap;

use switchyard_store::{GroupSums, LogFilter, ReportScope};

use crate::{
    Nanos, Platform, PlatformError,
    range::{ReportRange, Tz, local_day},
};

/// Most log rows per page.
pub const MAX_LOG_PAGE: u32 = 100;
/// Most `model` filter values.
pub const MAX_LOG_MODELS: usize = 50;
/// Width of the buckets day groups are built from. Every time-zone offset in
/// use is a multiple of 15 minutes, so a local midnight is always a bucket
/// boundary and day groups are exact, DST included.
const BUCKET_MS: i64 = 15 * 60_000;

/// How to group usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Day,
    Model,
    DayModel,
}

impl GroupBy {
    /// `day`, `model` or `day,model`.
    pub fn parse(s: &str) -> Result<GroupBy, PlatformError> {
        match s {
            "day" => Ok(GroupBy::Day),
            "model" => Ok(GroupBy::Model),
            "day,model" => Ok(GroupBy::DayModel),
            _ => Err(PlatformError::invalid(
                "group_by",
                "`group_by` must be `day`, `model` or `day,model`.",
            )),
        }
    }
}

/// Spend and charged requests of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpend {
    pub model: String,
    pub spend: Nanos,
    pub requests: u64,
}

/// Total spend and charged requests, with the per-model breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSummary {
    pub spend: Nanos,
    /// Charged (= succeeded) requests.
    pub requests: u64,
    /// Highest spend first.
    pub models: Vec<ModelSpend>,
}

/// One group of usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageGroup {
    /// `YYYY-MM-DD` in the requested time zone (grouping by day).
    pub day: Option<String>,
    /// Grouping by model.
    pub model: Option<String>,
    pub spend: Nanos,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Every request.
    pub total: u64,
    /// Billed requests (= succeeded).
    pub charged: u64,
    pub succeeded: u64,
    pub failed: u64,
}

impl UsageGroup {
    fn new(day: Option<String>, model: Option<String>, s: &GroupSums) -> UsageGroup {
        UsageGroup {
            day,
            model,
            spend: Nanos(s.spend_nanos),
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            total: s.total,
            charged: s.succeeded,
            succeeded: s.succeeded,
            failed: s.total.saturating_sub(s.succeeded),
        }
    }
}

/// The usage of one key of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    /// Internal key id (`KeyInfo::id`); `None` for requests without a key.
    pub key_id: Option<String>,
    /// The sums (`day` and `model` are `None`).
    pub usage: UsageGroup,
}

/// A request's outcome, for filtering the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStatus {
    Succeeded,
    Failed,
}

impl LogStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Succeeded => "succeeded",
            LogStatus::Failed => "failed",
        }
    }

    /// `succeeded` or `failed`.
    pub fn parse(s: &str) -> Result<LogStatus, PlatformError> {
        match s {
            "succeeded" => Ok(LogStatus::Succeeded),
            "failed" => Ok(LogStatus::Failed),
            _ => Err(PlatformError::invalid(
                "status",
                "`status` must be `succeeded` or `failed` (repeat the parameter for both).",
            )),
        }
    }
}

/// Which requests the log lists.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// `None`: every key of the account.
    pub key_id: Option<String>,
    pub range: ReportRange,
    /// Exact model names (`source/alias`, or a bare alias); empty: all.
    pub models: Vec<String>,
    /// Empty: both.
    pub statuses: Vec<LogStatus>,
    /// 1..=100.
    pub limit: u32,
    pub offset: u64,
}

/// One request in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// Unix ms.
    pub created_at: i64,
    pub succeeded: bool,
    /// `api` or `playground`.
    pub origin: String,
    pub model: String,
    /// What it was charged.
    pub cost: Nanos,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub request_id: String,
    pub inference_id: Option<String>,
    pub client_request_id: Option<String>,
    pub key_prefix: Option<String>,
}

/// One page of the log, newest first, and the number of matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    pub rows: Vec<LogRow>,
    pub total: u64,
}

fn scope<'a>(account_id: &'a str, key_id: Option<&'a str>, range: ReportRange) -> ReportScope<'a> {
    ReportScope {
        account_id,
        key_id,
        start_ms: range.start_ms,
        end_ms: range.end_ms,
    }
}

impl Platform {
    /// Spend and charged requests over `range`, with the per-model breakdown.
    /// `key_id` `None`: the whole account.
    pub async fn usage_summary(
        &self,
        account_id: &str,
        key_id: Option<&str>,
        range: ReportRange,
    ) -> Result<UsageSummary, PlatformError> {
        let s = scope(account_id, key_id, range);
        let totals = self.store.usage_totals(&s).await?;
        let models = self.store.usage_by_model(&s).await?;
        Ok(UsageSummary {
            spend: Nanos(totals.spend_nanos),
            requests: totals.succeeded,
            models: models
                .into_iter()
                .map(|m| ModelSpend {
                    model: m.model,
                    spend: Nanos(m.spend_nanos),
                    requests: m.succeeded,
                })
                .collect(),
        })
    }

    /// Usage grouped by day (in `tz`), by model, or both. Days ascending;
    /// models highest spend first (by name on ties).
    pub async fn usage_groups(
        &self,
        account_id: &str,
        key_id: Option<&str>,
        range: ReportRange,
        by: GroupBy,
        tz: Tz,
    ) -> Result<Vec<UsageGroup>, PlatformError> {
        let s = scope(account_id, key_id, range);
        if by == GroupBy::Model {
            let groups = self.store.usage_model_groups(&s).await?;
            return Ok(groups
                .iter()
                .map(|(m, sums)| UsageGroup::new(None, Some(m.clone()), sums))
                .collect());
        }
        let buckets = self.store.usage_buckets(&s, BUCKET_MS).await?;
        // day -> model ("" when not grouping by model) -> sums
        let mut days: BTreeMap<String, BTreeMap<String, GroupSums>> = BTreeMap::new();
        for b in &buckets {
            let day = local_day(b.bucket_start, tz).ok_or_else(|| {
                PlatformError::Internal(format!("ledger time out of range: {}", b.bucket_start))
            })?;
            let model = if by == GroupBy::DayModel {
                b.model.clone()
            } else {
                String::new()
            };
            days.entry(day)
                .or_default()
                .entry(model)
                .or_default()
                .add(&b.sums);
        }
        let mut out = Vec::new();
        for (day, models) in days {
            let mut models: Vec<(String, GroupSums)> = models.into_iter().collect();
            models.sort_by(|a, b| {
                b.1.spend_nanos
                    .cmp(&a.1.spend_nanos)
                    .then_with(|| a.0.cmp(&b.0))
            });
            for (model, sums) in models {
                let model = (by == GroupBy::DayModel).then_some(model);
                out.push(UsageGroup::new(Some(day.clone()), model, &sums));
            }
        }
        Ok(out)
    }

    /// Usage of each of the account's keys over `range` (deleted keys
    /// included), highest spend first (by key id on ties).
    pub async fn usage_by_key(
        &self,
        account_id: &str,
        range: ReportRange,
    ) -> Result<Vec<KeyUsage>, PlatformError> {
        let groups = self
            .store
            .usage_key_groups(&scope(account_id, None, range))
            .await?;
        Ok(groups
            .into_iter()
            .map(|(key_id, sums)| KeyUsage {
                key_id,
                usage: UsageGroup::new(None, None, &sums),
            })
            .collect())
    }

    /// One page of the request log, newest first, with the total count.
    pub async fn logs(&self, account_id: &str, q: LogQuery) -> Result<LogPage, PlatformError> {
        if q.limit == 0 || q.limit > MAX_LOG_PAGE {
            return Err(PlatformError::invalid(
                "limit",
                format!("`limit` must be between 1 and {MAX_LOG_PAGE}."),
            ));
        }
        if q.models.len() > MAX_LOG_MODELS {
            return Err(PlatformError::invalid(
                "model",
                format!("At most {MAX_LOG_MODELS} `model` values are accepted."),
            ));
        }
        let want_ok = q.statuses.contains(&LogStatus::Succeeded);
        let want_failed = q.statuses.contains(&LogStatus::Failed);
        let succeeded = match (want_ok, want_failed) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        };
        let models: Vec<&str> = q.models.iter().map(String::as_str).collect();
        let (rows, total) = self
            .store
            .usage_logs(&LogFilter {
                scope: scope(account_id, q.key_id.as_deref(), q.range),
                models: &models,
                succeeded,
                limit: q.limit,
                offset: q.offset,
            })
            .await?;
        Ok(LogPage {
            rows: rows
                .into_iter()
                .map(|r| LogRow {
                    created_at: r.created_at,
                    succeeded: r.succeeded,
                    origin: r.origin,
                    model: r.model,
                    cost: Nanos(r.charged_nanos),
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    request_id: r.request_id,
                    inference_id: r.inference_id,
                    client_request_id: r.client_request_id,
                    key_prefix: r.key_prefix,
                })
                .collect(),
            total,
        })
    }
}
