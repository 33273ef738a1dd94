//! Remote OpenAI-compatible provider backend (xAI, OpenAI, vLLM, SGLang, OpenRouter, …).
//!
//! [`OpenAiProvider`] implements [`switchyard_core::Backend`]: it turns a
//! validated [`switchyard_core::ChatRequest`] into the upstream's JSON
//! ([`wire`]), always streams (`stream: true`, `stream_options.include_usage`),
//! parses the upstream's server-sent events ([`sse`]) and maps each chunk to
//! [`switchyard_core::Event`]s ([`chunk`]).
//!
//! Behaviour worth knowing:
//! - **Retries** happen only inside `chat()`, before it returns the stream,
//!   and only for connect errors, 429 and 5xx, with exponential backoff and
//!   jitter (honouring `retry-after`/`retry-after-ms` up to the cap). Once the
//!   stream is returned nothing is retried.
//! - **Timeouts**: connect (reqwest), first byte (up to the response headers,
//!   and again up to the first body chunk, both measured from sending), and
//!   idle (between later chunks, inside the stream).
//! - **Errors**: no API key → `NotConfigured` naming the env var to set;
//!   429/503 → `Unavailable` (with `retry_after`); other 5xx → `Upstream{status}`;
//!   401/402/403 → `Upstream{status}` (logged as an operator problem; the
//!   upstream's text stays internal); 408 → `Timeout`; other 4xx →
//!   `InvalidRequest` with the upstream's message; invalid JSON, an
//!   `{"error": …}` event, or a stream that ends without `finish_reason` for
//!   every choice and without `[DONE]` → an error inside the stream.
//! - **Usage** is emitted once, as the last event. If the upstream finished
//!   properly but sent no usage, an *estimate* is emitted instead (and a
//!   warning logged): prompt tokens ≈ ceil(characters of message text / 4),
//!   completion tokens = number of content-bearing chunks, cached and
//!   reasoning 0. Billing something plausible beats billing nothing, and the
//!   warning lets operators spot upstreams that omit usage.
//! - An upstream that ignores `stream: true` and answers `application/json`
//!   is accepted: the whole completion is mapped to the same events.
//! - Dropping the stream drops the HTTP response, closing the upstream connection.
//! - API keys and prompt text are never logged (`ProviderSettings`'s `Debug` redacts the key).

mod backoff;
pub mod chunk;
mod error;
mod openai;
mod settings;
pub mod sse;
mod stream;
pub mod wire;

pub use error::ProviderError;
pub use openai::OpenAiProvider;
pub use settings::{ProviderSettings, RetryPolicy, Timeouts};
