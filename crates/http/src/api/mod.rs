//! The platform's JSON API: key management (`/v1/keys`, `/v1/key`), usage
//! (`/v2/usage*`, `/v2/logs`) and billing (`/v2/billing*`, `/v1/billing/balance`),
//! field for field as in `reference/aimlapi/*.json`.

use crate::AppState;

/// Routes of the platform API (authenticated by API key; see `auth`).
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
}
