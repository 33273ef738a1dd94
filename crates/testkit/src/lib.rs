//! Test fixtures: a mock OpenAI-compatible upstream server.
