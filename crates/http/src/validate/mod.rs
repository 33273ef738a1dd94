//! Validation of `POST /v1/chat/completions` bodies into
//! [`switchyard_core::ChatRequest`].
//!
//! The contract is the request schema in
//! `reference/aimlapi/grok-beta-chat-completions.json` plus the fields OpenAI
//! documents for chat completions. Every violation is a 400 in OpenAI's error
//! shape whose `param` is the full JSON path of the offending value
//! (`messages[2].content`, `tools[3].function.name`, `logit_bias.abc`).
//!
//! Choices made where the contract is silent:
//! - **`null` means absent** for every optional field, at every depth: OpenAI
//!   clients send `"temperature": null` for "not set". A required field that is
//!   `null` is reported as missing.
//! - Unknown keys are refused (code `unknown_parameter`) at the top level and
//!   inside every object whose shape the contract defines (messages, parts,
//!   tools, ...). Free-form JSON Schema documents (`parameters`, `schema`) pass
//!   through untouched.
//! - Numbers the schema types as integers, or that are integers by meaning
//!   (`max_tokens`, `top_k`, `top_logprobs`), must be integer-valued: `3` and
//!   `3.0` pass, `1.5` does not.
//! - `repetition_penalty` has no range in the schema; we use OpenRouter's
//!   documented `(0, 2]`.
//! - `top_k` is `>= 0` (0 disables it); `seed` is `>= 1` as the schema says.
//! - `logit_bias` keys must be canonical decimal token ids (`"50256"`, not
//!   `"+50256"` or `"050256"`).
//! - A content-part array must not be empty; a `file` part needs `file_data`
//!   or `file_id`; an assistant message needs `content` unless it has
//!   `tool_calls`.
//! - Tool names must be unique. The schema's `tools[].function.required` is
//!   merged into `parameters.required` (JSON Schema's meaning of the word).
//! - `safety_identifier` wins over `user` when both are given.
//! - Whether the chosen *model* supports images, tools, audio output etc. is
//!   not checked here; the router does that with `Capabilities::check`.
//!
//! Error codes: `unsupported_content_type`, `invalid_json`, `invalid_type`
//! (wrong JSON type, also for a non-object body), `invalid_value` (range,
//! enum, cross-field rule), `missing_required_parameter`, `unknown_parameter`.

mod messages;
mod options;
mod reader;
mod sampling;
mod tools;

#[cfg(test)]
mod tests;

use serde_json::Value;
use switchyard_core::ChatRequest;

use crate::{ApiError, ErrorKind};
use reader::Obj;

/// Every top-level field accepted: the schema's, then OpenAI-documented ones.
const TOP_LEVEL: &[&str] = &[
    // the schema
    "model",
    "messages",
    "max_completion_tokens",
    "max_tokens",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "seed",
    "min_p",
    "top_k",
    "repetition_penalty",
    "top_a",
    "frequency_penalty",
    "prediction",
    "presence_penalty",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "stop",
    "logprobs",
    "top_logprobs",
    // documented by OpenAI
    "n",
    "logit_bias",
    "response_format",
    "user",
    "safety_identifier",
    "metadata",
    "store",
    "service_tier",
    "modalities",
    "audio",
    "reasoning_effort",
    "web_search_options",
    "functions",
    "function_call",
];

/// Validates a chat-completions request body.
///
/// `content_type` is the request's `Content-Type` header, if any.
pub fn parse_chat_request(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<ChatRequest, ApiError> {
    check_content_type(content_type)?;
    let value: Value = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
    if !value.is_object() {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            "The request body must be a JSON object.",
        )
        .with_code(reader::code::INVALID_TYPE));
    }
    let root = Obj::new(String::new(), &value)?;
    root.deny_unknown(TOP_LEVEL)?;

    let model = root.req_nonempty_str("model")?.to_string();
    let messages = messages::messages(&root)?;
    let (stream, include_usage) = options::stream(&root)?;
    let (tools, tool_choice) = tools::tools(&root)?;
    Ok(ChatRequest {
        model,
        messages,
        max_tokens: sampling::max_tokens(&root)?,
        n: sampling::n(&root)?,
        stream,
        include_usage,
        sampling: sampling::sampling(&root)?,
        stop: sampling::stop(&root)?,
        logprobs: sampling::logprobs(&root)?,
        tools,
        tool_choice,
        parallel_tool_calls: root.opt_bool("parallel_tool_calls")?,
        response_format: options::response_format(&root)?,
        prediction: options::prediction(&root)?,
        options: options::options(&root)?,
    })
}

/// The media type must be `application/json` (parameters such as
/// `; charset=utf-8` allowed, case-insensitive).
fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let essence = content_type.map(|ct| ct.split(';').next().unwrap_or_default().trim());
    if essence.is_some_and(|e| e.eq_ignore_ascii_case("application/json")) {
        return Ok(());
    }
    let got = match essence {
        Some(e) => format!("'{}'", e.chars().take(64).collect::<String>()),
        None => "no Content-Type".to_string(),
    };
    Err(ApiError::new(
        ErrorKind::InvalidRequest,
        format!("The request Content-Type must be 'application/json', got {got}."),
    )
    .with_code("unsupported_content_type"))
}

/// 400 `invalid_json` with the line and column of the problem.
fn json_error(e: &serde_json::Error) -> ApiError {
    // serde_json's text is "<what> at line L column C"; we print the position ourselves.
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(what, _)| what);
    ApiError::new(
        ErrorKind::InvalidRequest,
        format!(
            "We could not parse the JSON body of your request: {what} at line {}, column {}.",
            e.line(),
            e.column()
        ),
    )
    .with_code("invalid_json")
}
