//! Weight matrix × activation rows over the current rayon pool.
//!
//! Output element `(t, o)` is always `dot_rows(weight row o, activation row t)`, computed by the
//! same code whatever the number of rows and however the work is split, so results do not
//! depend on batching or threading.

use super::{ActRows, Isa, MAX_ROWS, WType, dot_rows};
use crate::EngineError;
use rayon::prelude::*;

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

impl MatMul {
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
        if m == 1 {
            let chunk = n.div_ceil(threads * 8).max(1);
            let xr = [x.row(0)];
            return out
                .par_chunks_mut(chunk)
                .enumerate()
                .try_for_each(|(c, o)| {
                    for (j, v) in o.iter_mut().enumerate() {
                        let row = w.row(c * chunk + j);
                        dot_rows(self.isa, w.wt(), w.k(), row, &xr, std::slice::from_mut(v))?;
                    }
                    Ok(())
                });
        }
        if m <= SPLIT_ROWS_MAX {
            // Transposed scratch (n × m) so each task owns whole weight rows, then transpose.
            let mut tmp = vec![0.0f32; n * m];
            let chunk = n.div_ceil(threads * 8).max(1);
            tmp.par_chunks_mut(chunk * m)
                .enumerate()
                .try_for_each(|(c, o)| {
                    for (j, vals) in o.chunks_exact_mut(m).enumerate() {
                        let row = w.row(c * chunk + j);
                        self.rows_against(w, row, x, 0, vals)?;
                    }
                    Ok::<(), EngineError>(())
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
                let t0 = c * per_task;
                let rows = o.len() / n;
                let mut vals = vec![0.0f32; rows];
                for oi in 0..n {
                    let row = w.row(oi);
                    self.rows_against(w, row, x, t0, &mut vals)?;
                    for (t, v) in vals.iter().enumerate() {
                        o[t * n + oi] = *v;
                    }
                }
                Ok(())
            })
    }

    /// One weight row against activation rows `t0 .. t0 + vals.len()`, in groups of
    /// [`MAX_ROWS`].
    #[inline]
    fn rows_against(
        &self,
        w: &WeightMatrix,
        row: &[u8],
        x: &ActRows,
        t0: usize,
        vals: &mut [f32],
    ) -> Result<(), EngineError> {
        let mut acts: [&[u8]; MAX_ROWS] = [&[]; MAX_ROWS];
        for (g, out) in vals.chunks_mut(MAX_ROWS).enumerate() {
            let base = t0 + g * MAX_ROWS;
            for (i, a) in acts.iter_mut().take(out.len()).enumerate() {
                *a = x.row(base + i);
            }
            dot_rows(self.isa, w.wt(), w.k(), row, &acts[..out.len()], out)?;
        }
        Ok(())
    }
}
