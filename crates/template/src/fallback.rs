//! Built-in templates for model files that carry no `tokenizer.chat_template`.

use crate::SpecialTokens;

/// A built-in chat format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FallbackKind {
    /// `<|im_start|>role\ncontent<|im_end|>\n` (Qwen, SmolLM, Hermes, many fine-tunes).
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` after `bos_token`,
    /// content trimmed (Llama 3.x).
    Llama3,
}

impl FallbackKind {
    /// The Jinja source of the built-in template (also rendered by the Python golden script).
    pub fn source(self) -> &'static str {
        match self {
            FallbackKind::ChatMl => include_str!("fallback/chatml.jinja"),
            FallbackKind::Llama3 => include_str!("fallback/llama3.jinja"),
        }
    }

    /// The format's usual special tokens.
    pub fn special_tokens(self) -> SpecialTokens {
        match self {
            FallbackKind::ChatMl => SpecialTokens::new("", "<|im_end|>"),
            FallbackKind::Llama3 => SpecialTokens::new("<|begin_of_text|>", "<|eot_id|>"),
        }
    }

    /// The format a vocabulary was made for, judged by its special tokens: Llama 3 when it has
    /// `<|start_header_id|>`, otherwise ChatML.
    pub fn for_vocabulary(has_token: impl Fn(&str) -> bool) -> Self {
        if has_token("<|start_header_id|>") && has_token("<|eot_id|>") {
            FallbackKind::Llama3
        } else {
            FallbackKind::ChatMl
        }
    }

    /// The name used in configuration and in the golden files (`chatml`, `llama3`).
    pub fn name(self) -> &'static str {
        match self {
            FallbackKind::ChatMl => "chatml",
            FallbackKind::Llama3 => "llama3",
        }
    }

    /// The kind with this [`name`](FallbackKind::name).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "chatml" => Some(FallbackKind::ChatMl),
            "llama3" => Some(FallbackKind::Llama3),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatInput, ChatTemplate, TemplateMessage};
    use serde_json::json;

    fn conversation(add_generation_prompt: bool) -> ChatInput {
        ChatInput::new(
            vec![
                TemplateMessage::new("system", " Be brief. "),
                TemplateMessage::new("user", "Hi"),
                TemplateMessage::new("assistant", "Hello!"),
                TemplateMessage::from_value(json!({"role": "user", "content": [
                    {"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "b"}
                ]}))
                .unwrap(),
            ],
            add_generation_prompt,
        )
    }

    #[test]
    fn chatml_format() {
        let t = ChatTemplate::fallback(FallbackKind::ChatMl).unwrap();
        assert_eq!(t.fallback_kind(), Some(FallbackKind::ChatMl));
        assert_eq!(
            t.render(&conversation(true)).unwrap(),
            "<|im_start|>system\n Be brief. <|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\na\nb<|im_end|>\n\
             <|im_start|>assistant\n"
        );
    }

    #[test]
    fn llama3_format() {
        let t = ChatTemplate::fallback(FallbackKind::Llama3).unwrap();
        assert_eq!(
            t.render(&conversation(false)).unwrap(),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\na\nb<|eot_id|>"
        );
    }

    #[test]
    fn chosen_by_vocabulary_and_when_a_file_has_no_template() {
        let llama = ["<|start_header_id|>", "<|eot_id|>"];
        assert_eq!(
            FallbackKind::for_vocabulary(|t| llama.contains(&t)),
            FallbackKind::Llama3
        );
        assert_eq!(
            FallbackKind::for_vocabulary(|t| t == "<|im_start|>"),
            FallbackKind::ChatMl
        );
        let special = SpecialTokens::new("<B>", "<E>");
        let t = ChatTemplate::from_gguf_or_fallback(None, special.clone(), FallbackKind::Llama3)
            .unwrap();
        assert_eq!(t.fallback_kind(), Some(FallbackKind::Llama3));
        assert_eq!(t.special_tokens(), &special);
        let own =
            ChatTemplate::from_gguf_or_fallback(Some("x"), special, FallbackKind::Llama3).unwrap();
        assert_eq!(own.fallback_kind(), None);
        for kind in [FallbackKind::ChatMl, FallbackKind::Llama3] {
            assert_eq!(FallbackKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(FallbackKind::from_name("zephyr"), None);
    }
}
