//! Shared pieces of the platform API: query parameters, timestamps, money
//! figures, and which key a report is about (`key_prefix`).

use axum::{
    Json,
    extract::{FromRequestParts, Query},
    http::request::Parts,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use switchyard_platform::{KeyAuth, KeyKind, Nanos};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{ApiError, AppState, ErrorKind};

/// 200 with a JSON body.
pub(crate) fn ok(v: Value) -> Response {
    Json(v).into_response()
}

/// `2026-02-18T06:59:10.031Z`: RFC 3339, UTC, milliseconds (the reference's format).
pub(crate) fn timestamp(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// An ISO-8601 / RFC 3339 instant *with* an offset, as unix ms; 400 naming `param` otherwise.
pub(crate) fn parse_instant(param: &str, v: &str) -> Result<i64, ApiError> {
    let t = OffsetDateTime::parse(v.trim(), &Rfc3339).map_err(|_| {
        ApiError::invalid(
            param,
            format!(
                "Invalid '{param}': expected an ISO-8601 date-time with an offset, like 2026-08-01T00:00:00Z."
            ),
        )
    })?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::invalid(param, format!("Invalid '{param}': out of range.")))
}

/// `{"usd": 1.56, "credits": 3120000}`.
pub(crate) fn money(n: Nanos) -> Value {
    json!({"usd": n.usd(), "credits": n.credits()})
}

/// The query string as ordered (name, value) pairs, repeats kept.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Query(pairs)) => Ok(Params(pairs)),
            Err(_) => Err(ApiError::invalid(
                "query",
                "The query string could not be parsed.",
            )),
        }
    }
}

impl Params {
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// A parameter that may appear at most once.
    pub(crate) fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::invalid(
                name,
                format!("Invalid '{name}': give it at most once."),
            ));
        }
        Ok(first)
    }

    /// Every value of a repeatable parameter, in order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// An integer parameter in `min..=max`, `default` when absent.
    pub(crate) fn int(
        &self,
        name: &str,
        min: u64,
        max: u64,
        default: u64,
    ) -> Result<u64, ApiError> {
        let Some(v) = self.one(name)? else {
            return Ok(default);
        };
        let n: u64 = v.trim().parse().map_err(|_| {
            ApiError::invalid(
                name,
                format!("Invalid '{name}': expected an integer from {min} to {max}."),
            )
        })?;
        if n < min || n > max {
            return Err(ApiError::invalid(
                name,
                format!("Invalid '{name}': must be from {min} to {max}, got {n}."),
            ));
        }
        Ok(n)
    }
}

/// Which key a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subject {
    /// Internal key id for the platform's queries.
    pub key_id: String,
    /// `api_key_prefix` as echoed: the requested prefix, `None` when omitted.
    pub echoed_prefix: Option<String>,
}

/// The `key_prefix` rules: omitted → the authenticating key itself; its own
/// prefix → itself; another key → only with a management key (403
/// `management_key_required` for a regular key), and only a key of the same
/// account (404 otherwise, so other accounts' prefixes cannot be probed).
pub(crate) async fn subject(
    state: &AppState,
    auth: &KeyAuth,
    key_prefix: Option<&str>,
) -> Result<Subject, ApiError> {
    let Some(prefix) = key_prefix else {
        return Ok(Subject {
            key_id: auth.key_id.clone(),
            echoed_prefix: None,
        });
    };
    if prefix == auth.prefix {
        return Ok(Subject {
            key_id: auth.key_id.clone(),
            echoed_prefix: Some(prefix.to_owned()),
        });
    }
    if auth.kind != KeyKind::Management {
        return Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "Reporting on another key needs a management key; omit `key_prefix` to report on this key.",
        )
        .with_param("key_prefix")
        .with_code("management_key_required"));
    }
    match state.platform().key(&auth.account_id, prefix).await? {
        Some(info) => Ok(Subject {
            key_id: info.id,
            echoed_prefix: Some(prefix.to_owned()),
        }),
        None => Err(key_not_found(prefix)),
    }
}

/// 404 for a key prefix this account has no key for.
pub(crate) fn key_not_found(prefix: &str) -> ApiError {
    let shown: String = prefix.chars().take(64).collect();
    ApiError::new(
        ErrorKind::NotFound,
        format!("No API key with prefix `{shown}` exists in this account."),
    )
    .with_param("key_prefix")
    .with_code("key_not_found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_771_397_950_031), "2026-02-18T06:59:10.031Z");
    }

    #[test]
    fn instants_need_an_offset() {
        assert_eq!(
            parse_instant("from", "2026-02-18T06:59:10.031Z").unwrap(),
            1_771_397_950_031
        );
        assert_eq!(
            parse_instant("from", "2026-02-18T07:59:10.031+01:00").unwrap(),
            1_771_397_950_031
        );
        let e = parse_instant("to", "2026-02-18T06:59:10").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("to"));
        assert!(parse_instant("to", "yesterday").is_err());
    }

    #[test]
    fn params_single_repeat_and_ints() {
        let p = Params::from_pairs(&[("model", "a"), ("model", "b"), ("limit", "5")]);
        assert_eq!(p.all("model").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.one("model").unwrap_err().param.as_deref(), Some("model"));
        assert_eq!(p.int("limit", 1, 100, 50).unwrap(), 5);
        assert_eq!(p.int("offset", 0, 10, 0).unwrap(), 0);
        let p = Params::from_pairs(&[("limit", "0")]);
        assert!(p.int("limit", 1, 100, 50).is_err());
        let p = Params::from_pairs(&[("limit", "-1")]);
        assert!(p.int("limit", 1, 100, 50).is_err());
    }

    #[test]
    fn money_has_usd_and_credits() {
        let v = money(Nanos(1_560_000_000));
        assert_eq!(v["usd"], 1.56);
        assert_eq!(v["credits"], 3_120_000);
    }
}
