//! [`ChatTemplate`]: a compiled chat template plus the special tokens it is rendered with.

use std::collections::BTreeMap;
use std::error::Error as _;

use minijinja::Environment;
use minijinja::value::Value;
use time::PrimitiveDateTime;

use crate::env::{self, Clock, RaisedByTemplate, TEMPLATE_NAME};
use crate::fallback::FallbackKind;
use crate::value::{from_json, map_from_json, py_none};
use crate::{ChatInput, TemplateError};

/// The special-token strings a template can print (`bos_token`, `eos_token`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    /// Beginning-of-sequence text, e.g. `<|begin_of_text|>`; empty if the model has none.
    pub bos_token: String,
    /// End-of-sequence text, e.g. `<|im_end|>`.
    pub eos_token: String,
}

impl SpecialTokens {
    /// Both tokens.
    pub fn new(bos_token: impl Into<String>, eos_token: impl Into<String>) -> Self {
        Self {
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
        }
    }
}

/// Variables that [`ChatInput::extra`] may not replace (Python would reject them as duplicate
/// keyword arguments).
const RESERVED: [&str; 4] = ["messages", "tools", "documents", "add_generation_prompt"];

/// A compiled chat template, rendered the way Hugging Face's `apply_chat_template` renders it.
///
/// ```
/// use switchyard_template::{ChatInput, ChatTemplate, SpecialTokens, TemplateMessage};
///
/// let template = ChatTemplate::new(
///     "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{{ eos_token }}",
///     SpecialTokens::new("", "</s>"),
/// )?;
/// let input = ChatInput::new(vec![TemplateMessage::new("user", "hi")], false);
/// assert_eq!(template.render(&input)?, "<user>hi</s>");
/// # Ok::<(), switchyard_template::TemplateError>(())
/// ```
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    special: SpecialTokens,
    fallback: Option<FallbackKind>,
}

impl ChatTemplate {
    /// Compiles a template source (a GGUF's `tokenizer.chat_template`).
    pub fn new(source: &str, special: SpecialTokens) -> Result<Self, TemplateError> {
        let env = env::build(source.to_owned(), Clock::SystemUtc)
            .map_err(|e| TemplateError::Parse(describe(&e)))?;
        Ok(Self {
            env,
            special,
            fallback: None,
        })
    }

    /// One of the built-in templates, for model files without a template, with that format's
    /// usual special tokens (replace them with [`ChatTemplate::with_special_tokens`]).
    pub fn fallback(kind: FallbackKind) -> Result<Self, TemplateError> {
        let mut template = Self::new(kind.source(), kind.special_tokens())?;
        template.fallback = Some(kind);
        Ok(template)
    }

    /// The model's template if it has one, otherwise the built-in `kind`.
    pub fn from_gguf_or_fallback(
        source: Option<&str>,
        special: SpecialTokens,
        kind: FallbackKind,
    ) -> Result<Self, TemplateError> {
        match source {
            Some(source) if !source.trim().is_empty() => Self::new(source, special),
            _ => Ok(Self::fallback(kind)?.with_special_tokens(special)),
        }
    }

    /// Replaces the special tokens.
    #[must_use]
    pub fn with_special_tokens(mut self, special: SpecialTokens) -> Self {
        self.special = special;
        self
    }

    /// Makes `strftime_now` always see this date and time instead of the current UTC time.
    #[must_use]
    pub fn with_fixed_now(mut self, now: PrimitiveDateTime) -> Self {
        env::set_clock(&mut self.env, Clock::Fixed(now));
        self
    }

    /// The special tokens the template is rendered with.
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special
    }

    /// Which built-in template this is, if it is one.
    pub fn fallback_kind(&self) -> Option<FallbackKind> {
        self.fallback
    }

    /// Renders the prompt for a conversation.
    ///
    /// The template sees `messages`, `tools` (`none` without tools), `documents` (`none`),
    /// `add_generation_prompt`, `bos_token`, `eos_token` and the input's extra variables, plus
    /// the functions `raise_exception` and `strftime_now`.
    pub fn render(&self, input: &ChatInput) -> Result<String, TemplateError> {
        let mut context: BTreeMap<String, Value> = BTreeMap::new();
        context.insert(
            "bos_token".to_owned(),
            Value::from(self.special.bos_token.as_str()),
        );
        context.insert(
            "eos_token".to_owned(),
            Value::from(self.special.eos_token.as_str()),
        );
        for (name, value) in &input.extra {
            if RESERVED.contains(&name.as_str()) {
                return Err(TemplateError::Input(format!(
                    "extra template variable {name:?} would replace a standard one"
                )));
            }
            context.insert(name.clone(), from_json(value));
        }
        let messages: Vec<Value> = input
            .messages
            .iter()
            .map(|m| map_from_json(m.fields()))
            .collect();
        context.insert("messages".to_owned(), Value::from(messages));
        let tools = match &input.tools {
            Some(tools) => Value::from(
                tools
                    .iter()
                    .map(|t| map_from_json(t.fields()))
                    .collect::<Vec<_>>(),
            ),
            None => py_none(),
        };
        context.insert("tools".to_owned(), tools);
        context.insert("documents".to_owned(), py_none());
        context.insert(
            "add_generation_prompt".to_owned(),
            Value::from(input.add_generation_prompt),
        );

        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| TemplateError::Parse(describe(&e)))?;
        template
            .render(Value::from(context))
            .map_err(|e| match raised_message(&e) {
                Some(message) => TemplateError::Raised(message),
                None => TemplateError::Render(describe(&e)),
            })
    }
}

/// The message of a `raise_exception` call somewhere in the error's source chain.
fn raised_message(err: &minijinja::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = source {
        if let Some(raised) = e.downcast_ref::<RaisedByTemplate>() {
            return Some(raised.0.clone());
        }
        source = e.source();
    }
    None
}

/// One line describing a minijinja error, with its location and causes.
fn describe(err: &minijinja::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TemplateMessage, TemplateTool};
    use serde_json::json;
    use time::macros::datetime;

    fn user(text: &str) -> ChatInput {
        ChatInput::new(vec![TemplateMessage::new("user", text)], true)
    }

    #[test]
    fn parse_errors_are_errors() {
        let err = ChatTemplate::new("{% for %}", SpecialTokens::default()).unwrap_err();
        assert!(matches!(err, TemplateError::Parse(_)), "{err:?}");
        let err = ChatTemplate::new("{{ x ", SpecialTokens::default()).unwrap_err();
        assert!(matches!(err, TemplateError::Parse(_)), "{err:?}");
    }

    #[test]
    fn raise_exception_gives_the_templates_message() {
        let t = ChatTemplate::new(
            "{% macro check(m) %}{% if m.role != 'user' %}{{ raise_exception('Only ' ~ 'users: ' ~ m.role) }}{% endif %}{% endmacro %}{% for m in messages %}{{ check(m) }}{% endfor %}ok",
            SpecialTokens::default(),
        )
        .unwrap();
        assert_eq!(t.render(&user("hi")).unwrap(), "ok");
        let input = ChatInput::new(vec![TemplateMessage::new("bot", "hi")], true);
        assert_eq!(
            t.render(&input).unwrap_err(),
            TemplateError::Raised("Only users: bot".to_owned())
        );
    }

    #[test]
    fn other_failures_are_render_errors() {
        let t = ChatTemplate::new("{{ 'a' + messages }}", SpecialTokens::default()).unwrap();
        let err = t.render(&user("hi")).unwrap_err();
        assert!(matches!(err, TemplateError::Render(_)), "{err:?}");
        let t = ChatTemplate::new("{{ strftime_now('%Q') }}", SpecialTokens::default()).unwrap();
        let err = t.render(&user("hi")).unwrap_err();
        assert!(
            matches!(&err, TemplateError::Render(m) if m.contains("%Q")),
            "{err:?}"
        );
    }

    #[test]
    fn context_variables() {
        let t = ChatTemplate::new(
            "{{ bos_token }}|{{ eos_token }}|{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ enable_thinking is defined }}|{{ strftime_now('%d %b %Y') }}",
            SpecialTokens::new("<s>", "</s>"),
        )
        .unwrap()
        .with_fixed_now(datetime!(2024-07-26 10:00:00));
        assert_eq!(
            t.render(&user("x")).unwrap(),
            "<s>|</s>|True|True|True|False|26 Jul 2024"
        );
        let input = user("x")
            .with_tools(vec![TemplateTool::function("f", "d", json!({}))])
            .with_variable("enable_thinking", json!(false))
            .with_variable("eos_token", json!("<eos>"));
        assert_eq!(
            t.render(&input).unwrap(),
            "<s>|<eos>|False|True|True|True|26 Jul 2024"
        );
        let bad = user("x").with_variable("messages", json!([]));
        assert!(matches!(t.render(&bad), Err(TemplateError::Input(_))));
    }

    #[test]
    fn strftime_now_defaults_to_the_current_date() {
        let t = ChatTemplate::new("{{ strftime_now('%Y') }}", SpecialTokens::default()).unwrap();
        let year: i32 = t.render(&user("x")).unwrap().parse().unwrap();
        assert!(year >= 2025, "{year}");
    }

    #[test]
    fn missing_and_null_keys_differ_as_in_python() {
        let t = ChatTemplate::new(
            "{% for m in messages %}{{ m.content is defined }}/{{ m.content is none }};{% endfor %}",
            SpecialTokens::default(),
        )
        .unwrap();
        let mut absent = TemplateMessage::new("assistant", "");
        absent.remove("content");
        let null = TemplateMessage::new("assistant", "").with("content", json!(null));
        let input = ChatInput::new(vec![absent, null], false);
        assert_eq!(t.render(&input).unwrap(), "False/False;True/True;");
    }
}
