//! Dashboard responses: HTML pages, redirects, error pages, and the small
//! formatting helpers pages share (dates, money, token counts).

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::{DOCTYPE, Markup, html};
use switchyard_platform::PlatformError;
use time::{OffsetDateTime, macros::format_description};

/// An HTML page with a status.
pub(crate) fn html_page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

/// `303 See Other` to a local path (after a form post, or to log in).
pub(crate) fn redirect(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    // Only local paths are ever passed; fall back to `/` if one cannot be a header.
    let value = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    resp.headers_mut().insert(header::LOCATION, value);
    resp
}

/// An error shown as a small HTML page (the dashboard never answers JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DashError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for `retry-after` (429).
    pub retry_after: Option<u64>,
}

impl DashError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        DashError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        DashError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        DashError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        DashError::new(StatusCode::FORBIDDEN, message)
    }

    /// 500 whose detail goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "dashboard internal error");
        DashError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the server. Please try again.",
        )
    }

    fn title(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "Bad request",
            401 => "Not signed in",
            403 => "Forbidden",
            404 => "Not found",
            409 => "Conflict",
            429 => "Too many attempts",
            _ => "Error",
        }
    }
}

impl From<PlatformError> for DashError {
    fn from(e: PlatformError) -> Self {
        let msg = e.to_string();
        match e {
            PlatformError::Store(_) | PlatformError::Internal(_) => DashError::internal(msg),
            PlatformError::InvalidInput { .. } => DashError::bad_request(msg),
            PlatformError::NotFound(_) => DashError::not_found(msg),
            PlatformError::Forbidden { .. }
            | PlatformError::SignupClosed
            | PlatformError::InviteRequired
            | PlatformError::AccountDisabled
            | PlatformError::InsufficientBalance { .. }
            | PlatformError::KeyLimitExceeded { .. } => DashError::forbidden(msg),
            PlatformError::EmailTaken => DashError::new(StatusCode::CONFLICT, msg),
            PlatformError::InvalidCredentials => DashError::new(StatusCode::UNAUTHORIZED, msg),
            PlatformError::LoginThrottled { retry_after_secs }
            | PlatformError::RateLimited {
                retry_after_secs, ..
            } => DashError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: msg,
                retry_after: Some(retry_after_secs.max(1)),
            },
        }
    }
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let title = self.title();
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · Switchyard" }
                    link rel="stylesheet" href=(super::CSS_PATH);
                }
                body {
                    main.narrow {
                        h1 { (title) }
                        p.error #error-message { (self.message) }
                        p { a href="/" { "Back to the dashboard" } }
                    }
                }
            }
        };
        let mut resp = html_page(self.status, markup);
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// `2026-02-18 06:59:10` (UTC) for unix milliseconds; `-` if out of range.
pub(crate) fn datetime(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "-".to_owned())
}

/// `2026-02-18` (UTC) for unix milliseconds.
pub(crate) fn date(ms: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "-".to_owned())
}

/// A price per million tokens: `$1.25`, `$0.075`.
pub(crate) fn price_per_million(usd: f64) -> String {
    if !usd.is_finite() {
        return "-".to_owned();
    }
    let s = format!("{usd:.6}");
    let s = s.trim_end_matches('0');
    let s = match s.split_once('.') {
        Some((whole, frac)) if frac.len() < 2 => format!("{whole}.{frac:0<2}"),
        _ => s.to_owned(),
    };
    format!("${s}")
}

/// `12,345,678`.
pub(crate) fn thousands(n: u64) -> String {
    let digits: Vec<char> = n.to_string().chars().rev().collect();
    let groups: Vec<String> = digits.chunks(3).map(|g| g.iter().rev().collect()).collect();
    groups.into_iter().rev().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_prices_and_counts() {
        assert_eq!(datetime(1_771_397_950_031), "2026-02-18 06:59:10");
        assert_eq!(date(1_771_397_950_031), "2026-02-18");
        assert_eq!(datetime(i64::MAX), "-");
        assert_eq!(price_per_million(1.0), "$1.00");
        assert_eq!(price_per_million(0.075), "$0.075");
        assert_eq!(price_per_million(12.5), "$12.50");
        assert_eq!(price_per_million(f64::NAN), "-");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }

    #[test]
    fn error_page_escapes_and_sets_retry_after() {
        let e = DashError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: "<b>slow down</b>".into(),
            retry_after: Some(42),
        };
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            resp.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("42")
        );
    }

    #[test]
    fn platform_errors_map_to_statuses_and_hide_store_detail() {
        let e: DashError = PlatformError::Internal("/var/lib/secret".into()).into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("/var/lib"));
        let e: DashError = PlatformError::LoginThrottled {
            retry_after_secs: 0,
        }
        .into();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(1));
        let e: DashError = PlatformError::NotFound("no such key".into()).into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e: DashError = PlatformError::EmailTaken.into();
        assert_eq!(e.status, StatusCode::CONFLICT);
    }
}
