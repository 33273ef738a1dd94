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
