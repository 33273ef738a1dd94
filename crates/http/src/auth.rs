//! API-key authentication, key kinds and rate limits for every `/v1` and
//! `/v2` route.
//!
//! `Authorization: Bearer <key>`; the key's format and checksum are checked
//! offline, then [`Platform::authenticate`](switchyard_platform::Platform)
//! looks it up. The whole [`KeyAuth`] of a valid key is cached for
//! `key_cache_ttl` (≤ 2 s), keyed by public id and guarded by the key's hash
//! (compared in constant time), so a disabled or deleted key is refused at
//! most that long after the change while the hot path usually skips the
//! database.
//!
//! Route classes (the design's contract):
//! - [`RouteClass::Model`] (`/v1/chat/completions`, `/v1/models`): regular keys only;
//! - [`RouteClass::Management`] (`/v1/keys`, `/v1/keys/{prefix}`): management keys only;
//! - [`RouteClass::Reporting`] (`/v1/key`, `/v2/usage*`, `/v2/logs`, `/v2/billing*`,
//!   `/v1/billing/balance`): both kinds.
//!
//! A key of the wrong kind gets 403 `wrong_key_kind`. Every authenticated
//! request counts against the key's requests-per-minute
//! ([`Platform::rate_check`](switchyard_platform::Platform)), and every
//! response to it (errors included) carries the `x-ratelimit-*` headers of
//! the dimensions that have a limit; over the limit is 429
//! `rate_limit_exceeded` with `retry-after`.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header::AUTHORIZATION},
    middleware::Next,
    response::{IntoResponse, Response},
};
use switchyard_auth::{ParsedKey, constant_time_eq};
use switchyard_platform::{
    KeyAuth, KeyAuthResult, KeyKind, PlatformError, RateKind, RateStatus, ratelimit::Dim,
};

use crate::{ApiError, AppState, ErrorKind};

/// Which keys a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// Model calls: regular keys only.
    Model,
    /// The key-management API: management keys only.
    Management,
    /// Usage, logs, billing and the key's own record: both kinds.
    Reporting,
}

impl RouteClass {
    /// The kind this class needs (`None`: any).
    fn needs(self) -> Option<KeyKind> {
        match self {
            RouteClass::Model => Some(KeyKind::Regular),
            RouteClass::Management => Some(KeyKind::Management),
            RouteClass::Reporting => None,
        }
    }
}

/// Bound on cached keys; when full, the whole cache is dropped (it refills).
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    at: Instant,
    auth: KeyAuth,
    hash: [u8; 32],
}

/// Short-TTL cache of valid keys: public id -> (what the key may do, its hash).
pub(crate) struct KeyCache {
    ttl: Duration,
    map: RwLock<HashMap<String, Entry>>,
}

impl KeyCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl,
            map: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, public_id: &str) -> Option<(KeyAuth, [u8; 32])> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let e = map.get(public_id)?;
        (e.at.elapsed() < self.ttl).then(|| (e.auth.clone(), e.hash))
    }

    /// Drops the cached entries `pred` selects, so a key changed through this
    /// process (disabled, deleted, its account disabled) is looked up again at
    /// once; other replicas still notice within the TTL.
    pub(crate) fn forget(&self, pred: impl Fn(&KeyAuth) -> bool) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, e| !pred(&e.auth));
    }

    fn insert(&self, auth: &KeyAuth, hash: [u8; 32]) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            auth.public_id.clone(),
            Entry {
                at: Instant::now(),
                auth: auth.clone(),
                hash,
            },
        );
    }
}

/// Middleware for [`RouteClass::Model`] routes.
pub(crate) async fn model_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    guard(state, RouteClass::Model, req, next).await
}

/// Middleware for [`RouteClass::Management`] routes.
pub(crate) async fn management_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    guard(state, RouteClass::Management, req, next).await
}

/// Middleware for [`RouteClass::Reporting`] routes.
pub(crate) async fn any_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    guard(state, RouteClass::Reporting, req, next).await
}

/// Authenticates, counts the request, checks the key's kind, then runs the
/// handler with the [`KeyAuth`] in request extensions. The rate-limit
/// headers go on whatever response comes back.
async fn guard(state: AppState, class: RouteClass, mut req: Request, next: Next) -> Response {
    let auth = match authenticate(&state, req.headers()).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let (mut resp, headers) = match state.platform().rate_check(&auth).await {
        Ok(status) => {
            let resp = match check_kind(class, &auth) {
                Ok(()) => {
                    req.extensions_mut().insert(auth);
                    next.run(req).await
                }
                Err(e) => e.into_response(),
            };
            (resp, rate_headers(&status))
        }
        Err(PlatformError::RateLimited {
            kind,
            limit,
            retry_after_secs,
        }) => {
            let hit = Dim {
                limit,
                remaining: 0,
                reset_ms: i64::try_from(retry_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            };
            let status = match kind {
                RateKind::Requests => RateStatus {
                    requests: Some(hit),
                    tokens: None,
                },
                RateKind::Tokens => RateStatus {
                    requests: None,
                    tokens: Some(hit),
                },
            };
            let err = ApiError::from(PlatformError::RateLimited {
                kind,
                limit,
                retry_after_secs,
            });
            (err.into_response(), rate_headers(&status))
        }
        Err(e) => (ApiError::from(e).into_response(), Vec::new()),
    };
    for (name, value) in headers {
        resp.headers_mut().insert(name, value);
    }
    resp
}

fn check_kind(class: RouteClass, auth: &KeyAuth) -> Result<(), ApiError> {
    match class.needs() {
        Some(needed) if needed != auth.kind => {
            let message = match needed {
                KeyKind::Regular => {
                    "This endpoint needs a regular API key; management keys can only call the key-management API (/v1/keys)."
                }
                KeyKind::Management => {
                    "This endpoint needs a management key; regular API keys cannot manage keys."
                }
            };
            Err(ApiError::new(ErrorKind::PermissionDenied, message).with_code("wrong_key_kind"))
        }
        _ => Ok(()),
    }
}

/// The `x-ratelimit-*` headers for the dimensions that have a limit.
pub(crate) fn rate_headers(status: &RateStatus) -> Vec<(&'static str, HeaderValue)> {
    let mut out = Vec::with_capacity(6);
    let mut dim = |d: &Option<Dim>, names: [&'static str; 3]| {
        if let Some(d) = d {
            out.push((names[0], HeaderValue::from(d.limit)));
            out.push((names[1], HeaderValue::from(d.remaining)));
            if let Ok(v) = HeaderValue::from_str(&reset_duration(d.reset_ms)) {
                out.push((names[2], v));
            }
        }
    };
    dim(
        &status.requests,
        [
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
        ],
    );
    dim(
        &status.tokens,
        [
            "x-ratelimit-limit-tokens",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
        ],
    );
    out
}

/// OpenAI-style reset durations kept simple: `250ms` under a second, else
/// whole seconds rounded up (`1s`, `59s`, `60s`).
pub(crate) fn reset_duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", ms.saturating_add(999) / 1000)
    }
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Resolves the request's API key to what it may do (401 when it can't).
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<KeyAuth, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "You didn't provide an API key. Send it as `Authorization: Bearer <key>`.",
        ));
    };
    let token = value.to_str().ok().and_then(bearer).ok_or_else(|| {
        ApiError::unauthorized("Malformed Authorization header; expected `Bearer <key>`.")
    })?;
    let parsed = ParsedKey::parse(token)
        .map_err(|e| ApiError::unauthorized(format!("Invalid API key: {e}.")))?;
    let hash = parsed.hash();
    let unknown = || ApiError::unauthorized("Incorrect API key provided.");

    if let Some((auth, cached)) = state.keys().get(parsed.public_id()) {
        return if constant_time_eq(&cached, &hash) {
            Ok(auth)
        } else {
            Err(unknown())
        };
    }
    match state.platform().authenticate(&parsed).await {
        Ok(KeyAuthResult::Valid(auth)) => {
            state.keys().insert(&auth, hash);
            Ok(auth)
        }
        Ok(KeyAuthResult::Unknown) => Err(unknown()),
        Ok(KeyAuthResult::Disabled) => Err(ApiError::unauthorized("This API key is disabled.")),
        Ok(KeyAuthResult::Deleted) => Err(ApiError::unauthorized("This API key has been deleted.")),
        Ok(KeyAuthResult::AccountDisabled) => Err(PlatformError::AccountDisabled.into()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_platform::RateLimits;

    fn auth(public_id: &str, kind: KeyKind) -> KeyAuth {
        KeyAuth {
            key_id: "key_1".into(),
            public_id: public_id.into(),
            prefix: "abcd1234".into(),
            account_id: "acct_1".into(),
            account_is_admin: false,
            kind,
            scopes: None,
            rate: RateLimits::default(),
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn cache_entries_expire() {
        let c = KeyCache::new(Duration::from_millis(30));
        let a = auth("pub", KeyKind::Regular);
        c.insert(&a, [7; 32]);
        assert_eq!(c.get("pub"), Some((a.clone(), [7; 32])));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get("pub"), None);
        let off = KeyCache::new(Duration::ZERO);
        off.insert(&a, [7; 32]);
        assert_eq!(off.get("pub"), None);
    }

    #[test]
    fn forget_drops_only_the_selected_entries() {
        let c = KeyCache::new(Duration::from_secs(60));
        let a = auth("pub_a", KeyKind::Regular);
        let mut b = auth("pub_b", KeyKind::Regular);
        b.prefix = "sy_other".into();
        c.insert(&a, [1; 32]);
        c.insert(&b, [2; 32]);
        c.forget(|k| k.prefix == a.prefix);
        assert_eq!(c.get("pub_a"), None);
        assert_eq!(c.get("pub_b"), Some((b, [2; 32])));
    }

    #[test]
    fn kinds_per_route_class() {
        let regular = auth("p", KeyKind::Regular);
        let mgmt = auth("p", KeyKind::Management);
        assert!(check_kind(RouteClass::Model, &regular).is_ok());
        let e = check_kind(RouteClass::Model, &mgmt).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("wrong_key_kind"));
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert!(check_kind(RouteClass::Management, &regular).is_err());
        assert!(check_kind(RouteClass::Management, &mgmt).is_ok());
        assert!(check_kind(RouteClass::Reporting, &regular).is_ok());
        assert!(check_kind(RouteClass::Reporting, &mgmt).is_ok());
    }

    #[test]
    fn reset_durations_are_openai_style() {
        assert_eq!(reset_duration(0), "0ms");
        assert_eq!(reset_duration(250), "250ms");
        assert_eq!(reset_duration(1000), "1s");
        assert_eq!(reset_duration(58_001), "59s");
        assert_eq!(reset_duration(-5), "0ms");
    }

    #[test]
    fn headers_only_for_limited_dimensions() {
        let s = RateStatus {
            requests: Some(Dim {
                limit: 60,
                remaining: 59,
                reset_ms: 12_000,
            }),
            tokens: None,
        };
        let h = rate_headers(&s);
        let names: Vec<_> = h.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "x-ratelimit-limit-requests",
                "x-ratelimit-remaining-requests",
                "x-ratelimit-reset-requests"
            ]
        );
        assert_eq!(h[2].1, "12s");
        assert_eq!(h[1].1, "59");
    }
}
