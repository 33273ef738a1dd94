//! Chat templates: GGUF Jinja templates rendered with minijinja, byte-identical to Python jinja2.
//!
//! A model file's `tokenizer.chat_template` is written for Hugging Face's `apply_chat_template`,
//! which renders it with Python's jinja2. [`ChatTemplate`] reproduces that environment with
//! minijinja: the same whitespace control (`trim_blocks`, `lstrip_blocks`), Python's string
//! methods, Python's printing of values (`None`, `True`, `[{'a': 1}]`), `tojson` as
//! `json.dumps(..., ensure_ascii=False)`, `raise_exception` and `strftime_now`. The golden tests
//! check byte equality with jinja2 for real templates (see `scripts/chat_templates/`).
//!
//! Built-in [`FallbackKind`] templates (ChatML, Llama 3) serve files without a template.

mod env;
mod error;
mod fallback;
mod input;
mod json;
mod python;
mod strftime;
mod template;
mod value;

pub use error::TemplateError;
pub use fallback::FallbackKind;
pub use input::{ChatInput, TemplateMessage, TemplateTool};
pub use template::{ChatTemplate, SpecialTokens};
/// The date-time type [`ChatTemplate::with_fixed_now`] takes.
pub use time::PrimitiveDateTime;
