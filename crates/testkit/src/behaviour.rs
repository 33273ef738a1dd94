//! Failure and quirk behaviours, selected by the request's `model` field.

use std::time::Duration;

/// What the mock does with a request, chosen by its `model` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answer normally (any model name not listed below).
    Normal,
    /// Like `Normal`, but also streams `reasoning_content` / `reasoning` text first.
    Reasoning,
    /// Answers with a refusal instead of content.
    Refuse,
    /// Finishes properly but never sends a usage chunk, even when asked.
    NoUsage,
    /// Valid SSE written awkwardly: comments, `event:` lines, CRLF line
    /// endings, JSON split over several `data:` lines, `data:` without a space.
    QuirkySse,
    /// Sends one content chunk, then a `data: {"error": …}` event, then ends.
    ErrorEvent,
    /// `fail-<status>`: that HTTP status with an OpenAI error body
    /// (`retry-after: 1` on 429).
    Fail(u16),
    /// Accepts the request and never answers.
    Hang,
    /// `slow-first-byte-<ms>`: waits before sending response headers.
    SlowFirstByte(Duration),
    /// 200 with a body that is not JSON (non-stream) or non-JSON SSE data (stream).
    InvalidJson,
    /// Starts SSE, sends 2 chunks, then closes the connection without finish or `[DONE]`.
    CutStream,
    /// Sends 2 chunks, then stalls forever.
    StallMidStream,
    /// `slow-stream-<ms>`: waits that long between chunks.
    SlowStream(Duration),
    /// `flaky-<n>`: the first n requests for this model string get 503, later ones succeed.
    Flaky(u32),
}

impl Behaviour {
    /// Maps a model name to its behaviour; unknown names answer normally.
    pub fn from_model(model: &str) -> Behaviour {
        match model {
            "reasoning" => return Behaviour::Reasoning,
            "refuse" => return Behaviour::Refuse,
            "no-usage" => return Behaviour::NoUsage,
            "quirky-sse" => return Behaviour::QuirkySse,
            "error-event" => return Behaviour::ErrorEvent,
            "hang" => return Behaviour::Hang,
            "invalid-json" => return Behaviour::InvalidJson,
            "cut-stream" => return Behaviour::CutStream,
            "stall-mid-stream" => return Behaviour::StallMidStream,
            _ => {}
        }
        let ms = |rest: &str| rest.parse::<u64>().ok().map(Duration::from_millis);
        if let Some(d) = model.strip_prefix("slow-first-byte-").and_then(ms) {
            return Behaviour::SlowFirstByte(d);
        }
        if let Some(d) = model.strip_prefix("slow-stream-").and_then(ms) {
            return Behaviour::SlowStream(d);
        }
        if let Some(n) = model
            .strip_prefix("flaky-")
            .and_then(|r| r.parse::<u32>().ok())
        {
            return Behaviour::Flaky(n);
        }
        if let Some(code) = model
            .strip_prefix("fail-")
            .and_then(|r| r.parse::<u16>().ok())
            .filter(|c| (400..=599).contains(c))
        {
            return Behaviour::Fail(code);
        }
        Behaviour::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_names() {
        assert_eq!(Behaviour::from_model("grok-beta"), Behaviour::Normal);
        assert_eq!(Behaviour::from_model("fail-500"), Behaviour::Fail(500));
        assert_eq!(Behaviour::from_model("fail-429"), Behaviour::Fail(429));
        assert_eq!(Behaviour::from_model("fail-200"), Behaviour::Normal);
        assert_eq!(Behaviour::from_model("flaky-2"), Behaviour::Flaky(2));
        assert_eq!(
            Behaviour::from_model("slow-first-byte-250"),
            Behaviour::SlowFirstByte(Duration::from_millis(250))
        );
        assert_eq!(
            Behaviour::from_model("slow-stream-20"),
            Behaviour::SlowStream(Duration::from_millis(20))
        );
        assert_eq!(Behaviour::from_model("slow-stream-x"), Behaviour::Normal);
        assert_eq!(Behaviour::from_model("hang"), Behaviour::Hang);
    }
}
