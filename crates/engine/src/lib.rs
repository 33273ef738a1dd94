//! CPU inference engine: kernels, model runner, KV cache, sampler.
