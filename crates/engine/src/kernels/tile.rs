//! Tiles of weight rows × activation rows: the unit of work of the matrix products.

use super::{Isa, MAX_ROWS, WType, reference};
use crate::EngineError;

/// Weight rows per full tile (a tile has 1 or this many weight rows).
pub const TILE_WROWS: usize = 4;

/// Dot products of 1 or [`TILE_WROWS`] weight rows `ws` (`k` elements of `wt` each) with 1 to
/// [`MAX_ROWS`] activation rows `acts` (`k` elements of `wt.act_type()` each), into
/// `out[i·acts.len() + r]` = `ws[i]` · `acts[r]`.
///
/// Each element is computed by exactly the operations [`super::dot_rows`] uses for it, so the
/// result does not depend on the tile shape. Malformed arguments give an error.
pub fn dot_tile(
    isa: Isa,
    wt: WType,
    k: usize,
    ws: &[&[u8]],
    acts: &[&[u8]],
    out: &mut [f32],
) -> Result<(), EngineError> {
    if acts.is_empty()
        || acts.len() > MAX_ROWS
        || !(ws.len() == 1 || ws.len() == TILE_WROWS)
        || out.len() < ws.len() * acts.len()
    {
        return Err(EngineError::Kernel(format!(
            "dot_tile: {} weight rows × {} activation rows into {} outputs",
            ws.len(),
            acts.len(),
            out.len()
        )));
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::X86(level) => {
            if super::x86::dot_tile(level, wt, k, ws, acts, out) {
                return Ok(());
            }
        }
        Isa::Scalar => {}
    }
    let wb = wt.row_bytes(k)?;
    let ab = wt.act_type().row_bytes(k)?;
    if ws.iter().any(|w| w.len() != wb) || acts.iter().any(|a| a.len() != ab) {
        return Err(EngineError::Kernel(format!(
            "dot_tile: {wt:?} row of {k} needs {wb} weight bytes and {ab} activation bytes"
        )));
    }
    if isa != Isa::Scalar {
        return Err(EngineError::Kernel(format!(
            "{isa:?} kernels are not supported on this CPU"
        )));
    }
    for (i, w) in ws.iter().enumerate() {
        for (r, a) in acts.iter().enumerate() {
            if let Some(o) = out.get_mut(i * acts.len() + r) {
                *o = reference::dot(wt, w, a);
            }
        }
    }
    Ok(())
}

/// Dot products of the `out.len()` adjacent weight rows in `w` (`k` elements of `wt` each) with
/// one activation row `a`: `out[o]` = row `o` · `a`, each computed as [`super::dot_rows`]
/// does. This is decode's mat-vec: the lengths are checked once per span, not once per row.
pub fn dot_span(
    isa: Isa,
    wt: WType,
    k: usize,
    w: &[u8],
    a: &[u8],
    out: &mut [f32],
) -> Result<(), EngineError> {
    let wb = wt.row_bytes(k)?;
    let ab = wt.act_type().row_bytes(k)?;
    if out.len().checked_mul(wb) != Some(w.len()) || a.len() != ab {
        return Err(EngineError::Kernel(format!(
            "dot_span: {} {wt:?} rows of {k} need {} weight bytes (got {}) and {ab} activation bytes (got {})",
            out.len(),
            out.len().saturating_mul(wb),
            w.len(),
            a.len()
        )));
    }
    let st = Strides {
        w_stride: 1,
        a_stride: 0,
    };
    dot_block(isa, wt, k, w, a, out, st)
}

/// Where [`dot_block`] writes: element (weight row `i`, activation row `t`) of a block goes to
/// `out[i·w_stride + t·a_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct Strides {
    pub w_stride: usize,
    pub a_stride: usize,
}

/// Dot products of every weight row in `w` (whole rows of `k` elements of `wt`) with every
/// activation row in `a` (whole rows of `wt.act_type()`), into `out` at [`Strides`], each
/// element computed as [`super::dot_rows`] does (by [`dot_tile`]'s tiles). The unit of work
/// of the matrix products: the lengths are checked once per block, not once per tile.
pub fn dot_block(
    isa: Isa,
    wt: WType,
    k: usize,
    w: &[u8],
    a: &[u8],
    out: &mut [f32],
    st: Strides,
) -> Result<(), EngineError> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::X86(level) => {
            if super::x86::dot_block(level, wt, k, w, a, out, st) {
                return Ok(());
            }
        }
        Isa::Scalar => {}
    }
    let wb = wt.row_bytes(k)?;
    let ab = wt.act_type().row_bytes(k)?;
    let whole = |len: usize, row: usize| row > 0 && len.is_multiple_of(row);
    if !whole(w.len(), wb) || !whole(a.len(), ab) {
        return Err(EngineError::Kernel(format!(
            "dot_block: {} weight bytes / {} activation bytes are not whole {wt:?} rows of {k}",
            w.len(),
            a.len()
        )));
    }
    if isa != Isa::Scalar {
        return Err(EngineError::Kernel(format!(
            "{isa:?} kernels are not supported on this CPU"
        )));
    }
    for (i, wr) in w.chunks_exact(wb).enumerate() {
        for (t, ar) in a.chunks_exact(ab).enumerate() {
            let o = out
                .get_mut(i * st.w_stride + t * st.a_stride)
                .ok_or_else(|| EngineError::Kernel("dot_block: output too short".into()))?;
            *o = reference::dot(wt, wr, ar);
        }
    }
    Ok(())
}
