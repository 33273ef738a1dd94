//! BPE and SentencePiece tokenizers built from GGUF metadata, token-exact with llama.cpp.
