//! The dashboard: server-rendered HTML at `/` (sessions, CSRF, keys, usage,
//! billing, models, playground, administrators).

use crate::AppState;

/// Routes of the dashboard (authenticated by session cookie).
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
}
