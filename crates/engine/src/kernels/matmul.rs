//! Weight matrix × activation rows over the current rayon pool.
//!
//! Output element `(t, o)` is always `dot_rows(weight row o, activation row t)` (through
//! [`dot_tile`], which computes each element the same way), computed by the
//! same code whatever the number of rows and however the work is split, so results do not
//! depend on batching or threading.

use super::{ActRows, Isa, MAX_ROWS, Strides, TILE_WROWS, WType, dot_block, dot_span};
use crate::EngineError;
use rayon::prelude::*;
use std::ops::Range;

/// A weight matrix in ggml layout: `n` rows of `k` elements, borrowed (e.g. from the mmap).
#[derive(Debug, Clone, Copy)]
pub struct WeightMatrix<'a> {
    wt: WType,
    k: usize,
    n: usize,
    row_bytes: usize,
    data: &'a [u8],
}

impl<'a> WeightMatrix<'a> {
    /// Checks that `data` holds exactly `n` rows of `k` elements of `wt`.
    pub fn new(wt: WType, k: usize, n: usize, data: &'a [u8]) -> Result<Self, EngineError> {
        let row_bytes = wt.row_bytes(k)?;
        if n.checked_mul(row_bytes) != Some(data.len()) {
            return Err(EngineError::Kernel(format!(
                "{wt:?} matrix of {n} rows × {k} needs {} bytes, got {}",
                n.saturating_mul(row_bytes),
                data.len()
            )));
        }
        Ok(WeightMatrix {
            wt,
            k,
            n,
            row_bytes,
            data,
        })
    }

    pub fn wt(&self) -> WType {
        self.wt
    }
    /// Row length (input features).
    pub fn k(&self) -> usize {
        self.k
    }
    /// Number of rows (output features).
    pub fn n(&self) -> usize {
        self.n
    }
    /// The bytes of rows `rows` (empty when out of range).
    pub fn rows_bytes(&self, rows: Range<usize>) -> &'a [u8] {
        self.data
            .get(rows.start * self.row_bytes..rows.end * self.row_bytes)
            .unwrap_or_default()
    }
    /// Row `o`'s bytes (empty when out of range).
    pub fn row(&self, o: usize) -> &'a [u8] {
        self.data
            .get(o * self.row_bytes..(o + 1) * self.row_bytes)
            .unwrap_or_default()
    }
}

/// Matrix products with one kernel set.
#[derive(Debug, Clone, Copy)]
pub struct MatMul {
    pub isa: Isa,
}

/// Up to this many activation rows, work is split over weight rows (each weight row is read
/// once in all); above it, over chunks of activation rows that each sweep the weights.
const SPLIT_ROWS_MAX: usize = 8;
/// Activation bytes one task keeps hot while sweeping the weights.
const TASK_ACT_BYTES: usize = 256 * 1024;

/// Weight rows per task when the work is split over weight rows: 8 tasks per thread, whole
/// tiles.
fn weight_rows_per_task(n: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    n.div_ceil(threads * 8).max(1).next_multiple_of(TILE_WROWS)
}

impl MatMul {
    /// Several products [`MatMul::run`] would compute one after the other, each `(w, x, out)`.
    /// When every `x` is one row (decode), their row chunks go to the pool as one parallel
    /// loop, so the threads meet once instead of once per matrix; each element is computed
    /// exactly as [`MatMul::run`] computes it.
    pub fn run_group(
        &self,
        jobs: &mut [(WeightMatrix<'_>, &ActRows, &mut [f32])],
    ) -> Result<(), EngineError> {
        if jobs.iter().any(|(w, x, out)| {
            x.rows() != 1 || x.ty() != w.wt().act_type() || x.k() != w.k() || out.len() != w.n()
        }) {
            for (w, x, out) in jobs.iter_mut() {
                self.run(w, x, out)?;
            }
            return Ok(());
        }
        let mut work = Vec::new();
        for (w, x, out) in jobs.iter_mut() {
            let chunk = weight_rows_per_task(w.n());
            for (c, o) in out.chunks_mut(chunk).enumerate() {
                work.push((*w, x.row(0), c * chunk, o));
            }
        }
        work.into_par_iter().try_for_each(|(w, a, first, o)| {
            let rows = w.rows_bytes(first..first + o.len());
            dot_span(self.isa, w.wt(), w.k(), rows, a, o)
        })
    }

    /// `out[t·n + o] = Σ_i w[o][i] · x[t][i]` for every activation row `t` of `x` (already in
    /// `w.wt().act_type()` format) and weight row `o`. `out` must hold `x.rows() × w.n()` values.
    pub fn run(&self, w: &WeightMatrix, x: &ActRows, out: &mut [f32]) -> Result<(), EngineError> {
        let (m, n) = (x.rows(), w.n());
        if x.ty() != w.wt().act_type() || x.k() != w.k() || out.len() != m * n {
            return Err(EngineError::Kernel(format!(
                "matmul: {:?} weights {}×{} with {} {:?} rows of {} into {} outputs",
                w.wt(),
                w.n(),
                w.k(),
                m,
                x.ty(),
                x.k(),
                out.len()
            )));
        }
        if m == 0 || n == 0 {
            return Ok(());
        }
        let threads = rayon::current_num_threads().max(1);
        if m <= SPLIT_ROWS_MAX {
            // Each task owns whole weight rows (each weight row is read once in all).
            let chunk = weight_rows_per_task(n);
            if m == 1 {
                return self.run_group(&mut [(*w, x, out)]);
            }
            // Transposed scratch (n × m), then transpose.
            let mut tmp = vec![0.0f32; n * m];
            let acts = x.rows_bytes(0..m);
            tmp.par_chunks_mut(chunk * m)
                .enumerate()
                .try_for_each(|(c, o)| {
                    let rows = w.rows_bytes(c * chunk..c * chunk + o.len() / m);
                    let st = Strides {
                        w_stride: m,
                        a_stride: 1,
                    };
                    dot_block(self.isa, w.wt(), w.k(), rows, acts, o, st)
                })?;
            for (o, vals) in tmp.chunks_exact(m).enumerate() {
                for (t, v) in vals.iter().enumerate() {
                    out[t * n + o] = *v;
                }
            }
            return Ok(());
        }
        let per_task = (TASK_ACT_BYTES / x.row_bytes().max(1)).clamp(MAX_ROWS, 64);
        let per_task = per_task.min(m.div_ceil(threads)).max(1);
        out.par_chunks_mut(per_task * n)
            .enumerate()
            .try_for_each(|(c, o)| {
                let acts = x.rows_bytes(c * per_task..c * per_task + o.len() / n);
                let st = Strides {
                    w_stride: 1,
                    a_stride: n,
                };
                dot_block(self.isa, w.wt(), w.k(), w.rows_bytes(0..n), acts, o, st)
            })
    }
}
