//! Prometheus metrics, hand-rolled on atomics.
//!
//! Counters are keyed by their rendered label set; the map is behind an
//! `RwLock` that is only written when a new label combination first appears,
//! so the hot path is a read lock and an atomic add. Model labels are always
//! catalogue ids (or `unknown`), which keeps cardinality bounded.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use axum::{
    extract::State,
    http::header::CONTENT_TYPE,
    response::{IntoResponse, Response},
};

use crate::AppState;

/// A counter family with labels.
#[derive(Default)]
struct Counters {
    map: RwLock<BTreeMap<String, Arc<AtomicU64>>>,
}

impl Counters {
    fn add(&self, labels: &str, by: u64) {
        {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = map.get(labels) {
                c.fetch_add(by, Relaxed);
                return;
            }
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.entry(labels.to_owned())
            .or_default()
            .fetch_add(by, Relaxed);
    }

    fn get(&self, labels: &str) -> u64 {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(labels).map_or(0, |c| c.load(Relaxed))
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        for (labels, c) in map.iter() {
            let _ = writeln!(out, "{name}{{{labels}}} {}", c.load(Relaxed));
        }
    }
}

/// Upper bounds in seconds.
const BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// A histogram without labels.
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Relaxed);
        }
        self.sum_micros
            .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Relaxed);
            match BUCKETS.get(i) {
                Some(b) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

/// All metrics of the HTTP edge.
pub struct Metrics {
    requests: Counters,
    responses: Counters,
    prompt_tokens: Counters,
    completion_tokens: Counters,
    latency: Histogram,
    ttft: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Escapes a Prometheus label value.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn model_labels(model: &str) -> String {
    format!("model=\"{}\"", escape(model))
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            requests: Counters::default(),
            responses: Counters::default(),
            prompt_tokens: Counters::default(),
            completion_tokens: Counters::default(),
            latency: Histogram::new(),
            ttft: Histogram::new(),
        }
    }

    /// One finished chat completion.
    pub fn chat_finished(
        &self,
        model: &str,
        status: u16,
        latency: Duration,
        ttft: Option<Duration>,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) {
        let model = model_labels(model);
        self.requests
            .add(&format!("{model},status=\"{status}\""), 1);
        self.latency.observe(latency);
        if let Some(t) = ttft {
            self.ttft.observe(t);
        }
        if prompt_tokens > 0 {
            self.prompt_tokens.add(&model, prompt_tokens);
        }
        if completion_tokens > 0 {
            self.completion_tokens.add(&model, completion_tokens);
        }
    }

    /// Any HTTP response (all routes).
    pub fn response(&self, status: u16) {
        self.responses.add(&format!("status=\"{status}\""), 1);
    }

    /// Chat requests counted for `model` and `status` (for tests and dashboards).
    pub fn requests_count(&self, model: &str, status: u16) -> u64 {
        self.requests
            .get(&format!("{},status=\"{status}\"", model_labels(model)))
    }

    /// Prompt and completion tokens counted for `model`.
    pub fn tokens(&self, model: &str) -> (u64, u64) {
        let m = model_labels(model);
        (self.prompt_tokens.get(&m), self.completion_tokens.get(&m))
    }

    /// Observations in the latency histogram.
    pub fn latency_count(&self) -> u64 {
        self.latency.count()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.requests.render(
            &mut out,
            "switchyard_requests_total",
            "Chat completion requests by model and HTTP status.",
        );
        self.responses.render(
            &mut out,
            "switchyard_http_responses_total",
            "HTTP responses of every route by status.",
        );
        self.latency.render(
            &mut out,
            "switchyard_request_duration_seconds",
            "Chat completion latency, from request to last byte.",
        );
        self.ttft.render(
            &mut out,
            "switchyard_time_to_first_token_seconds",
            "Time from request to the first generated token.",
        );
        self.prompt_tokens.render(
            &mut out,
            "switchyard_prompt_tokens_total",
            "Prompt tokens by model.",
        );
        self.completion_tokens.render(
            &mut out,
            "switchyard_completion_tokens_total",
            "Completion tokens by model.",
        );
        out
    }
}

/// `GET /metrics`
pub(crate) async fn metrics_handler(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_text_format() {
        let m = Metrics::new();
        m.chat_finished(
            "x-ai/grok-beta",
            201,
            Duration::from_millis(30),
            Some(Duration::from_millis(7)),
            10,
            5,
        );
        m.chat_finished("x-ai/grok-beta", 201, Duration::from_secs(2), None, 1, 0);
        m.chat_finished("we\"ird", 502, Duration::from_secs(1000), None, 0, 0);
        let text = m.render();
        assert!(
            text.contains("switchyard_requests_total{model=\"x-ai/grok-beta\",status=\"201\"} 2"),
            "{text}"
        );
        assert!(text.contains("switchyard_requests_total{model=\"we\\\"ird\",status=\"502\"} 1"));
        assert!(text.contains("switchyard_request_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("switchyard_request_duration_seconds_bucket{le=\"2.5\"} 2"));
        assert!(text.contains("switchyard_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("switchyard_request_duration_seconds_count 3"));
        assert!(text.contains("switchyard_time_to_first_token_seconds_bucket{le=\"0.01\"} 1"));
        assert!(text.contains("switchyard_time_to_first_token_seconds_count 1"));
        assert!(text.contains("switchyard_prompt_tokens_total{model=\"x-ai/grok-beta\"} 11"));
        assert!(text.contains("switchyard_completion_tokens_total{model=\"x-ai/grok-beta\"} 5"));
        assert_eq!(m.tokens("x-ai/grok-beta"), (11, 5));
        assert_eq!(m.requests_count("x-ai/grok-beta", 201), 2);
    }
}
