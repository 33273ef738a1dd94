//! What a template is rendered with: messages, tools and extra variables, as JSON.
//!
//! The conversation is kept as JSON objects so that the caller decides exactly which keys a
//! template sees (a missing `content` is "undefined" to Jinja, `"content": null` is `none`), as
//! Hugging Face passes its message dicts through unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::TemplateError;

/// One chat message as a template sees it: a JSON object with at least a string `role`.
///
/// The usual keys are `role`, `content` (a string, `null`, or a list of parts such as
/// `{"type": "text", "text": "..."}`), `tool_calls` (OpenAI-style calls), `tool_call_id`,
/// `name` and `reasoning_content`; any other key is passed through as well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct TemplateMessage {
    fields: Map<String, Value>,
}

impl TemplateMessage {
    /// A message with a role and text content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        let mut fields = Map::new();
        fields.insert("role".to_owned(), Value::String(role.into()));
        fields.insert("content".to_owned(), Value::String(content.into()));
        Self { fields }
    }

    /// A message from a JSON object; it must have a string `role`.
    pub fn from_value(value: Value) -> Result<Self, TemplateError> {
        let Value::Object(fields) = value else {
            return Err(TemplateError::Input(
                "a message must be a JSON object".to_owned(),
            ));
        };
        if !matches!(fields.get("role"), Some(Value::String(_))) {
            return Err(TemplateError::Input(
                "a message needs a string \"role\"".to_owned(),
            ));
        }
        Ok(Self { fields })
    }

    /// Sets (or replaces) one key, e.g. `tool_calls` or `tool_call_id`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: Value) -> Self {
        self.set(key, value);
        self
    }

    /// Sets (or replaces) one key; `role` must stay a string.
    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        if key == "role" && !value.is_string() {
            return;
        }
        self.fields.insert(key, value);
    }

    /// Removes one key (the template then sees it as undefined). `role` cannot be removed.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        if key == "role" {
            return None;
        }
        self.fields.remove(key)
    }

    /// The message's role.
    pub fn role(&self) -> &str {
        self.fields
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The value of one key, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// All keys, in insertion order.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// This message with a list-of-parts `content` replaced by the text of its `text` parts,
    /// joined with `"\n"` (other part types are dropped). Most GGUF templates concatenate
    /// `content` as a string and fail on a list (as they do under Python); callers flatten
    /// first for those. String, `null` and missing content are left as they are.
    #[must_use]
    pub fn with_text_parts_flattened(&self) -> Self {
        let mut out = self.clone();
        if let Some(Value::Array(parts)) = self.fields.get("content") {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|part| part.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect();
            out.fields
                .insert("content".to_owned(), Value::String(texts.join("\n")));
        }
        out
    }
}

impl TryFrom<Value> for TemplateMessage {
    type Error = TemplateError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

impl From<TemplateMessage> for Value {
    fn from(message: TemplateMessage) -> Self {
        Value::Object(message.fields)
    }
}

/// One tool definition as a template sees it: an OpenAI-style JSON object, usually
/// `{"type": "function", "function": {"name", "description", "parameters"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct TemplateTool {
    fields: Map<String, Value>,
}

impl TemplateTool {
    /// An OpenAI-style function tool.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Self {
        let mut function = Map::new();
        function.insert("name".to_owned(), Value::String(name.into()));
        function.insert("description".to_owned(), Value::String(description.into()));
        function.insert("parameters".to_owned(), parameters);
        let mut fields = Map::new();
        fields.insert("type".to_owned(), Value::String("function".to_owned()));
        fields.insert("function".to_owned(), Value::Object(function));
        Self { fields }
    }

    /// A tool from a JSON object (passed to the template unchanged).
    pub fn from_value(value: Value) -> Result<Self, TemplateError> {
        match value {
            Value::Object(fields) => Ok(Self { fields }),
            _ => Err(TemplateError::Input(
                "a tool must be a JSON object".to_owned(),
            )),
        }
    }

    /// All keys, in insertion order.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

impl TryFrom<Value> for TemplateTool {
    type Error = TemplateError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

impl From<TemplateTool> for Value {
    fn from(tool: TemplateTool) -> Self {
        Value::Object(tool.fields)
    }
}

/// Everything one rendering needs besides the template and its special tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatInput {
    /// The conversation, in order.
    pub messages: Vec<TemplateMessage>,
    /// Tool definitions; `None` is passed to the template as `tools = none`, as Hugging Face does.
    pub tools: Option<Vec<TemplateTool>>,
    /// Whether to end with the header of an assistant turn.
    pub add_generation_prompt: bool,
    /// Further template variables (e.g. `enable_thinking`), like extra keyword arguments to
    /// `apply_chat_template`. They may replace `bos_token`/`eos_token`, but not `messages`,
    /// `tools`, `documents` or `add_generation_prompt`.
    pub extra: Map<String, Value>,
}

impl ChatInput {
    /// A conversation without tools.
    pub fn new(messages: Vec<TemplateMessage>, add_generation_prompt: bool) -> Self {
        Self {
            messages,
            tools: None,
            add_generation_prompt,
            extra: Map::new(),
        }
    }

    /// Adds tool definitions.
    #[must_use]
    pub fn with_tools(mut self, tools: Vec<TemplateTool>) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Adds one extra template variable.
    #[must_use]
    pub fn with_variable(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_need_an_object_with_a_string_role() {
        assert!(TemplateMessage::from_value(json!("hi")).is_err());
        assert!(TemplateMessage::from_value(json!({"content": "hi"})).is_err());
        assert!(TemplateMessage::from_value(json!({"role": 1})).is_err());
        let m = TemplateMessage::from_value(json!({"role": "tool", "content": null})).unwrap();
        assert_eq!(m.role(), "tool");
        assert_eq!(m.get("content"), Some(&Value::Null));
        let parsed: Result<TemplateMessage, _> = serde_json::from_value(json!({"x": 1}));
        assert!(parsed.is_err());
    }

    #[test]
    fn role_cannot_be_removed_or_made_non_string() {
        let mut m = TemplateMessage::new("user", "hi");
        assert_eq!(m.remove("role"), None);
        m.set("role", json!(3));
        assert_eq!(m.role(), "user");
        assert_eq!(m.remove("content"), Some(json!("hi")));
        assert_eq!(m.get("content"), None);
    }

    #[test]
    fn flattening_joins_text_parts_and_leaves_strings_alone() {
        let m = TemplateMessage::from_value(json!({"role": "user", "content": [
            {"type": "text", "text": "a"},
            {"type": "image_url", "image_url": {"url": "x"}},
            {"type": "text", "text": "b"}
        ]}))
        .unwrap();
        assert_eq!(
            m.with_text_parts_flattened().get("content"),
            Some(&json!("a\nb"))
        );
        let s = TemplateMessage::new("user", "plain");
        assert_eq!(s.with_text_parts_flattened(), s);
    }
}
