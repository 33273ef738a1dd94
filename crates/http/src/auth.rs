//! API-key authentication for every `/v1` route.
//!
//! `Authorization: Bearer <key>`; the key's format and checksum are checked
//! offline, then its public id is looked up and its SHA-256 compared in
//! constant time. Successful lookups are cached for `key_cache_ttl` (a few
//! seconds), so a disabled or deleted key is refused at most that long after
//! the change while the hot path usually skips the database.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, header::AUTHORIZATION},
    middleware::Next,
    response::{IntoResponse, Response},
};
use switchyard_auth::{ParsedKey, constant_time_eq};
use switchyard_store::KeyCheck;

use crate::{ApiError, AppState};

/// The authenticated key, put into request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthedKey {
    /// Internal key id (as in the usage ledger).
    pub key_id: String,
    pub public_id: String,
}

/// Bound on cached keys; when full, the whole cache is dropped (it refills).
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    at: Instant,
    key_id: String,
    hash: [u8; 32],
}

/// Short-TTL cache of valid keys: public id -> (key id, hash).
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

    fn get(&self, public_id: &str) -> Option<(String, [u8; 32])> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let e = map.get(public_id)?;
        (e.at.elapsed() < self.ttl).then(|| (e.key_id.clone(), e.hash))
    }

    fn insert(&self, public_id: &str, key_id: &str, hash: [u8; 32]) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            public_id.to_owned(),
            Entry {
                at: Instant::now(),
                key_id: key_id.to_owned(),
                hash,
            },
        );
    }
}

/// Middleware: refuses the request with 401 unless it carries a valid key.
pub(crate) async fn require_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&state, req.headers()).await {
        Ok(key) => {
            req.extensions_mut().insert(key);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<AuthedKey, ApiError> {
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

    if let Some((key_id, cached)) = state.keys().get(parsed.public_id()) {
        return if constant_time_eq(&cached, &hash) {
            Ok(AuthedKey {
                key_id,
                public_id: parsed.public_id().to_owned(),
            })
        } else {
            Err(unknown())
        };
    }
    match state.store().check_key(&parsed).await {
        Ok(KeyCheck::Valid(rec)) => {
            state.keys().insert(&rec.public_id, &rec.id, rec.hash());
            Ok(AuthedKey {
                key_id: rec.id,
                public_id: rec.public_id,
            })
        }
        Ok(KeyCheck::Unknown) => Err(unknown()),
        Ok(KeyCheck::Disabled) => Err(ApiError::unauthorized("This API key is disabled.")),
        Ok(KeyCheck::Deleted) => Err(ApiError::unauthorized("This API key has been deleted.")),
        Err(e) => Err(ApiError::internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        c.insert("pub", "key_1", [7; 32]);
        assert_eq!(c.get("pub"), Some(("key_1".into(), [7; 32])));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get("pub"), None);
        let off = KeyCache::new(Duration::ZERO);
        off.insert("pub", "key_1", [7; 32]);
        assert_eq!(off.get("pub"), None);
    }
}
