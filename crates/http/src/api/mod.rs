//! The platform's JSON API: key management (`/v1/keys`, `/v1/key`), usage
//! (`/v2/usage*`, `/v2/logs`) and billing (`/v2/billing*`, `/v1/billing/balance`),
//! field for field as in `reference/aimlapi/*.json`.
//!
//! Every route is authenticated by API key (see `auth`): the key-management
//! routes take management keys only, the reporting routes either kind. A
//! report is always about the key's own account (`common::subject`).

mod billing;
mod common;
mod keys;
mod usage;

use axum::{
    middleware,
    routing::{get, patch},
};

use crate::{AppState, auth};

/// Routes of the platform API.
pub(crate) fn routes(state: &AppState) -> axum::Router<AppState> {
    let management = axum::Router::new()
        .route("/v1/keys", get(keys::list).post(keys::create))
        .route(
            "/v1/keys/{prefix}",
            patch(keys::patch).put(keys::put).delete(keys::delete),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::management_key,
        ));
    let reporting = axum::Router::new()
        .route("/v1/key", get(keys::own))
        .route("/v2/usage", get(usage::usage))
        .route("/v2/usage/detail", get(usage::detail))
        .route("/v2/logs", get(usage::logs))
        .route("/v2/usage/logs", get(usage::logs))
        .route("/v2/billing", get(billing::billing))
        .route("/v2/billing/detail", get(billing::detail))
        .route("/v2/billing/transactions", get(billing::transactions))
        .route("/v1/billing/balance", get(billing::balance))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::any_key));
    management.merge(reporting)
}
