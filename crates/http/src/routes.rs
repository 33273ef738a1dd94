//! The axum application: routes, middleware and OpenAI-shaped fallbacks.
//!
//! Route classes (see `auth`): model routes here take regular keys only;
//! the platform API (`api::routes`) guards its key-management and
//! reporting routes itself; the dashboard uses session cookies.

use axum::{
    Json,
    http::Method,
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;

use crate::{
    ApiError, AppState, ErrorKind, auth, chat, metrics::metrics_handler, models,
    request_id::request_context,
};

/// The whole HTTP API. Drive it with `tower::ServiceExt::oneshot` in tests or
/// with [`crate::serve`] on a socket.
pub fn app(state: AppState) -> axum::Router {
    let v1 = axum::Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/models", get(models::list_models))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::model_key,
        ));
    axum::Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_handler))
        .merge(v1)
        .merge(crate::api::routes(&state))
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .with_state(state)
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn not_found() -> Response {
    ApiError::new(ErrorKind::NotFound, "Unknown endpoint.")
        .with_code("unknown_url")
        .into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    let mut resp = ApiError::new(
        ErrorKind::InvalidRequest,
        format!("Method {method} is not allowed on this endpoint."),
    )
    .with_code("method_not_allowed")
    .into_response();
    *resp.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    resp
}
