//! `switchyard chat`: a small streaming client for a Switchyard (or any
//! OpenAI-compatible) server.

use std::io::Write;

use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};
use switchyard_provider::sse::SseParser;

use super::CliError;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Server base URL (without /v1).
    #[arg(long, env = "SWITCHYARD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key.
    #[arg(long, env = "SWITCHYARD_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Model id.
    #[arg(long, default_value = "x-ai/grok-beta")]
    pub model: String,
    /// Maximum tokens to generate.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// The user message.
    pub prompt: String,
}

pub async fn run(args: ChatArgs) -> Result<(), CliError> {
    let key = args.key.ok_or_else(|| {
        CliError::Usage("no API key: pass --key or set SWITCHYARD_API_KEY".into())
    })?;
    let mut body = json!({
        "model": args.model,
        "messages": [{"role": "user", "content": args.prompt}],
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if let Some(m) = args.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if let Some(t) = args.temperature {
        body["temperature"] = json!(t);
    }
    let url = format!("{}/v1/chat/completions", args.url.trim_end_matches('/'));
    let resp = reqwest::Client::new()
        .post(&url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .map_err(|e| CliError::Runtime(format!("cannot reach {url}: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        return Err(CliError::Runtime(format!(
            "HTTP {status}: {}",
            error_message(&text)
        )));
    }
    let mut out = std::io::stdout().lock();
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| CliError::Runtime(format!("stream interrupted: {e}")))?;
        parser
            .push(&chunk, &mut events)
            .map_err(|e| CliError::Runtime(format!("invalid event stream: {e}")))?;
        for event in events.drain(..) {
            let data = event.data.trim();
            if data == "[DONE]" {
                let _ = writeln!(out);
                return Ok(());
            }
            let v: Value = serde_json::from_str(data)
                .map_err(|e| CliError::Runtime(format!("invalid event from server: {e}")))?;
            if v.get("error").is_some() {
                let _ = writeln!(out);
                return Err(CliError::Runtime(error_message(data)));
            }
            if let Some(text) = v
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
            {
                let _ = write!(out, "{text}");
                let _ = out.flush();
            }
            if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
                eprintln!(
                    "\n[usage] prompt {} · completion {} · total {}",
                    u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]
                );
            }
        }
    }
    Err(CliError::Runtime("the stream ended without [DONE]".into()))
}

fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(500).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_prefers_openai_shape() {
        assert_eq!(
            error_message(r#"{"error":{"message":"bad key"}}"#),
            "bad key"
        );
        assert_eq!(error_message("plain"), "plain");
    }
}
