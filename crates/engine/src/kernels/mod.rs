//! Compute kernels: dot products of weight rows with activation rows for every supported weight
//! type, with a scalar reference and x86 SIMD fast paths chosen at run time, plus the
//! multi-threaded matrix products built on them.

pub mod act;
pub mod matmul;
pub mod quantize;
pub mod reference;
mod tile;
pub mod types;
pub mod vec;
#[cfg(target_arch = "x86_64")]
pub mod x86;

pub use matmul::{MatMul, WeightMatrix};
pub use quantize::ActRows;
pub use tile::{Strides, TILE_WROWS, dot_block, dot_span, dot_tile};
pub use types::{AType, QK, QK_K, WType};

use std::sync::OnceLock;

/// The kernel set in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Portable scalar code (the reference).
    Scalar,
    /// x86-64 SIMD kernels at the given level.
    #[cfg(target_arch = "x86_64")]
    X86(x86::X86Level),
}

impl Isa {
    /// The best kernel set for this CPU, detected once.
    pub fn detect() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            if let Some(level) = x86::X86Level::detect() {
                return Isa::X86(level);
            }
            Isa::Scalar
        })
    }

    /// Every kernel set this CPU can run (for tests and benchmarks).
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)]
        let mut v = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        for level in [x86::X86Level::Avx2, x86::X86Level::Avx512Vnni] {
            if level.supported() {
                v.push(Isa::X86(level));
            }
        }
        v
    }
}

/// Most activation rows one weight row is applied to at once.
pub const MAX_ROWS: usize = 4;

/// Dot products of weight row `w` (`k` elements of `wt`) with 1 to [`MAX_ROWS`] activation rows
/// (each `k` elements of `wt.act_type()`), into `out[..acts.len()]`.
///
/// Each result is computed by the same sequence of operations whatever `acts.len()` is, so it
/// does not depend on batching. Malformed arguments (lengths that are not whole rows, too many
/// rows) give an error.
pub fn dot_rows(
    isa: Isa,
    wt: WType,
    k: usize,
    w: &[u8],
    acts: &[&[u8]],
    out: &mut [f32],
) -> Result<(), crate::EngineError> {
    if acts.is_empty() || acts.len() > MAX_ROWS || out.len() < acts.len() {
        return Err(crate::EngineError::Kernel(format!(
            "dot_rows: {} activation rows for {} outputs (1..={MAX_ROWS} allowed)",
            acts.len(),
            out.len()
        )));
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::X86(level) => {
            if x86::dot_rows(level, wt, k, w, acts, out) {
                return Ok(());
            }
        }
        Isa::Scalar => {}
    }
    let wb = wt.row_bytes(k)?;
    let ab = wt.act_type().row_bytes(k)?;
    if w.len() != wb || acts.iter().any(|a| a.len() != ab) {
        return Err(crate::EngineError::Kernel(format!(
            "dot_rows: {wt:?} row of {k} needs {wb} weight bytes and {ab} activation bytes"
        )));
    }
    if isa != Isa::Scalar {
        return Err(crate::EngineError::Kernel(format!(
            "{isa:?} kernels are not supported on this CPU"
        )));
    }
    for (a, o) in acts.iter().zip(out.iter_mut()) {
        *o = reference::dot(wt, w, a);
    }
    Ok(())
}
