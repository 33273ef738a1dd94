//! The validated chat-completion request.
//!
//! Architecture Invariant: values of these types have already passed
//! validation (ranges, enums, cross-field rules) in the HTTP crate. Backends
//! accept only [`ChatRequest`], never raw JSON.

use serde_json::Value;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// Message content: a plain string, or a list of typed parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl Content {
    /// All text parts concatenated (non-text parts are skipped).
    pub fn text(&self) -> String {
        match self {
            Content::Text(t) => t.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text(t) => Some(t.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(""),
        }
    }

    /// Iterates over the parts (a plain string counts as one text part).
    pub fn parts(&self) -> Vec<&ContentPart> {
        match self {
            Content::Text(_) => Vec::new(),
            Content::Parts(p) => p.iter().collect(),
        }
    }
}

/// One part of a multi-part message.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    Text(String),
    /// An image by URL or `data:` URL.
    ImageUrl {
        url: String,
        detail: Option<String>,
    },
    /// Base64 audio input.
    InputAudio {
        data: String,
        format: String,
    },
    /// A file (the schema allows base64 PDF data).
    File {
        file_data: Option<String>,
        filename: Option<String>,
        file_id: Option<String>,
    },
    /// An assistant refusal part.
    Refusal(String),
}

impl ContentPart {
    /// The modality this part needs from a model, for capability checks.
    pub fn modality(&self) -> Modality {
        match self {
            ContentPart::Text(_) | ContentPart::Refusal(_) => Modality::Text,
            ContentPart::ImageUrl { .. } => Modality::Image,
            ContentPart::InputAudio { .. } => Modality::Audio,
            ContentPart::File { .. } => Modality::File,
        }
    }
}

/// Input modalities a model may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modality {
    Text,
    Image,
    Audio,
    File,
}

/// A function call made by the assistant in an earlier turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// JSON text, as the model produced it.
    pub arguments: String,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    /// `None` only for assistant messages that carry `tool_calls`.
    pub content: Option<Content>,
    pub name: Option<String>,
    /// Assistant only.
    pub tool_calls: Vec<ToolCall>,
    /// Tool only.
    pub tool_call_id: Option<String>,
    /// Assistant only.
    pub refusal: Option<String>,
}

impl Message {
    /// A plain-text message (handy for tests and clients).
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: Some(Content::Text(text.into())),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            refusal: None,
        }
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Option<Value>,
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    None,
    Auto,
    Required,
    Function(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        description: Option<String>,
        schema: Option<Value>,
        strict: Option<bool>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasoningEffort {
    Minimal,
    Low,
    Medium,
    High,
}

impl ReasoningEffort {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }
}

/// Sampling parameters. `None` means "not set by the caller": a remote
/// backend forwards only what was set; the local engine applies its defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    /// 0..=2
    pub temperature: Option<f32>,
    /// 0.01..=1
    pub top_p: Option<f32>,
    /// >= 0 (0 disables)
    pub top_k: Option<u32>,
    /// 0..=1
    pub min_p: Option<f32>,
    /// 0..=1
    pub top_a: Option<f32>,
    /// > 0
    pub repetition_penalty: Option<f32>,
    /// -2..=2
    pub frequency_penalty: Option<f32>,
    /// -2..=2
    pub presence_penalty: Option<f32>,
    /// >= 1
    pub seed: Option<u64>,
    /// token id -> bias in -100..=100, sorted by token id.
    pub logit_bias: Vec<(u32, f32)>,
}

/// OpenAI-documented options outside the sampling core. Each is either
/// honoured by the chosen backend or refused with a 400 naming it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// `modalities` contains "audio" (or `audio` was given): audio output requested.
    pub audio_output: bool,
    /// `web_search_options` was given.
    pub web_search: bool,
    pub reasoning_effort: Option<ReasoningEffort>,
    pub service_tier: Option<String>,
    /// `store`: accepted; Switchyard never stores completions for training.
    pub store: Option<bool>,
    /// `metadata`: string key/value pairs (at most 16), accepted and logged nowhere.
    pub metadata: Vec<(String, String)>,
    /// `user` / `safety_identifier`: an end-user id, forwarded upstream.
    pub user: Option<String>,
}

/// A validated `POST /v1/chat/completions` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The public model id as the caller wrote it (aliases resolved later by the router).
    pub model: String,
    pub messages: Vec<Message>,
    /// Effective completion budget: `max_completion_tokens`, else `max_tokens`, else 512.
    pub max_tokens: u32,
    /// Number of choices (OpenAI's `n`), >= 1.
    pub n: u32,
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
    pub sampling: Sampling,
    /// At most 4 non-empty stop strings.
    pub stop: Vec<String>,
    /// `Some(k)` when `logprobs: true`, with k = `top_logprobs` (0..=20).
    pub logprobs: Option<u8>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
    /// Predicted output text (`prediction.content`).
    pub prediction: Option<String>,
    pub options: Options,
}

impl ChatRequest {
    /// A minimal request (defaults as the schema gives them). For tests and clients.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        ChatRequest {
            model: model.into(),
            messages,
            max_tokens: DEFAULT_MAX_TOKENS,
            n: 1,
            stream: false,
            include_usage: false,
            sampling: Sampling::default(),
            stop: Vec::new(),
            logprobs: None,
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
            response_format: None,
            prediction: None,
            options: Options::default(),
        }
    }

    /// Input modalities used anywhere in the conversation.
    pub fn input_modalities(&self) -> Vec<Modality> {
        let mut out = Vec::new();
        for m in &self.messages {
            if let Some(c) = &m.content {
                for p in c.parts() {
                    let md = p.modality();
                    if !out.contains(&md) {
                        out.push(md);
                    }
                }
            }
        }
        out
    }
}

/// The schema's default for `max_tokens` / `max_completion_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 512;
