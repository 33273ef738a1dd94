//! The dashboard: server-rendered HTML at `/` (sessions, CSRF, keys, usage,
//! billing, models, playground, administrators).
//!
//! Every page works without JavaScript; `assets/app.js` (ours, served from
//! the binary) only adds the copy button and playground streaming. HTML is
//! written with maud, which escapes every interpolated value. Each dashboard
//! response carries a strict `Content-Security-Policy` (scripts and styles
//! from this origin only, no inline code), `X-Frame-Options: DENY`,
//! `Referrer-Policy: same-origin` and `Cache-Control: no-store`.
//!
//! Architecture Invariant: the dashboard calls the same `Platform` methods as
//! the JSON API and never reads the store directly; every query is scoped to
//! the session's account.
//! Passwords, keys and session tokens are never logged: the access log
//! records the path only, and form bodies are never logged.

mod admin;
mod auth;
mod billing;
mod chart;
mod csrf;
mod keys;
mod layout;
mod models;
mod page;
mod playground;
mod session;
mod usage;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::AppState;
use page::{DashError, redirect};
use session::Session;

pub(crate) const CSS_PATH: &str = "/assets/app.css";
pub(crate) const JS_PATH: &str = "/assets/app.js";

const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");

/// Scripts, styles and fetches from this origin only; no inline code, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Routes of the dashboard (authenticated by session cookie).
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(home))
        .route("/signup", get(auth::signup_page).post(auth::signup))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/keys", get(keys::keys_page).post(keys::create))
        .route("/keys/{prefix}/toggle", post(keys::toggle))
        .route("/keys/{prefix}/delete", post(keys::delete))
        .route("/keys/{prefix}/limit", post(keys::set_limit))
        .route("/keys/{prefix}/scopes", post(keys::set_scopes))
        .route("/keys/{prefix}/rate", post(keys::set_rate))
        .route("/usage", get(usage::usage_page))
        .route("/billing", get(billing::billing_page))
        .route("/models", get(models::models_page))
        .route(
            "/playground",
            get(playground::playground_page).post(playground::ask),
        )
        .route("/playground/stream", post(playground::stream))
        .route("/admin", get(admin::admin_page))
        .route("/admin/grant", post(admin::grant))
        .route("/admin/signup-mode", post(admin::signup_mode))
        .route("/admin/invites", post(admin::create_invite))
        .route("/admin/accounts/{id}/admin", post(admin::set_admin))
        .route("/admin/accounts/{id}/disable", post(admin::set_disabled))
        .route("/admin/accounts/{id}/rate", post(admin::set_rate))
        .route(CSS_PATH, get(css))
        .route("/favicon.ico", get(favicon))
        .route(JS_PATH, get(js))
        .layer(middleware::from_fn(security_headers))
}

/// `GET /`: the keys page when signed in, else the login page.
async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match Session::load(&state, &headers).await {
        Ok(Some(_)) => redirect("/keys"),
        Ok(None) => redirect("/login"),
        Err(e) => DashError::into_response(e),
    }
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// No icon: an empty answer instead of a 404 in every browser console.
async fn favicon() -> Response {
    (
        axum::http::StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        APP_CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        APP_JS,
    )
        .into_response()
}
