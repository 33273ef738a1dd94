//! The crate's error type.

/// Why a chat template could not be built or rendered.
///
/// Templates come from model files, so every failure is reported here; nothing in this crate
/// panics on a template or a conversation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The Jinja source does not parse.
    #[error("chat template does not parse: {0}")]
    Parse(String),
    /// The template called `raise_exception(message)`; the message is the template's own.
    #[error("chat template raised an exception: {0}")]
    Raised(String),
    /// Rendering failed for another reason (a type error, an undefined value, a recursion or
    /// instruction limit, ...).
    #[error("chat template failed to render: {0}")]
    Render(String),
    /// The conversation or tools given to the template are not of the expected shape.
    #[error("invalid chat template input: {0}")]
    Input(String),
}
