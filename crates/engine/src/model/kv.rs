//! The per-sequence KV cache, kept apart from the weights so one model serves many sequences.

use crate::EngineError;
use half::f16;

/// Element type of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KvType {
    /// Half precision, llama.cpp's default (queries and attention weights are rounded to f16
    /// before the products, as llama.cpp does with an f16 cache).
    #[default]
    F16,
    /// Full precision.
    F32,
}

#[derive(Debug, Clone)]
pub(crate) enum KvBuf {
    F16(Vec<f16>),
    F32(Vec<f32>),
}

impl KvBuf {
    fn new(ty: KvType) -> KvBuf {
        match ty {
            KvType::F16 => KvBuf::F16(Vec::new()),
            KvType::F32 => KvBuf::F32(Vec::new()),
        }
    }
    fn len(&self) -> usize {
        match self {
            KvBuf::F16(v) => v.len(),
            KvBuf::F32(v) => v.len(),
        }
    }
    fn truncate(&mut self, n: usize) {
        match self {
            KvBuf::F16(v) => v.truncate(n),
            KvBuf::F32(v) => v.truncate(n),
        }
    }
    fn push(&mut self, row: &[f32]) {
        match self {
            KvBuf::F16(v) => v.extend(row.iter().map(|&x| f16::from_f32(x))),
            KvBuf::F32(v) => v.extend_from_slice(row),
        }
    }
}

/// Keys and values of one layer: `len × kv_dim` each, position-major.
#[derive(Debug, Clone)]
pub(crate) struct LayerKv {
    pub k: KvBuf,
    pub v: KvBuf,
}

/// Keys and values for every layer and cached position of one sequence.
#[derive(Debug, Clone)]
pub struct KvCache {
    ty: KvType,
    n_ctx: usize,
    kv_dim: usize,
    len: usize,
    layers: Vec<LayerKv>,
}

impl KvCache {
    pub(crate) fn new(ty: KvType, n_layer: usize, kv_dim: usize, n_ctx: usize) -> KvCache {
        let layers = (0..n_layer)
            .map(|_| LayerKv {
                k: KvBuf::new(ty),
                v: KvBuf::new(ty),
            })
            .collect();
        KvCache {
            ty,
            n_ctx,
            kv_dim,
            len: 0,
            layers,
        }
    }

    pub fn ty(&self) -> KvType {
        self.ty
    }
    /// Cached positions.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Most positions this cache holds.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }
    pub(crate) fn kv_dim(&self) -> usize {
        self.kv_dim
    }
    pub(crate) fn n_layer(&self) -> usize {
        self.layers.len()
    }
    pub(crate) fn layer(&self, l: usize) -> Option<&LayerKv> {
        self.layers.get(l)
    }

    /// Drops positions `n..` (e.g. to reuse a shared prefix or undo a step).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len = n;
        for l in &mut self.layers {
            l.k.truncate(n * self.kv_dim);
            l.v.truncate(n * self.kv_dim);
        }
    }

    /// Appends one position's key and value rows to layer `l` (positions are written in
    /// order; [`KvCache::commit`] then makes them count).
    pub(crate) fn append(&mut self, l: usize, k: &[f32], v: &[f32]) -> Result<(), EngineError> {
        let kv_dim = self.kv_dim;
        let n_ctx = self.n_ctx;
        let layer = self
            .layers
            .get_mut(l)
            .ok_or_else(|| EngineError::Invalid(format!("KV cache has no layer {l}")))?;
        if k.len() != kv_dim || v.len() != kv_dim || layer.k.len() >= n_ctx * kv_dim {
            return Err(EngineError::Invalid("KV cache row does not fit".into()));
        }
        layer.k.push(k);
        layer.v.push(v);
        Ok(())
    }

    /// Sets the length to `len` after every layer has been appended to.
    pub(crate) fn commit(&mut self, len: usize) -> Result<(), EngineError> {
        if self.layers.iter().any(|l| l.k.len() != len * self.kv_dim) {
            return Err(EngineError::Invalid("KV cache layers out of step".into()));
        }
        self.len = len;
        Ok(())
    }

    /// Undoes appends not yet committed.
    pub(crate) fn rollback(&mut self) {
        let n = self.len;
        self.truncate(n);
    }
}

/// The state of one sequence: its KV cache and the tokens it holds.
#[derive(Debug, Clone)]
pub struct SeqState {
    pub(crate) cache: KvCache,
    pub(crate) tokens: Vec<u32>,
}

impl SeqState {
    /// Positions processed so far (the next token's position).
    pub fn len(&self) -> usize {
        self.cache.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
    /// The tokens processed so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }
    pub fn cache(&self) -> &KvCache {
        &self.cache
    }
    /// Most positions this sequence can hold.
    pub fn n_ctx(&self) -> usize {
        self.cache.n_ctx()
    }
    /// Forgets positions `n..`.
    pub fn truncate(&mut self, n: usize) {
        self.cache.truncate(n);
        self.tokens.truncate(self.cache.len());
    }
}
