//! The local backend: serves GGUF models through the engine.
