//! Small vector operations for attention over the KV cache (f16 or f32 rows).

use half::f16;

/// `Σ a[i]·b[i]` with f32 products accumulated in order.
pub fn dot_f16(a: &[f16], b: &[f16]) -> f32 {
    a.iter()
        .zip(b)
        .fold(0.0, |s, (x, y)| s + x.to_f32() * y.to_f32())
}

/// `Σ a[i]·b[i]` accumulated in order.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
}

/// `y[i] += alpha · x[i]`.
pub fn axpy_f16(y: &mut [f32], alpha: f32, x: &[f16]) {
    for (v, s) in y.iter_mut().zip(x) {
        *v += alpha * s.to_f32();
    }
}

/// `y[i] += alpha · x[i]`.
pub fn axpy_f32(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (v, s) in y.iter_mut().zip(x) {
        *v += alpha * s;
    }
}
