//! The response JSON of `POST /v1/chat/completions`: `chat.completion` and
//! `chat.completion.chunk` objects, field order as on the seed page.

use serde::{Serialize, Serializer};
use switchyard_core::{Delta, TokenLogprob, ToolCallDelta, Usage};

/// Identity fields shared by a completion and all its chunks.
#[derive(Debug, Clone)]
pub struct Head {
    pub id: String,
    pub created: u64,
    /// Public model id.
    pub model: String,
    pub system_fingerprint: String,
}

#[derive(Serialize)]
pub struct Completion<'a> {
    pub id: &'a str,
    pub system_fingerprint: &'a str,
    pub object: &'static str,
    pub choices: Vec<Choice>,
    pub created: u64,
    pub model: &'a str,
    pub usage: UsageOut,
}

#[derive(Serialize)]
pub struct Choice {
    pub index: u32,
    pub finish_reason: String,
    pub logprobs: Option<Logprobs>,
    pub message: MessageOut,
}

#[derive(Serialize)]
pub struct MessageOut {
    pub role: &'static str,
    pub content: Option<String>,
    pub refusal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallOut>,
}

#[derive(Serialize)]
pub struct ToolCallOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionOut,
}

#[derive(Serialize)]
pub struct FunctionOut {
    pub name: String,
    pub arguments: String,
}

#[derive(Serialize)]
pub struct Logprobs {
    pub content: Vec<LogprobOut>,
    pub refusal: Option<Vec<LogprobOut>>,
}

#[derive(Serialize)]
pub struct LogprobOut {
    pub token: String,
    pub logprob: f32,
    pub bytes: Option<Vec<u8>>,
    pub top_logprobs: Vec<TopOut>,
}

#[derive(Serialize)]
pub struct TopOut {
    pub token: String,
    pub logprob: f32,
    pub bytes: Option<Vec<u8>>,
}

pub fn logprob_out(l: &TokenLogprob) -> LogprobOut {
    LogprobOut {
        token: l.token.clone(),
        logprob: l.logprob,
        bytes: l.bytes.clone(),
        top_logprobs: l
            .top
            .iter()
            .map(|t| TopOut {
                token: t.token.clone(),
                logprob: t.logprob,
                bytes: t.bytes.clone(),
            })
            .collect(),
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct UsageOut {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_tokens_details: PromptDetails,
    pub completion_tokens_details: CompletionDetails,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PromptDetails {
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct CompletionDetails {
    pub reasoning_tokens: u64,
}

impl From<&Usage> for UsageOut {
    fn from(u: &Usage) -> Self {
        UsageOut {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens(),
            prompt_tokens_details: PromptDetails {
                cached_tokens: u.cached_tokens,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: u.reasoning_tokens,
            },
        }
    }
}

/// The `usage` member of a chunk: absent without `include_usage`, `null`
/// in ordinary chunks with it, the totals in the last chunk.
pub enum ChunkUsage {
    Absent,
    Null,
    Some(UsageOut),
}

impl ChunkUsage {
    fn is_absent(&self) -> bool {
        matches!(self, ChunkUsage::Absent)
    }
}

impl Serialize for ChunkUsage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ChunkUsage::Some(u) => u.serialize(s),
            ChunkUsage::Absent | ChunkUsage::Null => s.serialize_none(),
        }
    }
}

#[derive(Serialize)]
pub struct Chunk<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub system_fingerprint: &'a str,
    pub choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "ChunkUsage::is_absent")]
    pub usage: ChunkUsage,
}

impl<'a> Chunk<'a> {
    pub fn new(head: &'a Head, choices: Vec<ChunkChoice<'a>>, usage: ChunkUsage) -> Self {
        Chunk {
            id: &head.id,
            object: "chat.completion.chunk",
            created: head.created,
            model: &head.model,
            system_fingerprint: &head.system_fingerprint,
            choices,
            usage,
        }
    }
}

#[derive(Serialize)]
pub struct ChunkChoice<'a> {
    pub index: u32,
    pub delta: DeltaOut<'a>,
    pub logprobs: Option<Logprobs>,
    pub finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
pub struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallDeltaOut<'a>>,
}

impl<'a> DeltaOut<'a> {
    pub fn from_delta(d: &'a Delta) -> Self {
        DeltaOut {
            role: None,
            content: d.content.as_deref(),
            reasoning_content: d.reasoning.as_deref(),
            refusal: d.refusal.as_deref(),
            tool_calls: d.tool_calls.iter().map(ToolCallDeltaOut::from).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct ToolCallDeltaOut<'a> {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionDeltaOut<'a>,
}

#[derive(Serialize)]
pub struct FunctionDeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<&'a str>,
}

impl<'a> From<&'a ToolCallDelta> for ToolCallDeltaOut<'a> {
    fn from(t: &'a ToolCallDelta) -> Self {
        ToolCallDeltaOut {
            index: t.index,
            id: t.id.as_deref(),
            kind: t.id.as_ref().map(|_| "function"),
            function: FunctionDeltaOut {
                name: t.name.as_deref(),
                arguments: t.arguments.as_deref(),
            },
        }
    }
}

/// Whether a delta carries output (counts as a delivered token event).
pub fn is_content_bearing(d: &Delta) -> bool {
    d.content.as_deref().is_some_and(|s| !s.is_empty())
        || d.reasoning.as_deref().is_some_and(|s| !s.is_empty())
        || d.refusal.as_deref().is_some_and(|s| !s.is_empty())
        || !d.tool_calls.is_empty()
}
