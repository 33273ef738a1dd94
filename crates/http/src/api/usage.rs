//! Usage reports: `GET /v2/usage`, `GET /v2/usage/detail`, `GET /v2/logs`
//! (alias `/v2/usage/logs`), as `usage-v2.json`, `usage-detail-v2.json` and
//! `logs-v2.json`. Any key kind; `key_prefix` follows `common::subject`.
//!
//! Window: `period` or `start`+`end` (≤ 92 days; neither: the last 30 days).
//! Unknown query parameters are ignored; a parameter given twice that takes
//! one value is a 400 naming it.

use axum::{
    Extension,
    extract::State,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use switchyard_platform::{
    KeyAuth,
    range::{ReportRange, Tz, parse_range, parse_tz},
    reports::{GroupBy, LogQuery, LogRow, LogStatus, UsageGroup},
};

use super::common::{Params, Subject, money, ok, subject, timestamp};
use crate::{ApiError, AppState};

/// Most `model` values in one `/v2/logs` query.
const MAX_MODEL_FILTERS: usize = 50;

/// The window, from `period` / `start` / `end`.
fn range(state: &AppState, p: &Params) -> Result<ReportRange, ApiError> {
    Ok(parse_range(
        p.one("period")?,
        p.one("start")?,
        p.one("end")?,
        state.platform().now_ms(),
    )?)
}

async fn who(state: &AppState, auth: &KeyAuth, p: &Params) -> Result<Subject, ApiError> {
    subject(state, auth, p.one("key_prefix")?).await
}

fn head(
    subject: &Subject,
    r: ReportRange,
    spend: f64,
    requests: u64,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("api_key_prefix".into(), json!(subject.echoed_prefix));
    m.insert("start".into(), json!(timestamp(r.start_ms)));
    m.insert("end".into(), json!(timestamp(r.end_ms)));
    m.insert("spend".into(), json!(spend));
    m.insert("currency".into(), json!("USD"));
    m.insert("requests".into(), json!(requests));
    m
}

/// `GET /v2/usage`
pub(crate) async fn usage(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
    p: Params,
) -> Response {
    usage_inner(&state, &auth, &p)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn usage_inner(state: &AppState, auth: &KeyAuth, p: &Params) -> Result<Response, ApiError> {
    if p.has("group_by") {
        return Err(ApiError::invalid(
            "group_by",
            "`group_by` is accepted on /v2/usage/detail only; /v2/usage returns a flat total.",
        ));
    }
    let r = range(state, p)?;
    let s = who(state, auth, p).await?;
    let sum = state
        .platform()
        .usage_summary(&auth.account_id, Some(&s.key_id), r)
        .await?;
    Ok(ok(Value::Object(head(
        &s,
        r,
        sum.spend.usd(),
        sum.requests,
    ))))
}

fn group_by(v: &str) -> Result<GroupBy, ApiError> {
    match v {
        "day" => Ok(GroupBy::Day),
        "model" => Ok(GroupBy::Model),
        "day,model" => Ok(GroupBy::DayModel),
        _ => Err(ApiError::invalid(
            "group_by",
            "Invalid 'group_by': must be one of day, model, day,model.",
        )),
    }
}

fn group_json(g: &UsageGroup) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(day) = &g.day {
        m.insert("day".into(), json!(day));
    }
    if let Some(model) = &g.model {
        m.insert("model".into(), json!(model));
    }
    m.insert("spend".into(), json!(g.spend.usd()));
    m.insert(
        "tokens".into(),
        json!({
            "input": g.input_tokens,
            "output": g.output_tokens,
            "total": g.input_tokens.saturating_add(g.output_tokens),
        }),
    );
    m.insert(
        "requests".into(),
        json!({
            "total": g.total,
            "charged": g.charged,
            "succeeded": g.succeeded,
            "failed": g.failed,
        }),
    );
    Value::Object(m)
}

/// `GET /v2/usage/detail`
pub(crate) async fn detail(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
    p: Params,
) -> Response {
    detail_inner(&state, &auth, &p)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn detail_inner(state: &AppState, auth: &KeyAuth, p: &Params) -> Result<Response, ApiError> {
    let r = range(state, p)?;
    let by = p.one("group_by")?.map(group_by).transpose()?;
    let tz: Tz = parse_tz(p.one("tz")?.unwrap_or("UTC"))?;
    let s = who(state, auth, p).await?;
    let platform = state.platform();
    let sum = platform
        .usage_summary(&auth.account_id, Some(&s.key_id), r)
        .await?;
    let mut m = head(&s, r, sum.spend.usd(), sum.requests);
    let models: Vec<Value> = sum
        .models
        .iter()
        .map(|x| json!({"model": x.model, "spend": x.spend.usd(), "requests": x.requests}))
        .collect();
    m.insert("models".into(), Value::Array(models));
    if let Some(by) = by {
        let groups = platform
            .usage_groups(&auth.account_id, Some(&s.key_id), r, by, tz)
            .await?;
        m.insert(
            "groups".into(),
            Value::Array(groups.iter().map(group_json).collect()),
        );
    }
    Ok(ok(Value::Object(m)))
}

fn status(v: &str) -> Result<LogStatus, ApiError> {
    match v {
        "succeeded" => Ok(LogStatus::Succeeded),
        "failed" => Ok(LogStatus::Failed),
        _ => Err(ApiError::invalid(
            "status",
            "Invalid 'status': must be succeeded or failed (repeat the parameter for both).",
        )),
    }
}

fn log_json(r: &LogRow) -> Value {
    json!({
        "created": timestamp(r.created_at),
        "status": if r.succeeded { "succeeded" } else { "failed" },
        "origin": r.origin,
        "model": r.model,
        "cost": money(r.cost),
        "tokens": {
            "input": r.input_tokens,
            "output": r.output_tokens,
            "total": r.input_tokens.saturating_add(r.output_tokens),
        },
        "request_id": r.request_id,
        "inference_id": r.inference_id,
        "client_request_id": r.client_request_id,
    })
}

/// `GET /v2/logs` and `GET /v2/usage/logs`
pub(crate) async fn logs(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
    p: Params,
) -> Response {
    logs_inner(&state, &auth, &p)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn logs_inner(state: &AppState, auth: &KeyAuth, p: &Params) -> Result<Response, ApiError> {
    let r = range(state, p)?;
    let models: Vec<String> = p.all("model").map(str::to_owned).collect();
    if models.len() > MAX_MODEL_FILTERS {
        return Err(ApiError::invalid(
            "model",
            format!("Invalid 'model': at most {MAX_MODEL_FILTERS} values."),
        ));
    }
    let statuses = p.all("status").map(status).collect::<Result<Vec<_>, _>>()?;
    let limit = p.int("limit", 1, 100, 50)?;
    let offset = p.int("offset", 0, i64::MAX as u64, 0)?;
    let s = who(state, auth, p).await?;
    let page = state
        .platform()
        .logs(
            &auth.account_id,
            LogQuery {
                key_id: Some(s.key_id),
                range: r,
                models,
                statuses,
                limit: u32::try_from(limit).unwrap_or(100),
                offset,
            },
        )
        .await?;
    let has_more = offset.saturating_add(page.rows.len() as u64) < page.total;
    Ok(ok(json!({
        "data": page.rows.iter().map(log_json).collect::<Vec<_>>(),
        "pagination": {
            "limit": limit,
            "offset": offset,
            "total": page.total,
            "has_more": has_more,
        },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_by_and_status_values() {
        assert_eq!(group_by("day").unwrap(), GroupBy::Day);
        assert_eq!(group_by("day,model").unwrap(), GroupBy::DayModel);
        assert_eq!(
            group_by("model,day").unwrap_err().param.as_deref(),
            Some("group_by")
        );
        assert_eq!(status("failed").unwrap(), LogStatus::Failed);
        assert_eq!(
            status("succeeded,failed").unwrap_err().param.as_deref(),
            Some("status")
        );
    }
}
