//! Usage accounting for one chat request: exactly one ledger row.
//!
//! An [`Accounting`] value is created as soon as a chat request is valid and
//! travels with the request: in the handler for non-streaming requests, inside
//! the response body stream for streaming ones. It writes the row when told
//! how the request ended ([`Accounting::finish`]); if it is dropped before
//! that (the client went away and hyper dropped the handler future or the
//! body stream), its `Drop` writes a `client_disconnected` row counting what
//! was delivered. The upstream stream lives next to it and is dropped (so
//! cancelled) at the same moment. Rows are written on a tracked background
//! task, off the response path; the server drains those tasks on shutdown.

use std::time::{Duration, Instant};

use switchyard_core::{Prices, Usage};
use switchyard_store::{UsageRow, now_ms};

use crate::AppState;

/// Outcome strings stored in the ledger.
pub mod outcome {
    pub const OK: &str = "ok";
    pub const CLIENT_DISCONNECTED: &str = "client_disconnected";
    pub const UPSTREAM_ERROR: &str = "upstream_error";
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const MODEL_NOT_FOUND: &str = "model_not_found";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const TIMEOUT: &str = "timeout";
    pub const INTERNAL_ERROR: &str = "internal_error";
    pub const SHUTDOWN: &str = "shutdown";
}

/// HTTP status stored for a request whose client left before any response was sent
/// (nginx's "client closed request").
pub const STATUS_CLIENT_CLOSED: u16 = 499;

/// Longest model string kept in the ledger for a request naming an unknown model.
const MAX_MODEL_LEN: usize = 256;

/// The per-request accounting guard. See the module docs.
pub struct Accounting {
    state: AppState,
    request_id: String,
    key_id: Option<String>,
    /// Catalogue id once routed; the requested name (truncated) before that.
    model: String,
    /// Whether `model` is a catalogue id (safe as a metrics label).
    routed: bool,
    provider: String,
    prices: Prices,
    start: Instant,
    ttft: Option<Duration>,
    /// Content-bearing events handed to the client.
    delivered: u64,
    usage: Option<Usage>,
    /// Response headers went out (a stream started): a disconnect keeps status 200.
    headers_sent: bool,
    done: bool,
}

impl Accounting {
    pub fn new(
        state: AppState,
        request_id: String,
        key_id: Option<String>,
        start: Instant,
    ) -> Self {
        Accounting {
            state,
            request_id,
            key_id,
            model: String::new(),
            routed: false,
            provider: String::new(),
            prices: Prices::default(),
            start,
            ttft: None,
            delivered: 0,
            usage: None,
            headers_sent: false,
            done: false,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The (validated) request names this model.
    pub fn requested(&mut self, model: &str) {
        self.model = model.chars().take(MAX_MODEL_LEN).collect();
    }

    /// The router picked a model and a provider.
    pub fn routed(&mut self, model_id: &str, provider: &str, prices: Prices) {
        self.model = model_id.to_owned();
        self.provider = provider.to_owned();
        self.prices = prices;
        self.routed = true;
    }

    /// A content-bearing event reached the client (or, for non-streaming
    /// requests, arrived from the backend; see `first_token`).
    pub fn delivered(&mut self) {
        self.first_token();
        self.delivered += 1;
    }

    /// Marks the time of the first token (once).
    pub fn first_token(&mut self) {
        if self.ttft.is_none() {
            self.ttft = Some(self.start.elapsed());
        }
    }

    /// The backend's final usage report.
    pub fn usage(&mut self, usage: Usage) {
        self.usage = Some(usage);
    }

    /// The usage to bill: the backend's report, or else what was delivered.
    pub fn effective_usage(&self) -> Usage {
        self.usage.unwrap_or(Usage {
            completion_tokens: self.delivered,
            ..Usage::default()
        })
    }

    pub fn headers_sent(&mut self) {
        self.headers_sent = true;
    }

    /// Writes the row (once; later calls do nothing).
    pub fn finish(&mut self, status: u16, outcome: &str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let latency = self.start.elapsed();
        let usage = self.effective_usage();
        let cost = self.prices.cost(&usage);
        let metric_model = if self.routed { &self.model } else { "unknown" };
        self.state.metrics().chat_finished(
            metric_model,
            status,
            latency,
            self.ttft,
            usage.prompt_tokens,
            usage.completion_tokens,
        );
        let latency_ms = millis(latency);
        let ttft_ms = self.ttft.map(millis);
        tracing::info!(
            request_id = %self.request_id,
            model = %self.model,
            provider = %self.provider,
            status,
            outcome,
            latency_ms,
            ttft_ms,
            prompt_tokens = usage.prompt_tokens,
            cached_tokens = usage.cached_tokens,
            completion_tokens = usage.completion_tokens,
            reasoning_tokens = usage.reasoning_tokens,
            cost_usd = cost,
            "chat completion"
        );
        let row = UsageRow {
            request_id: self.request_id.clone(),
            key_id: self.key_id.clone(),
            model: self.model.clone(),
            provider: self.provider.clone(),
            prompt_tokens: usage.prompt_tokens,
            cached_tokens: usage.cached_tokens,
            completion_tokens: usage.completion_tokens,
            reasoning_tokens: usage.reasoning_tokens,
            cost_usd: cost,
            status_code: status,
            outcome: outcome.to_owned(),
            latency_ms,
            ttft_ms,
            created_at: now_ms(),
        };
        record(&self.state, row);
    }
}

impl Drop for Accounting {
    fn drop(&mut self) {
        if !self.done {
            let status = if self.headers_sent {
                200
            } else {
                STATUS_CLIENT_CLOSED
            };
            let why = if self.state.aborting() {
                outcome::SHUTDOWN
            } else {
                outcome::CLIENT_DISCONNECTED
            };
            self.finish(status, why);
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Writes `row` on a tracked task, retrying transient database errors.
fn record(state: &AppState, row: UsageRow) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::error!(request_id = %row.request_id, "no runtime to record usage; row lost");
        return;
    };
    let store = state.store().clone();
    state.tasks().spawn_on(
        async move {
            let mut delay = Duration::from_millis(50);
            for attempt in 1..=5 {
                match store.record_usage(&row).await {
                    Ok(true) => return,
                    Ok(false) => {
                        tracing::warn!(request_id = %row.request_id, "usage row already recorded");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(request_id = %row.request_id, attempt, error = %e, "recording usage failed");
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
            tracing::error!(request_id = %row.request_id, "usage row lost after retries");
        },
        &handle,
    );
}
