//! GGUF v2/v3 reader (memory-mapped, panic-free), writer and quantizers.
