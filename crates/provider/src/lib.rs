//! Remote OpenAI-compatible provider backend (xAI, vLLM, SGLang, OpenRouter...).
