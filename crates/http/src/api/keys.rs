//! Key management: `POST/GET /v1/keys`, `PATCH/PUT/DELETE /v1/keys/{prefix}`
//! (management keys; they see and change only their account's *regular*
//! keys, oldest first) and `GET /v1/key` (any key: its own record). Shapes
//! as `keys-*.json` and `key-get.json`.
//!
//! Bodies: a JSON object; unknown fields are refused (`unknown_parameter`).
//! - `name`: string or `null` (≤ 256 characters).
//! - `disabled` (PATCH/PUT only): boolean.
//! - `scopes`: array of the reference's scope strings (duplicates dropped), or
//!   `null` = every scope.
//! - `limit`: `{retention, threshold}` (both required; `threshold` in USD,
//!   finite, ≥ 0), or `null` = no limit.
//!
//! POST: every field optional (an empty body is allowed). PATCH changes only
//! the fields given. PUT replaces the whole record: an absent `name`,
//! `scopes` or `limit` becomes `null`, an absent `disabled` becomes `false`.
//! Another account's key, a management key's prefix, or a deleted key → 404.

use axum::{
    Extension,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};
use switchyard_platform::{
    KeyAuth, KeyInfo, KeyKind, KeyLimit, KeyPatch, Nanos, NewKey, Retention, Scope, Scopes,
};

use super::common::{key_not_found, ok, timestamp};
use crate::{ApiError, AppState, ErrorKind};

/// Longest accepted key name, in characters.
const MAX_NAME_CHARS: usize = 256;
/// Largest accepted spending limit, in USD (keeps nano-dollars far from overflow).
const MAX_THRESHOLD_USD: f64 = 1.0e9;

/// The key record as the reference shows it. `limit` is `null` when unset,
/// except in the creation response, whose schema has no `null` for it (omitted).
pub(crate) fn key_json(k: &KeyInfo, null_limit: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(k.name));
    m.insert("disabled".into(), json!(k.disabled));
    m.insert("prefix".into(), json!(k.prefix));
    m.insert(
        "scopes".into(),
        json!(
            k.scopes
                .as_ref()
                .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>())
        ),
    );
    match &k.limit {
        Some(l) => {
            m.insert(
                "limit".into(),
                json!({"retention": l.retention.as_str(), "threshold": l.threshold.usd()}),
            );
        }
        None if null_limit => {
            m.insert("limit".into(), Value::Null);
        }
        None => {}
    }
    m.insert("created_at".into(), json!(timestamp(k.created_at)));
    m.insert("updated_at".into(), json!(timestamp(k.updated_at)));
    m.insert("monthly_usage".into(), json!(k.monthly_usage.usd()));
    m
}

fn data(m: Map<String, Value>) -> Response {
    ok(json!({ "data": Value::Object(m) }))
}

/// Which request a body belongs to (they accept different fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Post,
    Patch,
    Put,
}

impl Verb {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Verb::Post => &["name", "limit", "scopes"],
            Verb::Patch | Verb::Put => &["name", "disabled", "limit", "scopes"],
        }
    }
}

/// The fields a body gave (`Some(None)` = given as `null`).
#[derive(Debug, Default, PartialEq)]
struct Fields {
    name: Option<Option<String>>,
    disabled: Option<bool>,
    scopes: Option<Scopes>,
    limit: Option<Option<KeyLimit>>,
}

fn unknown(path: &str) -> ApiError {
    ApiError::invalid(
        path,
        format!("Unrecognized request argument supplied: '{path}'."),
    )
    .with_code("unknown_parameter")
}

fn wrong_type(path: &str, what: &str) -> ApiError {
    ApiError::invalid(path, format!("Invalid type for '{path}': {what}.")).with_code("invalid_type")
}

fn missing(path: &str) -> ApiError {
    ApiError::invalid(path, format!("Missing required parameter: '{path}'."))
        .with_code("missing_required_parameter")
}

fn parse_body(verb: Verb, headers: &HeaderMap, body: &[u8]) -> Result<Fields, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if verb == Verb::Post {
            Ok(Fields::default())
        } else {
            Err(ApiError::new(
                ErrorKind::InvalidRequest,
                "A JSON request body is required.",
            )
            .with_code("missing_body"))
        };
    }
    let ct = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let essence = ct.map(|c| c.split(';').next().unwrap_or_default().trim());
    if !essence.is_some_and(|e| e.eq_ignore_ascii_case("application/json")) {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            "The request Content-Type must be 'application/json'.",
        )
        .with_code("unsupported_content_type"));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::InvalidRequest,
            format!("We could not parse the JSON body of your request: {e}."),
        )
        .with_code("invalid_json")
    })?;
    let Value::Object(obj) = v else {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            "The request body must be a JSON object.",
        )
        .with_code("invalid_type"));
    };
    let mut f = Fields::default();
    for (k, v) in &obj {
        if !verb.fields().contains(&k.as_str()) {
            return Err(unknown(k));
        }
        match k.as_str() {
            "name" => f.name = Some(name(v)?),
            "disabled" => match v {
                Value::Bool(b) => f.disabled = Some(*b),
                _ => return Err(wrong_type("disabled", "must be a boolean")),
            },
            "scopes" => f.scopes = Some(scopes(v)?),
            "limit" => f.limit = Some(limit(v)?),
            _ => return Err(unknown(k)),
        }
    }
    Ok(f)
}

fn name(v: &Value) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > MAX_NAME_CHARS => Err(ApiError::invalid(
            "name",
            format!("Invalid 'name': at most {MAX_NAME_CHARS} characters."),
        )),
        Value::String(s) if s.chars().any(char::is_control) => Err(ApiError::invalid(
            "name",
            "Invalid 'name': control characters are not allowed.",
        )),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(wrong_type("name", "must be a string or null")),
    }
}

fn scopes(v: &Value) -> Result<Scopes, ApiError> {
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        _ => return Err(wrong_type("scopes", "must be an array of strings or null")),
    };
    let mut out: Vec<Scope> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("scopes[{i}]");
        let Value::String(s) = item else {
            return Err(wrong_type(&path, "must be a string"));
        };
        let scope: Scope = s.parse().map_err(|_| {
            let allowed: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::invalid(
                &path,
                format!("Invalid '{path}': must be one of {}.", allowed.join(", ")),
            )
        })?;
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(Some(out))
}

fn limit(v: &Value) -> Result<Option<KeyLimit>, ApiError> {
    let obj = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(wrong_type("limit", "must be an object or null")),
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "retention" | "threshold"))
    {
        return Err(unknown(&format!("limit.{k}")));
    }
    let retention = match obj.get("retention") {
        None | Some(Value::Null) => return Err(missing("limit.retention")),
        Some(Value::String(s)) => s.parse::<Retention>().map_err(|_| {
            ApiError::invalid(
                "limit.retention",
                "Invalid 'limit.retention': must be one of no_reset, day, week, month.",
            )
        })?,
        Some(_) => return Err(wrong_type("limit.retention", "must be a string")),
    };
    let threshold = match obj.get("threshold") {
        None | Some(Value::Null) => return Err(missing("limit.threshold")),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(_) => return Err(wrong_type("limit.threshold", "must be a number")),
    };
    if !threshold.is_finite() || !(0.0..=MAX_THRESHOLD_USD).contains(&threshold) {
        return Err(ApiError::invalid(
            "limit.threshold",
            format!(
                "Invalid 'limit.threshold': must be a number of USD from 0 to {MAX_THRESHOLD_USD}."
            ),
        ));
    }
    let threshold = Nanos::from_usd(threshold).ok_or_else(|| {
        ApiError::invalid(
            "limit.threshold",
            "Invalid 'limit.threshold': out of range.",
        )
    })?;
    Ok(Some(KeyLimit {
        retention,
        threshold,
    }))
}

/// The account's regular key with this prefix (404 for anything else).
async fn regular_key(state: &AppState, auth: &KeyAuth, prefix: &str) -> Result<KeyInfo, ApiError> {
    match state.platform().key(&auth.account_id, prefix).await? {
        Some(k) if k.kind == KeyKind::Regular => Ok(k),
        _ => Err(key_not_found(prefix).with_param("prefix")),
    }
}

/// `POST /v1/keys`
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match parse_body(Verb::Post, &headers, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let new = NewKey {
        name: f.name.flatten(),
        kind: KeyKind::Regular,
        scopes: f.scopes.flatten(),
        limit: f.limit.flatten(),
    };
    match state.platform().create_key(&auth.account_id, new).await {
        Ok(created) => {
            let mut m = key_json(&created.info, false);
            m.insert("key".into(), json!(created.secret));
            data(m)
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /v1/keys`: the account's regular keys, oldest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
) -> Response {
    match state
        .platform()
        .list_keys(&auth.account_id, Some(KeyKind::Regular))
        .await
    {
        Ok(keys) => {
            let data: Vec<Value> = keys
                .iter()
                .map(|k| Value::Object(key_json(k, true)))
                .collect();
            ok(json!({ "data": data }))
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /v1/key`: the authenticating key's own record.
pub(crate) async fn own(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
) -> Response {
    match state.platform().key_by_id(&auth.key_id).await {
        Ok(Some(k)) => data(key_json(&k, true)),
        // Deleted since the (cached) authentication.
        Ok(None) => ApiError::unauthorized("This API key has been deleted.").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn update(state: &AppState, auth: &KeyAuth, prefix: &str, patch: KeyPatch) -> Response {
    if let Err(e) = regular_key(state, auth, prefix).await {
        return e.into_response();
    }
    match state
        .platform()
        .update_key(&auth.account_id, prefix, patch)
        .await
    {
        Ok(Some(k)) => {
            state.forget_key(&auth.account_id, prefix);
            data(key_json(&k, true))
        }
        Ok(None) => key_not_found(prefix).with_param("prefix").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `PATCH /v1/keys/{prefix}`: only the fields given.
pub(crate) async fn patch(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
    Path(prefix): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match parse_body(Verb::Patch, &headers, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let patch = KeyPatch {
        name: f.name,
        disabled: f.disabled,
        scopes: f.scopes,
        limit: f.limit,
        rate: None,
    };
    update(&state, &auth, &prefix, patch).await
}

/// `PUT /v1/keys/{prefix}`: the full record; absent fields become defaults.
pub(crate) async fn put(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
    Path(prefix): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match parse_body(Verb::Put, &headers, &body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let patch = KeyPatch {
        name: Some(f.name.flatten()),
        disabled: Some(f.disabled.unwrap_or(false)),
        scopes: Some(f.scopes.flatten()),
        limit: Some(f.limit.flatten()),
        rate: None,
    };
    update(&state, &auth, &prefix, patch).await
}

/// `DELETE /v1/keys/{prefix}`
pub(crate) async fn delete(
    State(state): State<AppState>,
    Extension(auth): Extension<KeyAuth>,
    Path(prefix): Path<String>,
) -> Response {
    if let Err(e) = regular_key(&state, &auth, &prefix).await {
        return e.into_response();
    }
    match state.platform().delete_key(&auth.account_id, &prefix).await {
        Ok(true) => {
            state.forget_key(&auth.account_id, &prefix);
            ok(json!({"data": {"prefix": prefix, "deleted": true}}))
        }
        Ok(false) => key_not_found(&prefix).with_param("prefix").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        h
    }

    fn parse(verb: Verb, body: &str) -> Result<Fields, ApiError> {
        parse_body(verb, &json_headers(), body.as_bytes())
    }

    #[test]
    fn post_allows_an_empty_body_and_known_fields_only() {
        assert_eq!(parse(Verb::Post, "").unwrap(), Fields::default());
        let e = parse(Verb::Post, r#"{"disabled": true}"#).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("unknown_parameter"));
        assert_eq!(e.param.as_deref(), Some("disabled"));
        assert!(parse(Verb::Patch, "").is_err());
        let e = parse(Verb::Patch, r#"{"nmae": "x"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("nmae"));
        let e = parse_body(Verb::Post, &HeaderMap::new(), b"{}").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("unsupported_content_type"));
        assert!(parse(Verb::Post, "[1]").is_err());
    }

    #[test]
    fn fields_are_typed_and_null_means_clear() {
        let f = parse(
            Verb::Patch,
            r#"{"name": null, "disabled": true, "scopes": ["model:chat", "model:chat", "model:image"], "limit": {"retention": "day", "threshold": 2.5}}"#,
        )
        .unwrap();
        assert_eq!(f.name, Some(None));
        assert_eq!(f.disabled, Some(true));
        assert_eq!(f.scopes, Some(Some(vec![Scope::Chat, Scope::Image])));
        assert_eq!(
            f.limit,
            Some(Some(KeyLimit {
                retention: Retention::Day,
                threshold: Nanos(2_500_000_000)
            }))
        );
        let f = parse(Verb::Put, r#"{"scopes": null, "limit": null}"#).unwrap();
        assert_eq!(f.scopes, Some(None));
        assert_eq!(f.limit, Some(None));
    }

    #[test]
    fn bad_values_name_their_param() {
        let cases = [
            (r#"{"disabled": "yes"}"#, "disabled"),
            (r#"{"name": 5}"#, "name"),
            (r#"{"scopes": ["model:chats"]}"#, "scopes[0]"),
            (r#"{"scopes": "model:chat"}"#, "scopes"),
            (
                r#"{"limit": {"retention": "year", "threshold": 1}}"#,
                "limit.retention",
            ),
            (
                r#"{"limit": {"retention": "day", "threshold": -1}}"#,
                "limit.threshold",
            ),
            (r#"{"limit": {"retention": "day"}}"#, "limit.threshold"),
            (r#"{"limit": {"threshold": 1}}"#, "limit.retention"),
            (
                r#"{"limit": {"retention": "day", "threshold": "1"}}"#,
                "limit.threshold",
            ),
            (
                r#"{"limit": {"retention": "day", "threshold": 1, "x": 1}}"#,
                "limit.x",
            ),
            (r#"{"limit": 5}"#, "limit"),
        ];
        for (body, param) in cases {
            let e = parse(Verb::Patch, body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
            assert_eq!(e.kind, ErrorKind::InvalidRequest, "{body}");
        }
        let long = format!(r#"{{"name": "{}"}}"#, "x".repeat(MAX_NAME_CHARS + 1));
        assert_eq!(
            parse(Verb::Post, &long).unwrap_err().param.as_deref(),
            Some("name")
        );
    }
}
