//! One loaded model with its tokenizer and chat template.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_core::{Capabilities, Content, ContentPart, Message};
use switchyard_engine::{KvType, Model, ModelOptions};
use switchyard_gguf::GgufFile;
use switchyard_template::{
    ChatInput, ChatTemplate, FallbackKind, SpecialTokens, TemplateError, TemplateMessage,
};
use switchyard_tokenizer::{Tokenizer, TokenizerError};

use crate::LocalError;

/// Load-time options.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Engine worker threads (0: one per core).
    pub threads: usize,
    /// Element type of the KV cache (llama.cpp's default: f16).
    pub kv: KvType,
}

/// A GGUF model ready to serve: the shared weights, its tokenizer and its chat template.
#[derive(Debug)]
pub struct LocalModel {
    path: PathBuf,
    model: Arc<Model>,
    tokenizer: Tokenizer,
    template: ChatTemplate,
    kv: KvType,
}

impl LocalModel {
    /// Maps `path` and builds the model, tokenizer and chat template (the file's own, else the
    /// built-in one its vocabulary suggests).
    pub fn load(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<LocalModel, LocalError> {
        let path = path.as_ref().to_path_buf();
        let file = GgufFile::open(&path).map_err(|source| LocalError::Gguf {
            path: path.clone(),
            source,
        })?;
        let tokenizer = Tokenizer::from_gguf(&file).map_err(|source| LocalError::Tokenizer {
            path: path.clone(),
            source,
        })?;
        let piece = |id: Option<u32>| {
            id.and_then(|i| tokenizer.token_text(i))
                .unwrap_or_default()
                .to_string()
        };
        let special = SpecialTokens::new(piece(tokenizer.bos()), piece(tokenizer.eos()));
        let source = file
            .metadata()
            .get_str("tokenizer.chat_template")
            .ok()
            .flatten();
        let kind = FallbackKind::for_vocabulary(|t| tokenizer.token_id(t).is_some());
        let template =
            ChatTemplate::from_gguf_or_fallback(source, special, kind).map_err(|source| {
                LocalError::Template {
                    path: path.clone(),
                    source,
                }
            })?;
        let engine_opts = ModelOptions {
            threads: opts.threads,
            isa: None,
        };
        let model = Model::from_gguf(file, &engine_opts).map_err(|source| LocalError::Engine {
            path: path.clone(),
            source,
        })?;
        Ok(LocalModel {
            path,
            model: Arc::new(model),
            tokenizer,
            template,
            kv: opts.kv,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }
    pub fn kv_type(&self) -> KvType {
        self.kv
    }

    /// The model's training context length (`<arch>.context_length`).
    pub fn context_length(&self) -> usize {
        self.model.hparams().n_ctx_train
    }

    /// What the local engine can do today: text in and out, logprobs, `n` up to 8; no tools
    /// or structured output yet.
    pub fn capabilities() -> Capabilities {
        Capabilities {
            vision: false,
            audio_input: false,
            files: false,
            tools: false,
            json_mode: false,
            json_schema: false,
            audio_output: false,
            web_search: false,
            reasoning: false,
            logprobs: true,
            prediction: false,
            max_n: 8,
        }
    }

    /// Renders the conversation with the chat template and `add_generation_prompt`.
    /// Multi-part contents are flattened to their text parts joined with `"\n"`.
    pub fn render_chat(&self, messages: &[Message]) -> Result<String, TemplateError> {
        let msgs = messages
            .iter()
            .map(template_message)
            .collect::<Result<Vec<_>, _>>()?;
        self.template.render(&ChatInput::new(msgs, true))
    }

    /// Tokenizes a rendered chat prompt: special-token text is parsed, and BOS is added as the
    /// metadata says (a BOS the template already wrote is not doubled, as in llama.cpp).
    pub fn encode_chat(&self, rendered: &str) -> Result<Vec<u32>, TokenizerError> {
        let bos = &self.template.special_tokens().bos_token;
        let text = match rendered.strip_prefix(bos.as_str()) {
            Some(rest) if self.tokenizer.add_bos() && !bos.is_empty() => rest,
            _ => rendered,
        };
        self.tokenizer.encode(text, true, true)
    }
}

fn template_message(m: &Message) -> Result<TemplateMessage, TemplateError> {
    let content = match &m.content {
        None => Value::Null,
        Some(Content::Text(t)) => Value::String(t.clone()),
        Some(Content::Parts(parts)) => Value::Array(
            parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text(t) | ContentPart::Refusal(t) => {
                        Some(json!({"type": "text", "text": t}))
                    }
                    _ => None,
                })
                .collect(),
        ),
    };
    let mut v = json!({"role": m.role.as_str(), "content": content});
    if let Some(obj) = v.as_object_mut() {
        if let Some(name) = &m.name {
            obj.insert("name".into(), Value::String(name.clone()));
        }
        if let Some(id) = &m.tool_call_id {
            obj.insert("tool_call_id".into(), Value::String(id.clone()));
        }
        if !m.tool_calls.is_empty() {
            let calls = m
                .tool_calls
                .iter()
                .map(|c| {
                    json!({"id": c.id, "type": "function",
                           "function": {"name": c.name, "arguments": c.arguments}})
                })
                .collect();
            obj.insert("tool_calls".into(), Value::Array(calls));
        }
    }
    Ok(TemplateMessage::from_value(v)?.with_text_parts_flattened())
}
