//! The HTTP edge: axum routes, validation into ChatRequest, auth, SSE, OpenAI error shape, metrics.
