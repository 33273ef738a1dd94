//! `x-request-id` on every response, plus a structured access log line.
//!
//! A sane incoming `x-request-id` is echoed; otherwise one is generated in
//! the completion-id format (`gen-<secs>-<20 alphanumerics>`), and a chat
//! completion uses that same value as its `id`, so the header, the response
//! and the usage ledger agree. When the client supplies its own id, the chat
//! completion still gets a fresh server-side `gen-…` id (the ledger key must
//! not be client-controlled, or a replayed header could suppress a row).

use std::time::Instant;

use axum::{
    extract::{Request, State},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};

use crate::{
    AppState,
    ids::{completion_id, sane_request_id, unix_now},
};

pub const X_REQUEST_ID: &str = "x-request-id";

/// The request's id, in request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId {
    pub value: String,
    /// We generated it (the client sent none, or an unusable one).
    pub generated: bool,
    /// Unix seconds embedded in a generated id.
    pub created: u64,
}

pub(crate) async fn request_context(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let incoming = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane_request_id(v))
        .map(str::to_owned);
    let created = unix_now();
    let rid = match incoming {
        Some(value) => RequestId {
            value,
            generated: false,
            created,
        },
        None => RequestId {
            value: completion_id(created),
            generated: true,
            created,
        },
    };
    let method = req.method().clone();
    // Path only: query strings are not logged.
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(rid.clone());

    let mut resp = next.run(req).await;

    if let Ok(v) = HeaderValue::from_str(&rid.value) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    let status = resp.status().as_u16();
    state.metrics().response(status);
    tracing::info!(
        request_id = %rid.value,
        method = %method,
        path = %path,
        status,
        latency_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        "http request"
    );
    resp
}
