//! Chat templates: GGUF Jinja templates rendered with minijinja, byte-identical to Python jinja2.
