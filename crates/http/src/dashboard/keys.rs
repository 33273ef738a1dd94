//! The keys page: API keys and management keys in two tabs; create (the
//! secret is shown once), enable/disable, spending limit, scopes, rate
//! limits (requests and tokens per minute), delete.
//!
//! Every change names the key by prefix and is scoped to the session's
//! account: another account's prefix is "not found" (404) and nothing changes.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_platform::{
    CreatedApiKey, KeyInfo, KeyKind, KeyLimit, KeyPatch, Nanos, NewKey, RateLimits, Retention,
    Scope, Scopes,
};

use super::{
    csrf::{self, FormData},
    layout::{Nav, page},
    page::{DashError, date, html_page, redirect, thousands},
    playground::PLAYGROUND_KEY_NAME,
    session::{Posted, Session},
};
use crate::AppState;

/// Largest spending limit accepted from the form, in USD.
const MAX_THRESHOLD_USD: f64 = 1.0e9;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct KeysQuery {
    kind: Option<String>,
    msg: Option<String>,
}

fn tab(kind: Option<&str>) -> KeyKind {
    match kind {
        Some("management") => KeyKind::Management,
        _ => KeyKind::Regular,
    }
}

fn tab_path(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Regular => "/keys",
        KeyKind::Management => "/keys?kind=management",
    }
}

/// Back to the key's tab with a flash message.
fn back(kind: KeyKind, msg: &str) -> Response {
    let sep = if kind == KeyKind::Management {
        '&'
    } else {
        '?'
    };
    redirect(&format!("{}{sep}msg={msg}", tab_path(kind)))
}

fn not_found() -> DashError {
    DashError::not_found("You have no key with this prefix.")
}

fn retention_label(r: Retention) -> &'static str {
    match r {
        Retention::NoReset => "in total",
        Retention::Day => "per day",
        Retention::Week => "per week",
        Retention::Month => "per month",
    }
}

fn limit_text(limit: Option<KeyLimit>) -> String {
    match limit {
        Some(l) => format!("{} {}", l.threshold, retention_label(l.retention)),
        None => "No limit".to_owned(),
    }
}

fn scopes_text(scopes: &Scopes) -> String {
    match scopes {
        None => "all".to_owned(),
        Some(list) if list.is_empty() => "none".to_owned(),
        Some(list) => list
            .iter()
            .map(|s| s.as_str().trim_start_matches("model:"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn limit_form(k: &KeyInfo, token: &str) -> Markup {
    let current = k.limit.map(|l| l.retention);
    let threshold = k.limit.map(|l| format!("{:.2}", l.threshold.usd()));
    let options = [
        ("", "No limit", None),
        ("no_reset", "Lifetime", Some(Retention::NoReset)),
        ("day", "Daily", Some(Retention::Day)),
        ("week", "Weekly", Some(Retention::Week)),
        ("month", "Monthly", Some(Retention::Month)),
    ];
    html! {
        form.limit-key.inline method="post" action=(format!("/keys/{}/limit", k.prefix)) {
            (csrf::hidden(token))
            select name="retention" aria-label="Limit resets" {
                @for (value, label, r) in options {
                    option value=(value) selected[r == current] { (label) }
                }
            }
            input type="number" name="threshold" min="0" step="0.01" placeholder="USD"
                aria-label="Limit in USD" value=[threshold];
            button type="submit" { "Save limit" }
        }
    }
}

fn scopes_form(k: &KeyInfo, token: &str) -> Markup {
    let has = |s: Scope| k.scopes.as_ref().is_some_and(|l| l.contains(&s));
    html! {
        form.scopes-key.scopes method="post" action=(format!("/keys/{}/scopes", k.prefix)) {
            (csrf::hidden(token))
            label {
                input type="checkbox" name="all_scopes" value="1" checked[k.scopes.is_none()];
                " all (also future ones)"
            }
            @for s in Scope::ALL {
                label {
                    input type="checkbox" name="scope" value=(s.as_str()) checked[has(s)];
                    " " (s.as_str().trim_start_matches("model:"))
                }
            }
            button type="submit" { "Save scopes" }
        }
    }
}

/// A per-minute limit for people: `unlimited` for 0.
pub(crate) fn per_minute(n: u32) -> String {
    if n == 0 {
        "unlimited".to_owned()
    } else {
        thousands(u64::from(n))
    }
}

/// What a blank rate field means: the inherited value.
pub(crate) fn inherit_placeholder(n: u32) -> String {
    format!("inherit ({})", per_minute(n))
}

/// The requests/tokens per minute inputs of a rate form: the level's own
/// value, or blank with the inherited value as placeholder.
pub(crate) fn rate_inputs(own: RateLimits, inherited: (u32, u32)) -> Markup {
    html! {
        input.rate type="number" name="rpm" min="0" step="1"
            aria-label="Requests per minute (0: unlimited, blank: inherit)"
            placeholder=(inherit_placeholder(inherited.0)) value=[own.rpm];
        span.muted { "req/min" }
        input.rate type="number" name="tpm" min="0" step="1"
            aria-label="Tokens per minute (0: unlimited, blank: inherit)"
            placeholder=(inherit_placeholder(inherited.1)) value=[own.tpm];
        span.muted { "tokens/min" }
    }
}

/// `inherited`: the account's defaults, else the server's (what a blank field means).
fn rate_form(k: &KeyInfo, inherited: (u32, u32), token: &str) -> Markup {
    let rpm = k.rate.rpm.unwrap_or(inherited.0);
    let tpm = k.rate.tpm.unwrap_or(inherited.1);
    html! {
        span.muted.rate-effective {
            (per_minute(rpm)) " req/min · " (per_minute(tpm)) " tokens/min"
        }
        form.rate-key.inline method="post" action=(format!("/keys/{}/rate", k.prefix)) {
            (csrf::hidden(token))
            (rate_inputs(k.rate, inherited))
            button type="submit" { "Save rate" }
        }
    }
}

fn key_row(k: &KeyInfo, inherited: (u32, u32), token: &str) -> Markup {
    let regular = k.kind == KeyKind::Regular;
    html! {
        tr data-prefix=(k.prefix) {
            td.name { (k.name.as_deref().unwrap_or("—")) }
            td { code { (k.prefix) "…" } }
            td {
                @if k.disabled { span.badge.off { "disabled" } } @else { span.badge.on { "enabled" } }
            }
            td { (date(k.created_at)) }
            @if regular {
                td.num { (k.monthly_usage) }
                td {
                    span.muted { (limit_text(k.limit)) }
                    (limit_form(k, token))
                }
                td {
                    span.muted { (scopes_text(&k.scopes)) }
                    (scopes_form(k, token))
                }
                td { (rate_form(k, inherited, token)) }
            }
            td {
                form.toggle-key.inline method="post" action=(format!("/keys/{}/toggle", k.prefix)) {
                    (csrf::hidden(token))
                    input type="hidden" name="disabled" value=(if k.disabled { "false" } else { "true" });
                    button type="submit" { (if k.disabled { "Enable" } else { "Disable" }) }
                }
                form.delete-key.inline method="post" action=(format!("/keys/{}/delete", k.prefix)) {
                    (csrf::hidden(token))
                    button.danger type="submit" { "Delete" }
                }
            }
        }
    }
}

fn new_key_box(created: &CreatedApiKey) -> Markup {
    html! {
        div.new-key #new-key-box {
            p {
                strong { "Your new key" }
                @if let Some(n) = &created.info.name { " “" (n) "”" }
                ": copy it now. It is shown only this once."
            }
            code #new-key { (created.secret) }
            " "
            button #copy-key type="button" { "Copy" }
        }
    }
}

/// The page's content (pure: data in, markup out).
fn content(
    kind: KeyKind,
    keys: &[KeyInfo],
    inherited: (u32, u32),
    token: &str,
    created: Option<&CreatedApiKey>,
    error: Option<&str>,
) -> Markup {
    let regular = kind == KeyKind::Regular;
    html! {
        nav.tabs {
            a href="/keys" class=[regular.then_some("active")] { "API keys" }
            a href="/keys?kind=management" class=[(!regular).then_some("active")] { "Management keys" }
        }
        @if regular {
            p.muted { "API keys call models (" code { "/v1/chat/completions" } "). Each can have a spending limit, scopes and rate limits." }
            p.muted #rate-help {
                "Rate limits: requests and tokens per minute. Leave a field blank to inherit your account's default ("
                (per_minute(inherited.0)) " req/min, " (per_minute(inherited.1)) " tokens/min); 0 means unlimited."
            }
        } @else {
            p.muted { "Management keys only call the key-management API (" code { "/v1/keys" } ") and the usage and billing reports." }
        }
        @if let Some(e) = error { p.error #form-error role="alert" { (e) } }
        @if let Some(c) = created { (new_key_box(c)) }
        form #create-key-form.inline method="post" action="/keys" {
            (csrf::hidden(token))
            input type="hidden" name="kind" value=(kind.as_str());
            input type="text" name="name" placeholder="Key name" maxlength="256" aria-label="Key name";
            button.primary type="submit" { "Create key" }
        }
        @if keys.is_empty() {
            p.muted #no-keys { "No keys yet." }
        } @else {
            table #keys {
                thead {
                    tr {
                        th { "Name" } th { "Prefix" } th { "Status" } th { "Created" }
                        @if regular { th.num { "This month" } th { "Spending limit" } th { "Scopes" } th { "Rate limits" } }
                        th { "Actions" }
                    }
                }
                tbody {
                    @for k in keys { (key_row(k, inherited, token)) }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    session: &Session,
    kind: KeyKind,
    flash: Option<&str>,
    created: Option<&CreatedApiKey>,
    error: Option<(StatusCode, &str)>,
) -> Result<Response, DashError> {
    let keys: Vec<KeyInfo> = state
        .platform()
        .list_keys(&session.account.id, Some(kind))
        .await?
        .into_iter()
        .filter(|k| !is_playground_key(k))
        .collect();
    let title = match kind {
        KeyKind::Regular => "API keys",
        KeyKind::Management => "Management keys",
    };
    let p = state.platform();
    let inherited = p.effective_rate_of(RateLimits::default(), session.account.rate);
    let body = content(
        kind,
        &keys,
        inherited,
        &session.csrf,
        created,
        error.map(|e| e.1),
    );
    let status = error.map_or(StatusCode::OK, |e| e.0);
    Ok(html_page(
        status,
        page(&session.chrome(flash), Nav::Keys, title, body),
    ))
}

/// The playground's own key is kept off this page (see `playground`).
pub(crate) fn is_playground_key(k: &KeyInfo) -> bool {
    k.kind == KeyKind::Regular && k.name.as_deref() == Some(PLAYGROUND_KEY_NAME)
}

pub(crate) async fn keys_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<KeysQuery>,
) -> Response {
    let kind = tab(q.kind.as_deref());
    render(&state, &session, kind, q.msg.as_deref(), None, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn create(State(state): State<AppState>, posted: Posted) -> Response {
    let Posted { session, form } = posted;
    let kind = tab(form.get("kind"));
    let name = form.text("name").map(str::to_owned);
    if kind == KeyKind::Regular && name.as_deref() == Some(PLAYGROUND_KEY_NAME) {
        let msg = "The name “playground” is reserved for the playground's own key.";
        return render(
            &state,
            &session,
            kind,
            None,
            None,
            Some((StatusCode::BAD_REQUEST, msg)),
        )
        .await
        .unwrap_or_else(IntoResponse::into_response);
    }
    let new = NewKey {
        name,
        kind,
        scopes: None,
        limit: None,
    };
    let result = match state.platform().create_key(&session.account.id, new).await {
        Ok(created) => render(&state, &session, kind, None, Some(&created), None).await,
        Err(e) => {
            let e = DashError::from(e);
            render(
                &state,
                &session,
                kind,
                None,
                None,
                Some((e.status, &e.message)),
            )
            .await
        }
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn update(
    state: &AppState,
    session: &Session,
    prefix: &str,
    patch: KeyPatch,
) -> Result<KeyInfo, DashError> {
    let key = state
        .platform()
        .update_key(&session.account.id, prefix, patch)
        .await?
        .ok_or_else(not_found)?;
    state.forget_key(&session.account.id, prefix);
    Ok(key)
}

pub(crate) async fn toggle(
    State(state): State<AppState>,
    Path(prefix): Path<String>,
    posted: Posted,
) -> Response {
    let disabled = match posted.form.get("disabled") {
        Some("true") => true,
        Some("false") => false,
        _ => return DashError::bad_request("`disabled` must be true or false.").into_response(),
    };
    let patch = KeyPatch {
        disabled: Some(disabled),
        ..KeyPatch::default()
    };
    match update(&state, &posted.session, &prefix, patch).await {
        Ok(k) => back(
            k.kind,
            if disabled {
                "key_disabled"
            } else {
                "key_enabled"
            },
        ),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(prefix): Path<String>,
    posted: Posted,
) -> Response {
    let p = state.platform();
    let account = &posted.session.account.id;
    let result = async {
        let key = p.key(account, &prefix).await?.ok_or_else(not_found)?;
        if !p.delete_key(account, &prefix).await? {
            return Err(not_found());
        }
        state.forget_key(account, &prefix);
        Ok::<_, DashError>(key.kind)
    }
    .await;
    match result {
        Ok(kind) => back(kind, "key_deleted"),
        Err(e) => e.into_response(),
    }
}

/// The limit a form asks for: `None` to remove it.
pub(crate) fn parse_limit(form: &FormData) -> Result<Option<KeyLimit>, DashError> {
    let Some(retention) = form.text("retention") else {
        return Ok(None);
    };
    let retention: Retention = retention
        .parse()
        .map_err(|_| DashError::bad_request("Unknown limit period."))?;
    let usd: f64 = form
        .text("threshold")
        .ok_or_else(|| DashError::bad_request("Enter the limit in USD."))?
        .parse()
        .map_err(|_| DashError::bad_request("The limit must be a number of USD."))?;
    if !(usd.is_finite() && (0.0..=MAX_THRESHOLD_USD).contains(&usd)) {
        return Err(DashError::bad_request(
            "The limit must be between 0 and 1,000,000,000 USD.",
        ));
    }
    let threshold =
        Nanos::from_usd(usd).ok_or_else(|| DashError::bad_request("The limit is out of range."))?;
    Ok(Some(KeyLimit {
        retention,
        threshold,
    }))
}

/// Largest per-minute limit accepted from a form.
pub(crate) const MAX_PER_MINUTE: u32 = 1_000_000_000;

/// The rate limits a form asks for: each of `rpm` and `tpm` a whole number
/// (0: unlimited), or blank (or absent) to inherit.
pub(crate) fn parse_rate(form: &FormData) -> Result<RateLimits, DashError> {
    let field = |name: &str, what: &str| -> Result<Option<u32>, DashError> {
        let Some(v) = form.text(name) else {
            return Ok(None);
        };
        match v.parse::<u32>() {
            Ok(n) if n <= MAX_PER_MINUTE => Ok(Some(n)),
            _ => Err(DashError::bad_request(format!(
                "{what} per minute must be a whole number from 0 (unlimited) to 1,000,000,000, \
                 or blank to inherit the default."
            ))),
        }
    };
    Ok(RateLimits {
        rpm: field("rpm", "Requests")?,
        tpm: field("tpm", "Tokens")?,
    })
}

/// The scopes a form asks for (`all_scopes` checked: every scope, `None`).
pub(crate) fn parse_scopes(form: &FormData) -> Result<Scopes, DashError> {
    if form.get("all_scopes").is_some() {
        return Ok(None);
    }
    form.all("scope")
        .map(|s| {
            s.parse::<Scope>()
                .map_err(|_| DashError::bad_request("Unknown scope."))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub(crate) async fn set_limit(
    State(state): State<AppState>,
    Path(prefix): Path<String>,
    posted: Posted,
) -> Response {
    let limit = match parse_limit(&posted.form) {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let patch = KeyPatch {
        limit: Some(limit),
        ..KeyPatch::default()
    };
    match update(&state, &posted.session, &prefix, patch).await {
        Ok(k) => back(
            k.kind,
            if limit.is_some() {
                "limit_saved"
            } else {
                "limit_removed"
            },
        ),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn set_scopes(
    State(state): State<AppState>,
    Path(prefix): Path<String>,
    posted: Posted,
) -> Response {
    let scopes = match parse_scopes(&posted.form) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let patch = KeyPatch {
        scopes: Some(scopes),
        ..KeyPatch::default()
    };
    match update(&state, &posted.session, &prefix, patch).await {
        Ok(k) => back(k.kind, "scopes_saved"),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn set_rate(
    State(state): State<AppState>,
    Path(prefix): Path<String>,
    posted: Posted,
) -> Response {
    let rate = match parse_rate(&posted.form) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let patch = KeyPatch {
        rate: Some(rate),
        ..KeyPatch::default()
    };
    // `update` forgets the cached authentication: the new limits apply to the next call.
    match update(&state, &posted.session, &prefix, patch).await {
        Ok(k) => back(k.kind, "rate_saved"),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> FormData {
        FormData::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn limit_forms_parse_or_refuse() {
        assert_eq!(parse_limit(&form("retention=&threshold=5")).unwrap(), None);
        assert_eq!(
            parse_limit(&form("retention=day&threshold=2.5")).unwrap(),
            Some(KeyLimit {
                retention: Retention::Day,
                threshold: Nanos(2_500_000_000)
            })
        );
        for bad in [
            "retention=yearly&threshold=1",
            "retention=day",
            "retention=day&threshold=-1",
            "retention=day&threshold=abc",
            "retention=day&threshold=NaN",
            "retention=day&threshold=1e12",
        ] {
            let e = parse_limit(&form(bad)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn scope_forms_parse_all_some_or_none() {
        assert_eq!(
            parse_scopes(&form("all_scopes=1&scope=model%3Achat")).unwrap(),
            None
        );
        assert_eq!(
            parse_scopes(&form("scope=model%3Achat&scope=model%3Aimage")).unwrap(),
            Some(vec![Scope::Chat, Scope::Image])
        );
        assert_eq!(parse_scopes(&form("")).unwrap(), Some(vec![]));
        assert!(parse_scopes(&form("scope=model%3Aeverything")).is_err());
    }

    #[test]
    fn rate_forms_parse_blank_as_inherit_or_refuse() {
        assert_eq!(
            parse_rate(&form("rpm=&tpm=")).unwrap(),
            RateLimits::default()
        );
        assert_eq!(parse_rate(&form("")).unwrap(), RateLimits::default());
        assert_eq!(
            parse_rate(&form("rpm=+60+&tpm=0")).unwrap(),
            RateLimits {
                rpm: Some(60),
                tpm: Some(0)
            }
        );
        for bad in [
            "rpm=-1",
            "rpm=1.5",
            "rpm=abc",
            "tpm=1000000001",
            "tpm=99999999999",
            "rpm=1e3",
        ] {
            let e = parse_rate(&form(bad)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        assert!(
            parse_rate(&form("tpm=x"))
                .unwrap_err()
                .message
                .starts_with("Tokens per minute")
        );
    }

    #[test]
    fn rate_texts_and_inputs() {
        assert_eq!(per_minute(0), "unlimited");
        assert_eq!(per_minute(10_000_000), "10,000,000");
        let own = RateLimits {
            rpm: Some(5),
            tpm: None,
        };
        let html = rate_inputs(own, (3000, 0)).into_string();
        assert!(html.contains("name=\"rpm\""), "{html}");
        assert!(html.contains("value=\"5\""), "{html}");
        assert!(html.contains("placeholder=\"inherit (3,000)\""), "{html}");
        assert!(
            html.contains("placeholder=\"inherit (unlimited)\""),
            "{html}"
        );
        // The blank tpm field has no value attribute.
        assert_eq!(html.matches("value=").count(), 1, "{html}");
    }

    #[test]
    fn texts_describe_limits_and_scopes() {
        assert_eq!(limit_text(None), "No limit");
        assert_eq!(
            limit_text(Some(KeyLimit {
                retention: Retention::Week,
                threshold: Nanos(5_000_000_000)
            })),
            "$5.00 per week"
        );
        assert_eq!(scopes_text(&None), "all");
        assert_eq!(scopes_text(&Some(vec![])), "none");
        assert_eq!(
            scopes_text(&Some(vec![Scope::Chat, Scope::Ocr])),
            "chat, ocr"
        );
    }
}
