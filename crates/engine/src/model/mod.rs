//! The model runner: a loaded, immutable [`Model`] and per-sequence [`SeqState`]s.

mod attention;
pub mod config;
mod forward;
pub mod kv;
pub mod ops;
mod weights;

pub use config::{Arch, Hparams};
pub use kv::{KvCache, KvType, SeqState};

use crate::EngineError;
use crate::kernels::Isa;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use switchyard_gguf::{GgufFile, Metadata};
use weights::Weights;

/// Load-time options.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    /// Worker threads (0: one per available core).
    pub threads: usize,
    /// Kernel set to use (`None`: the best this CPU supports).
    pub isa: Option<Isa>,
}

/// Which rows' logits a forward call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// Only the last token of each sequence.
    Last,
    /// Every token.
    All,
    /// None (prefill only).
    None,
}

/// One sequence's part of a batched forward call.
pub struct BatchEntry<'a> {
    pub seq: &'a mut SeqState,
    pub tokens: &'a [u32],
}

/// A loaded model. Weights stay in the file mapping; the model is immutable after loading, so
/// it can be shared (`Arc<Model>`) by any number of sequences and threads.
pub struct Model {
    file: GgufFile,
    hp: Hparams,
    weights: Weights,
    isa: Isa,
    pool: rayon::ThreadPool,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("hparams", &self.hp)
            .field("isa", &self.isa)
            .field("threads", &self.pool.current_num_threads())
            .finish()
    }
}

impl Model {
    /// Maps and loads a GGUF file.
    pub fn load(path: impl AsRef<Path>, opts: &ModelOptions) -> Result<Model, EngineError> {
        Model::from_gguf(GgufFile::open(path)?, opts)
    }

    /// Loads from an already opened file: checks hyperparameters and every tensor's shape
    /// and type once.
    pub fn from_gguf(file: GgufFile, opts: &ModelOptions) -> Result<Model, EngineError> {
        let hp = Hparams::try_from(file.metadata())?;
        let weights = Weights::load(&file, &hp)?;
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("engine-{i}"))
            .build()
            .map_err(|e| EngineError::ThreadPool(e.to_string()))?;
        let isa = opts.isa.unwrap_or_else(Isa::detect);
        if !Isa::available().contains(&isa) {
            return Err(EngineError::Invalid(format!(
                "kernel set {isa:?} is not supported by this CPU"
            )));
        }
        Ok(Model {
            file,
            hp,
            weights,
            isa,
            pool,
        })
    }

    pub fn hparams(&self) -> &Hparams {
        &self.hp
    }
    pub fn metadata(&self) -> &Metadata {
        self.file.metadata()
    }
    pub fn n_vocab(&self) -> usize {
        self.weights.n_vocab
    }
    pub fn isa(&self) -> Isa {
        self.isa
    }
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// A new, empty sequence holding at most `n_ctx` positions (0: the training context).
    pub fn new_sequence(&self, kv: KvType, n_ctx: usize) -> Result<SeqState, EngineError> {
        let n_ctx = if n_ctx == 0 {
            self.hp.n_ctx_train
        } else {
            n_ctx
        };
        if n_ctx > self.hp.n_ctx_train {
            return Err(EngineError::Invalid(format!(
                "context {n_ctx} exceeds the model's training context {}",
                self.hp.n_ctx_train
            )));
        }
        Ok(SeqState {
            cache: KvCache::new(kv, self.hp.n_layer, self.hp.kv_dim(), n_ctx),
            tokens: Vec::new(),
        })
    }

    /// Runs `tokens` through the model after what `seq` already holds (a prompt in one batch,
    /// or one generated token), extending its cache. Returns the requested logits, row-major
    /// (`rows × n_vocab`).
    pub fn forward(
        &self,
        seq: &mut SeqState,
        tokens: &[u32],
        logits: Logits,
    ) -> Result<Vec<f32>, EngineError> {
        let mut batch = [BatchEntry { seq, tokens }];
        let mut out = self.forward_batch(&mut batch, logits)?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Runs several sequences at once: their rows share every matrix product. Returns, per
    /// entry, its requested logits. On error no sequence changes.
    pub fn forward_batch(
        &self,
        batch: &mut [BatchEntry<'_>],
        logits: Logits,
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        self.awake(|| forward::run(self, batch, logits, &mut Trace::off()))
    }

    /// Runs `f` on the pool with its other workers kept awake: each polls for work
    /// (`rayon::yield_now`) instead of going to sleep between the forward pass's many short
    /// parallel loops (about five per layer), and stops when `f` returns. A sleeping worker
    /// costs a futex wake-up per loop, tens of microseconds on a VM (measured on the 2-vCPU
    /// benchmark machine: a Llama-1B Q4_K_M decode step went from about 31 to 25 ms). Idle
    /// pollers call `sched_yield`, so with more threads than cores they give the core away. A
    /// poller that lands on `f`'s own thread (which takes its local jobs
    /// while it waits inside a loop) puts itself back for another worker and returns.
    fn awake<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(|| {
            let done = AtomicBool::new(false);
            let home = rayon::current_thread_index();
            rayon::in_place_scope(|s| {
                for _ in 1..rayon::current_num_threads() {
                    s.spawn(|s| poll(s, &done, home));
                }
                // Set `done` even if `f` unwinds, or the pollers would keep the scope open.
                let _stop = Stop(&done);
                f()
            })
        })
    }

    /// [`Model::forward`] that also hands every intermediate activation to `trace` as
    /// `(name, rows × width values)`, named as llama.cpp names its graph nodes (`attn_norm-0`,
    /// `Qcur-0`, `kqv_out-0`, `ffn_inp-0`, `ffn_out-0`, `l_out-0`, `result_norm`, …), for
    /// comparing the two engines op by op. Slower; for diagnostics only.
    pub fn forward_traced(
        &self,
        seq: &mut SeqState,
        tokens: &[u32],
        logits: Logits,
        trace: &mut TraceFn<'_>,
    ) -> Result<Vec<f32>, EngineError> {
        let mut batch = [BatchEntry { seq, tokens }];
        let mut tr = Trace::on(trace);
        let mut out = self.awake(|| forward::run(self, &mut batch, logits, &mut tr))?;
        Ok(out.pop().unwrap_or_default())
    }
}

/// A receiver of intermediate activations: `(name, rows × width values)`.
pub type TraceFn<'a> = dyn FnMut(&str, &[f32]) + Send + 'a;

/// An optional receiver of intermediate activations (see [`Model::forward_traced`]).
pub(crate) struct Trace<'a> {
    f: Option<&'a mut TraceFn<'a>>,
}

impl<'a> Trace<'a> {
    pub(crate) fn off() -> Trace<'static> {
        Trace { f: None }
    }
    pub(crate) fn on(f: &'a mut TraceFn<'a>) -> Trace<'a> {
        Trace { f: Some(f) }
    }
    /// Hands `data` to the receiver under `name()` (not evaluated when tracing is off).
    pub(crate) fn put(&mut self, name: impl FnOnce() -> String, data: &[f32]) {
        if let Some(f) = self.f.as_mut() {
            f(&name(), data);
        }
    }
}

/// Sets its flag when dropped.
struct Stop<'a>(&'a AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A worker of [`Model::awake`]: runs other workers' jobs as they appear until `done`.
fn poll<'s>(s: &rayon::Scope<'s>, done: &'s AtomicBool, home: Option<usize>) {
    if rayon::current_thread_index() == home {
        if !done.load(Ordering::Acquire) {
            s.spawn(move |s| poll(s, done, home));
        }
        return;
    }
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            // Give the core away if another thread wants it (more threads than cores);
            // otherwise this returns at once.
            std::thread::yield_now();
        }
    }
}
