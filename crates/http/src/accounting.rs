//! Usage accounting for one chat request: exactly one settlement.
//!
//! An [`Accounting`] value is created as soon as a chat request is
//! authenticated and travels with the request: in the handler for
//! non-streaming requests, inside the response body stream for streaming
//! ones. It settles when told how the request ended
//! ([`Accounting::finish`]); if it is dropped before that (the client went
//! away and hyper dropped the handler future or the body stream), its `Drop`
//! settles a `client_disconnected` request counting what was delivered. The
//! upstream stream lives next to it and is dropped (so cancelled) at the same
//! moment.
//!
//! Settling goes through the platform
//! ([`Platform::settle`](switchyard_platform::Platform)): one idempotent
//! database transaction writes the ledger row, charges the account and the
//! key, and releases the hold placed before the backend was called. It runs
//! on a tracked background task with retries, off the response path; the
//! server drains those tasks on shutdown.
//!
//! Billing rule: a request *succeeded* when it completed (`ok`), or when the
//! client went away (or the server shut down) after output was produced; it
//! is then charged its real cost (the platform caps it at the hold). Every
//! other outcome (upstream errors, invalid requests, refusals) is charged 0.

use std::time::{Duration, Instant};

use switchyard_core::{Prices, Usage};
use switchyard_platform::{Hold, KeyAuth, Nanos, Settlement};
use switchyard_store::UsageRow;

use crate::AppState;

/// Where a chat request came from (the ledger's `origin`, `logs-v2.json`'s enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// `POST /v1/chat/completions` with an API key.
    #[default]
    Api,
    /// The dashboard's playground.
    Playground,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Api => "api",
            Origin::Playground => "playground",
        }
    }
}

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
    /// Refused: missing scope, out of balance, over the key's spending limit.
    pub const FORBIDDEN: &str = "forbidden";
}

/// HTTP status stored for a request whose client left before any response was sent
/// (nginx's "client closed request").
pub const STATUS_CLIENT_CLOSED: u16 = 499;

/// Longest model string kept in the ledger for a request naming an unknown model.
const MAX_MODEL_LEN: usize = 256;

/// The per-request accounting guard. See the module docs.
pub struct Accounting {
    state: AppState,
    /// The completion id: the ledger's request id and the inference id.
    request_id: String,
    key_id: Option<String>,
    account_id: Option<String>,
    origin: Origin,
    client_request_id: Option<String>,
    /// The hold placed before the backend was called.
    hold: Option<Hold>,
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
        auth: Option<&KeyAuth>,
        origin: Origin,
        start: Instant,
    ) -> Self {
        Accounting {
            state,
            request_id,
            key_id: auth.map(|a| a.key_id.clone()),
            account_id: auth.map(|a| a.account_id.clone()),
            origin,
            client_request_id: None,
            hold: None,
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

    /// The caller's `X-Client-Request-Id` (already checked).
    pub fn client_request_id(&mut self, id: String) {
        self.client_request_id = Some(id);
    }

    /// The hold placed for this request; settled (and released) by `finish`.
    pub fn hold(&mut self, hold: Hold) {
        self.hold = Some(hold);
    }

    /// The provider actually serving (after any fallback).
    pub fn provider(&mut self, provider: &str) {
        self.provider = provider.to_owned();
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

    /// Whether the request is billed (see the module docs).
    fn succeeded(&self, outcome: &str, usage: &Usage) -> bool {
        let produced = self.delivered > 0 || usage.completion_tokens > 0;
        outcome == outcome::OK
            || (produced && matches!(outcome, outcome::CLIENT_DISCONNECTED | outcome::SHUTDOWN))
    }

    /// Settles the request (once; later calls do nothing).
    pub fn finish(&mut self, status: u16, outcome: &str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let latency = self.start.elapsed();
        let usage = self.effective_usage();
        let cost = self.prices.cost(&usage);
        let succeeded = self.succeeded(outcome, &usage);
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
            succeeded,
            origin = self.origin.as_str(),
            "chat completion"
        );
        let cost_nanos = Nanos::from_usd_ceil(cost).unwrap_or_else(|| {
            tracing::error!(request_id = %self.request_id, cost, "cost is not a finite amount; charging the hold");
            self.hold.as_ref().map_or(Nanos::ZERO, |h| h.amount)
        });
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
            created_at: self.state.platform().now_ms(),
            account_id: self.account_id.clone(),
            inference_id: Some(self.request_id.clone()),
            client_request_id: self.client_request_id.clone(),
            origin: self.origin.as_str().to_owned(),
            charged_nanos: 0,
            succeeded,
        };
        settle(&self.state, self.hold.take(), row, cost_nanos, succeeded);
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

/// Settles on a tracked task, retrying transient database errors. Settling
/// is idempotent on the request id, so a retry after an unclear failure
/// cannot charge twice.
fn settle(state: &AppState, hold: Option<Hold>, row: UsageRow, cost: Nanos, succeeded: bool) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::error!(request_id = %row.request_id, "no runtime to settle usage; row lost (an open hold expires)");
        return;
    };
    let platform = state.platform().clone();
    state.tasks().spawn_on(
        async move {
            let mut delay = Duration::from_millis(50);
            for attempt in 1..=5 {
                let s = Settlement {
                    row: row.clone(),
                    cost,
                    succeeded,
                };
                match platform.settle(hold.as_ref(), s).await {
                    Ok(true) => return,
                    Ok(false) => {
                        tracing::warn!(request_id = %row.request_id, "usage already settled");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(request_id = %row.request_id, attempt, error = %e, "settling usage failed");
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
            tracing::error!(request_id = %row.request_id, "usage row lost after retries (an open hold expires)");
        },
        &handle,
    );
}
