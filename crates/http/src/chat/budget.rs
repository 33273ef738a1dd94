//! Worst-case token bounds of a chat request, for the hold placed before the
//! backend is called (the platform prices them).
//!
//! - Prompt: UTF-8 bytes of every piece of text the model reads (message
//!   content, names, tool calls and ids, refusals, tool definitions, the
//!   response schema, the predicted output) + 16 per message for the chat
//!   template's framing. No tokenizer emits more tokens than bytes. A
//!   non-text part (image, audio, file) counts its payload bytes plus
//!   [`MEDIA_PART_TOKENS`], since a short image URL can still cost a
//!   thousand tokens.
//! - Completion: the request's budget (`max_completion_tokens`, else
//!   `max_tokens`; validation fills in the schema default 512 when neither is
//!   given, and that default is what every backend is told, so it bounds the
//!   output) times `n`, since every choice is billed. A model without the
//!   request's value (cannot happen after validation) falls back to the
//!   model's `max_output`, else its `context_length`, else 4096.

use switchyard_core::{ChatRequest, Content, ContentPart, ResponseFormat};
use switchyard_router::CatalogueModel;

/// Framing tokens allowed per message (role markers, separators).
pub const PER_MESSAGE_TOKENS: u64 = 16;
/// Extra allowance for one image, audio or file part.
pub const MEDIA_PART_TOKENS: u64 = 1024;
/// Completion bound when neither the request nor the model gives one.
pub const FALLBACK_COMPLETION_TOKENS: u64 = 4096;

fn len(s: &str) -> u64 {
    s.len() as u64
}

fn content_bytes(c: &Content) -> u64 {
    match c {
        Content::Text(t) => len(t),
        Content::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text(t) | ContentPart::Refusal(t) => len(t),
                ContentPart::ImageUrl { url, .. } => len(url) + MEDIA_PART_TOKENS,
                ContentPart::InputAudio { data, .. } => len(data) + MEDIA_PART_TOKENS,
                ContentPart::File {
                    file_data,
                    filename,
                    file_id,
                } => {
                    [file_data, filename, file_id]
                        .iter()
                        .filter_map(|s| s.as_deref())
                        .map(len)
                        .sum::<u64>()
                        + MEDIA_PART_TOKENS
                }
            })
            .sum(),
    }
}

/// Upper bound of the prompt's tokens.
pub fn prompt_tokens_max(req: &ChatRequest) -> u64 {
    let messages: u64 = req
        .messages
        .iter()
        .map(|m| {
            PER_MESSAGE_TOKENS
                + m.content.as_ref().map_or(0, content_bytes)
                + m.name.as_deref().map_or(0, len)
                + m.refusal.as_deref().map_or(0, len)
                + m.tool_call_id.as_deref().map_or(0, len)
                + m.tool_calls
                    .iter()
                    .map(|c| len(&c.id) + len(&c.name) + len(&c.arguments))
                    .sum::<u64>()
        })
        .sum();
    let tools: u64 = req
        .tools
        .iter()
        .map(|t| {
            PER_MESSAGE_TOKENS
                + len(&t.name)
                + t.description.as_deref().map_or(0, len)
                + t.parameters.as_ref().map_or(0, |p| len(&p.to_string()))
        })
        .sum();
    let format = match &req.response_format {
        Some(ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            ..
        }) => {
            len(name)
                + description.as_deref().map_or(0, len)
                + schema.as_ref().map_or(0, |s| len(&s.to_string()))
        }
        _ => 0,
    };
    let prediction = req.prediction.as_deref().map_or(0, len);
    messages
        .saturating_add(tools)
        .saturating_add(format)
        .saturating_add(prediction)
}

/// Upper bound of the completion's tokens (all `n` choices).
pub fn completion_tokens_max(req: &ChatRequest, model: &CatalogueModel) -> u64 {
    let per_choice = if req.max_tokens > 0 {
        u64::from(req.max_tokens)
    } else {
        model
            .max_output
            .or(model.context_length)
            .map_or(FALLBACK_COMPLETION_TOKENS, u64::from)
    };
    per_choice.saturating_mul(u64::from(req.n.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::{Message, Role, Tool};

    #[test]
    fn prompt_bound_counts_bytes_and_framing() {
        let mut req = ChatRequest::new(
            "m",
            vec![
                Message::text(Role::System, "héllo"), // 6 bytes
                Message::text(Role::User, "abc"),
            ],
        );
        assert_eq!(prompt_tokens_max(&req), 6 + 3 + 2 * PER_MESSAGE_TOKENS);
        req.tools.push(Tool {
            name: "f".into(),
            description: Some("dd".into()),
            parameters: Some(serde_json::json!({"a": 1})),
            strict: None,
        });
        assert_eq!(
            prompt_tokens_max(&req),
            6 + 3 + 2 * PER_MESSAGE_TOKENS + PER_MESSAGE_TOKENS + 1 + 2 + 7
        );
        req.messages.push(Message {
            role: Role::User,
            content: Some(Content::Parts(vec![ContentPart::ImageUrl {
                url: "http://x/i.png".into(),
                detail: None,
            }])),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            refusal: None,
        });
        assert!(prompt_tokens_max(&req) > MEDIA_PART_TOKENS + 14);
    }

    #[test]
    fn completion_bound_uses_the_budget_times_n() {
        let model = CatalogueModel {
            id: "m".into(),
            aliases: Vec::new(),
            primary: switchyard_router::Route {
                provider: "p".into(),
                upstream_model: "u".into(),
            },
            fallbacks: Vec::new(),
            context_length: Some(8192),
            max_output: Some(2048),
            prices: switchyard_core::Prices::default(),
            capabilities: switchyard_core::Capabilities::default(),
            name: String::new(),
            developer: String::new(),
            description: String::new(),
        };
        let mut req = ChatRequest::new("m", vec![Message::text(Role::User, "x")]);
        req.max_tokens = 100;
        req.n = 3;
        assert_eq!(completion_tokens_max(&req, &model), 300);
        req.max_tokens = 0;
        req.n = 1;
        assert_eq!(completion_tokens_max(&req, &model), 2048);
        let mut bare = model.clone();
        bare.max_output = None;
        assert_eq!(completion_tokens_max(&req, &bare), 8192);
        bare.context_length = None;
        assert_eq!(
            completion_tokens_max(&req, &bare),
            FALLBACK_COMPLETION_TOKENS
        );
    }
}
