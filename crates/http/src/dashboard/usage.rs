//! The usage page: spend per day (stacked by model) and tokens per day as
//! server-side SVG charts, a per-model table, a per-key table, and the
//! request log with filters (period, model, status) and paging. Days are UTC.
//!
//! The key filter (`key=PREFIX`, one of the session account's keys; another
//! account's prefix is "not found") narrows the charts, the per-model table
//! and the log to that key; the per-key table always lists every key.

use std::collections::HashMap;

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_platform::{
    GroupBy, KeyInfo, KeyKind, KeyUsage, LogPage, LogQuery, LogStatus, Nanos, ReportRange, Tz,
    UsageGroup, parse_range, range::local_day,
};

use super::{
    chart::{self, BarChart, Series},
    layout::{Nav, page},
    page::{DashError, datetime, html_page, thousands},
    session::Session,
};
use crate::AppState;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// Request-log rows per page.
pub(crate) const LOG_PAGE: u32 = 50;
/// The period choices.
const PERIODS: [(&str, &str); 3] = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
];
const DEFAULT_PERIOD: &str = "30d";
/// Longest model filter accepted.
const MAX_MODEL_FILTER: usize = 256;
/// Longest key filter accepted (prefixes are 8 characters).
const MAX_KEY_FILTER: usize = 64;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct UsageQuery {
    period: Option<String>,
    model: Option<String>,
    status: Option<String>,
    key: Option<String>,
    page: Option<String>,
}

/// The filters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Filters {
    period: &'static str,
    model: Option<String>,
    status: Option<LogStatus>,
    /// A key prefix.
    key: Option<String>,
    page: u64,
}

impl Filters {
    fn parse(q: &UsageQuery) -> Filters {
        let period = PERIODS
            .iter()
            .map(|p| p.0)
            .find(|p| Some(*p) == q.period.as_deref())
            .unwrap_or(DEFAULT_PERIOD);
        let model = q
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| m.chars().take(MAX_MODEL_FILTER).collect());
        let status = q.status.as_deref().and_then(|s| LogStatus::parse(s).ok());
        let key = q
            .key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| k.chars().take(MAX_KEY_FILTER).collect());
        let page = q
            .page
            .as_deref()
            .and_then(|p| p.parse::<u64>().ok())
            .filter(|p| *p >= 1 && *p <= 1_000_000)
            .unwrap_or(1);
        Filters {
            period,
            model,
            status,
            key,
            page,
        }
    }

    /// The query string of these filters on page `page`.
    fn href(&self, page: u64) -> String {
        let mut pairs: Vec<(&str, String)> = vec![("period", self.period.to_owned())];
        if let Some(k) = &self.key {
            pairs.push(("key", k.clone()));
        }
        if let Some(m) = &self.model {
            pairs.push(("model", m.clone()));
        }
        if let Some(s) = self.status {
            pairs.push(("status", s.as_str().to_owned()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("/usage?{qs}")
    }
}

/// Every UTC day the range touches, oldest first.
fn days(range: ReportRange) -> Vec<String> {
    let last = range.end_ms.saturating_sub(1).max(range.start_ms);
    let mut out: Vec<String> = Vec::new();
    let mut t = range.start_ms;
    loop {
        if let Some(d) = local_day(t, Tz::UTC)
            && out.last() != Some(&d)
        {
            out.push(d);
        }
        if t >= last {
            break;
        }
        t = t.saturating_add(DAY_MS).min(last);
    }
    out
}

fn usd(v: f64) -> String {
    if v >= 100.0 {
        format!("${v:.0}")
    } else if v >= 1.0 {
        format!("${v:.2}")
    } else {
        // Small amounts: enough decimals to tell the gridlines apart.
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0');
        match s.split_once('.') {
            Some((w, f)) if f.len() < 2 => format!("${w}.{f:0<2}"),
            _ => format!("${s}"),
        }
    }
}

/// `2026-02-18` → `02-18` under the axis.
fn short_day(day: &str) -> String {
    day.get(5..).unwrap_or(day).to_owned()
}

fn tokens(v: f64) -> String {
    let n = v.round();
    if n >= 1.0e6 {
        format!("{:.1}M", n / 1.0e6)
    } else if n >= 1.0e3 {
        format!("{:.1}k", n / 1.0e3)
    } else {
        format!("{n:.0}")
    }
}

/// Spend per day stacked by model (the biggest models; the rest as
/// "other"), and input/output tokens per day.
fn chart_series(days: &[String], groups: &[UsageGroup]) -> (Vec<Series>, Vec<Series>) {
    let index: HashMap<&str, usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut per_model: HashMap<&str, i64> = HashMap::new();
    for g in groups {
        *per_model
            .entry(g.model.as_deref().unwrap_or(""))
            .or_default() += g.spend.0;
    }
    let mut models: Vec<(&str, i64)> = per_model.into_iter().collect();
    models.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let shown: Vec<&str> = if models.len() > chart::MAX_SERIES {
        models
            .iter()
            .take(chart::MAX_SERIES - 1)
            .map(|m| m.0)
            .collect()
    } else {
        models.iter().map(|m| m.0).collect()
    };
    let folded = models.len() > shown.len();
    let mut spend: Vec<Series> = shown
        .iter()
        .map(|m| Series {
            name: (*m).to_owned(),
            values: vec![0.0; days.len()],
        })
        .collect();
    if folded {
        spend.push(Series {
            name: "other".to_owned(),
            values: vec![0.0; days.len()],
        });
    }
    let mut input = vec![0.0; days.len()];
    let mut output = vec![0.0; days.len()];
    for g in groups {
        let Some(&day) = g.day.as_deref().and_then(|d| index.get(d)) else {
            continue;
        };
        let model = g.model.as_deref().unwrap_or("");
        let series = shown
            .iter()
            .position(|m| *m == model)
            .or_else(|| folded.then_some(shown.len()));
        if let Some(v) = series
            .and_then(|s| spend.get_mut(s))
            .and_then(|s| s.values.get_mut(day))
        {
            *v += g.spend.usd();
        }
        if let Some(v) = input.get_mut(day) {
            *v += g.input_tokens as f64;
        }
        if let Some(v) = output.get_mut(day) {
            *v += g.output_tokens as f64;
        }
    }
    let tokens = vec![
        Series {
            name: "input".to_owned(),
            values: input,
        },
        Series {
            name: "output".to_owned(),
            values: output,
        },
    ];
    (spend, tokens)
}

/// `name (prefix…)`, or the prefix alone.
fn key_label(k: &KeyInfo) -> String {
    match &k.name {
        Some(n) => format!("{n} ({}…)", k.prefix),
        None => format!("{}…", k.prefix),
    }
}

fn filters_form(f: &Filters, models: &[String], keys: &[KeyInfo]) -> Markup {
    let mut options: Vec<&str> = models.iter().map(String::as_str).collect();
    if let Some(m) = f.model.as_deref()
        && !options.contains(&m)
    {
        options.push(m);
    }
    html! {
        form #usage-filters.inline method="get" action="/usage" {
            label for="period" { "Period" }
            select #period name="period" {
                @for (value, label) in PERIODS {
                    option value=(value) selected[value == f.period] { (label) }
                }
            }
            label for="key" { "Key" }
            select #key name="key" {
                option value="" selected[f.key.is_none()] { "All keys" }
                @for k in keys {
                    option value=(k.prefix) selected[Some(k.prefix.as_str()) == f.key.as_deref()] { (key_label(k)) }
                }
            }
            label for="model" { "Model" }
            select #model name="model" {
                option value="" selected[f.model.is_none()] { "All models" }
                @for m in options {
                    option value=(m) selected[Some(m) == f.model.as_deref()] { (m) }
                }
            }
            label for="status" { "Status" }
            select #status name="status" {
                option value="" selected[f.status.is_none()] { "All" }
                option value="succeeded" selected[f.status == Some(LogStatus::Succeeded)] { "Succeeded" }
                option value="failed" selected[f.status == Some(LogStatus::Failed)] { "Failed" }
            }
            button type="submit" { "Apply" }
        }
    }
}

fn model_table(groups: &[UsageGroup]) -> Markup {
    html! {
        @if groups.is_empty() {
            p.muted #no-usage { "No requests in this period." }
        } @else {
            table #model-usage {
                thead { tr {
                    th { "Model" } th.num { "Requests" } th.num { "Succeeded" } th.num { "Failed" }
                    th.num { "Input tokens" } th.num { "Output tokens" } th.num { "Spend" }
                } }
                tbody {
                    @for g in groups {
                        tr {
                            td { (g.model.as_deref().unwrap_or("")) }
                            td.num { (thousands(g.total)) }
                            td.num { (thousands(g.succeeded)) }
                            td.num { (thousands(g.failed)) }
                            td.num { (thousands(g.input_tokens)) }
                            td.num { (thousands(g.output_tokens)) }
                            td.num { (g.spend) }
                        }
                    }
                }
            }
        }
    }
}

/// Spend per key over the period (every key, whatever the key filter),
/// each linking to the page filtered to it.
fn key_table(f: &Filters, usage: &[KeyUsage], keys: &[KeyInfo]) -> Markup {
    let find = |id: &Option<String>| {
        id.as_deref()
            .and_then(|id| keys.iter().find(|k| k.id == id))
    };
    html! {
        @if usage.is_empty() {
            p.muted #no-key-usage { "No requests in this period." }
        } @else {
            table #key-usage {
                thead { tr {
                    th { "Key" } th { "Name" } th.num { "Requests" } th.num { "Failed" }
                    th.num { "Input tokens" } th.num { "Output tokens" } th.num { "Spend" }
                } }
                tbody {
                    @for u in usage {
                        @let key = find(&u.key_id);
                        @let selected = key.is_some_and(|k| Some(k.prefix.as_str()) == f.key.as_deref());
                        tr data-key-prefix=[key.map(|k| k.prefix.as_str())] class=[selected.then_some("selected")] {
                            td {
                                @if let Some(k) = key {
                                    a href=(Filters { key: Some(k.prefix.clone()), page: 1, ..f.clone() }.href(1)) {
                                        code { (k.prefix) "…" }
                                    }
                                } @else if u.key_id.is_some() {
                                    span.muted { "deleted key" }
                                } @else {
                                    span.muted { "no key" }
                                }
                            }
                            td { (key.and_then(|k| k.name.as_deref()).unwrap_or("—")) }
                            td.num { (thousands(u.usage.total)) }
                            td.num { (thousands(u.usage.failed)) }
                            td.num { (thousands(u.usage.input_tokens)) }
                            td.num { (thousands(u.usage.output_tokens)) }
                            td.num { (u.usage.spend) }
                        }
                    }
                }
            }
        }
    }
}

fn log_table(f: &Filters, log: &LogPage) -> Markup {
    let pages = log.total.div_ceil(u64::from(LOG_PAGE)).max(1);
    html! {
        p.muted #log-count { (thousands(log.total)) " requests match." }
        table #request-log {
            thead { tr {
                th { "Time (UTC)" } th { "Model" } th { "Status" } th { "Origin" } th { "Key" }
                th.num { "Cost" } th.num { "Input" } th.num { "Output" }
                th { "Request id" } th { "Inference id" }
            } }
            tbody {
                @for r in &log.rows {
                    tr.log-row data-request-id=(r.request_id) {
                        td { (datetime(r.created_at)) }
                        td.model { (r.model) }
                        td.status {
                            @if r.succeeded { span.badge.on { "succeeded" } }
                            @else { span.badge.off { "failed" } }
                        }
                        td { (r.origin) }
                        td { @if let Some(p) = &r.key_prefix { code { (p) } } }
                        td.num { (r.cost) }
                        td.num { (thousands(r.input_tokens)) }
                        td.num { (thousands(r.output_tokens)) }
                        td { code.request-id { (r.request_id) } }
                        td { @if let Some(i) = &r.inference_id { code.inference-id { (i) } } }
                    }
                }
            }
        }
        nav.pager {
            @if f.page > 1 { a rel="prev" href=(f.href(f.page - 1)) { "← Newer" } }
            span.muted { "Page " (f.page) " of " (pages) }
            @if f.page < pages { a rel="next" href=(f.href(f.page + 1)) { "Older →" } }
        }
    }
}

pub(crate) async fn usage_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<UsageQuery>,
) -> Response {
    match render(&state, &session, &Filters::parse(&q)).await {
        Ok(markup) => html_page(StatusCode::OK, markup),
        Err(e) => e.into_response(),
    }
}

async fn render(state: &AppState, session: &Session, f: &Filters) -> Result<Markup, DashError> {
    let p = state.platform();
    let account = &session.account.id;
    let range = parse_range(Some(f.period), None, None, p.now_ms())?;
    // The account's own key, or 404 (another account's prefix included).
    let key_id = match &f.key {
        Some(prefix) => Some(
            p.key(account, prefix)
                .await?
                .ok_or_else(|| DashError::not_found("You have no key with this prefix."))?
                .id,
        ),
        None => None,
    };
    let key_id = key_id.as_deref();
    let keys: Vec<KeyInfo> = p.list_keys(account, Some(KeyKind::Regular)).await?;
    let by_key = p.usage_by_key(account, range).await?;
    let by_day = p
        .usage_groups(account, key_id, range, GroupBy::DayModel, Tz::UTC)
        .await?;
    let by_model = p
        .usage_groups(account, key_id, range, GroupBy::Model, Tz::UTC)
        .await?;
    let log = p
        .logs(
            account,
            LogQuery {
                key_id: key_id.map(str::to_owned),
                range,
                models: f.model.iter().cloned().collect(),
                statuses: f.status.into_iter().collect(),
                limit: LOG_PAGE,
                offset: (f.page - 1).saturating_mul(u64::from(LOG_PAGE)),
            },
        )
        .await?;
    let day_list = days(range);
    let (spend, tokens_series) = chart_series(&day_list, &by_day);
    let total_spend = by_model
        .iter()
        .fold(Nanos::ZERO, |a, g| a.saturating_add(g.spend));
    let total_requests: u64 = by_model.iter().map(|g| g.total).sum();
    let model_names: Vec<String> = by_model.iter().filter_map(|g| g.model.clone()).collect();
    let spend_chart = chart::render(&BarChart {
        id: "usage-chart",
        title: "Spend per day (USD, UTC days)",
        labels: day_list.clone(),
        series: spend,
        format: usd,
        tick: short_day,
    });
    let tokens_chart = chart::render(&BarChart {
        id: "tokens-chart",
        title: "Tokens per day (UTC days)",
        labels: day_list,
        series: tokens_series,
        format: tokens,
        tick: short_day,
    });
    let content = html! {
        (filters_form(f, &model_names, &keys))
        div.cards {
            div.card { div.muted { "Spend" } div.figure #total-spend { (total_spend) } }
            div.card { div.muted { "Requests" } div.figure #total-requests { (thousands(total_requests)) } }
        }
        h2 { "Spend per day" }
        (spend_chart)
        h2 { "Tokens per day" }
        (tokens_chart)
        h2 { "By model" }
        (model_table(&by_model))
        h2 { "By key" }
        (key_table(f, &by_key, &keys))
        h2 { "Request log" }
        (log_table(f, &log))
    };
    Ok(page(&session.chrome(None), Nav::Usage, "Usage", content))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(day: &str, model: &str, usd: f64, input: u64, output: u64) -> UsageGroup {
        UsageGroup {
            day: Some(day.into()),
            model: Some(model.into()),
            spend: Nanos::from_usd(usd).unwrap(),
            input_tokens: input,
            output_tokens: output,
            total: 1,
            charged: 1,
            succeeded: 1,
            failed: 0,
        }
    }

    #[test]
    fn days_cover_the_range_in_utc() {
        // 2026-02-18T06:00Z minus 7 days.
        let end = 1_771_394_400_000;
        let d = days(ReportRange {
            start_ms: end - 7 * DAY_MS,
            end_ms: end,
        });
        assert_eq!(d.first().map(String::as_str), Some("2026-02-11"));
        assert_eq!(d.last().map(String::as_str), Some("2026-02-18"));
        assert_eq!(d.len(), 8);
        let one = days(ReportRange {
            start_ms: end,
            end_ms: end,
        });
        assert_eq!(one, vec!["2026-02-18".to_string()]);
    }

    #[test]
    fn series_stack_spend_by_model_and_sum_tokens() {
        let days: Vec<String> = vec!["2026-02-17".into(), "2026-02-18".into()];
        let groups = vec![
            group("2026-02-17", "a", 1.0, 10, 20),
            group("2026-02-18", "a", 2.0, 1, 2),
            group("2026-02-18", "b", 0.5, 100, 200),
            // Outside the listed days: ignored.
            group("2026-01-01", "a", 9.0, 9, 9),
        ];
        let (spend, tokens) = chart_series(&days, &groups);
        let a = spend.iter().find(|s| s.name == "a").unwrap();
        assert_eq!(a.values, vec![1.0, 2.0]);
        let b = spend.iter().find(|s| s.name == "b").unwrap();
        assert_eq!(b.values, vec![0.0, 0.5]);
        // Biggest spender first.
        assert_eq!(spend[0].name, "a");
        assert_eq!(tokens[0].values, vec![10.0, 101.0]);
        assert_eq!(tokens[1].values, vec![20.0, 202.0]);
    }

    #[test]
    fn many_models_fold_into_other() {
        let days: Vec<String> = vec!["2026-02-18".into()];
        let groups: Vec<UsageGroup> = (0..12)
            .map(|i| group("2026-02-18", &format!("m{i:02}"), f64::from(12 - i), 0, 0))
            .collect();
        let (spend, _) = chart_series(&days, &groups);
        assert_eq!(spend.len(), chart::MAX_SERIES);
        assert_eq!(spend.last().unwrap().name, "other");
        let total: f64 = spend.iter().map(|s| s.values[0]).sum();
        assert!((total - (1..=12).sum::<i32>() as f64).abs() < 1e-9);
    }

    #[test]
    fn filters_fall_back_to_safe_defaults() {
        let f = Filters::parse(&UsageQuery {
            period: Some("1000d".into()),
            model: Some("  ".into()),
            status: Some("weird".into()),
            key: Some(" ".into()),
            page: Some("0".into()),
        });
        assert_eq!(
            f,
            Filters {
                period: "30d",
                model: None,
                status: None,
                key: None,
                page: 1
            }
        );
        let f = Filters::parse(&UsageQuery {
            period: Some("7d".into()),
            model: Some("openai/gpt x&y".into()),
            status: Some("failed".into()),
            key: Some(" sy_ab&cd ".into()),
            page: Some("3".into()),
        });
        assert_eq!(f.key.as_deref(), Some("sy_ab&cd"));
        assert_eq!(
            f.href(2),
            "/usage?period=7d&key=sy_ab%26cd&model=openai%2Fgpt+x%26y&status=failed&page=2"
        );
        assert_eq!(
            f.href(1),
            "/usage?period=7d&key=sy_ab%26cd&model=openai%2Fgpt+x%26y&status=failed"
        );
        let long = Filters::parse(&UsageQuery {
            key: Some("k".repeat(500)),
            ..UsageQuery::default()
        });
        assert_eq!(long.key.map(|k| k.len()), Some(MAX_KEY_FILTER));
    }

    #[test]
    fn axis_formats_are_short() {
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(0.0025), "$0.0025");
        assert_eq!(usd(0.00025), "$0.00025");
        assert_eq!(usd(0.5), "$0.50");
        assert_eq!(short_day("2026-02-18"), "02-18");
        assert_eq!(short_day("x"), "x");
        assert_eq!(usd(2.5), "$2.50");
        assert_eq!(usd(250.0), "$250");
        assert_eq!(tokens(950.0), "950");
        assert_eq!(tokens(12_500.0), "12.5k");
        assert_eq!(tokens(2_000_000.0), "2.0M");
    }
}
