//! Kernel tests: known answers for the scalar references, every SIMD path against its
//! reference with named tolerances, and batch invariance.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Rng, random_row};
use switchyard_engine::kernels::types::q8_kt_pos;
use switchyard_engine::kernels::{
    AType, ActRows, Isa, MAX_ROWS, MatMul, QK_K, Strides, TILE_WROWS, WType, WeightMatrix,
    dot_block, dot_rows, dot_span, dot_tile, reference,
};

/// SIMD vs scalar: the integer parts are exact, so results may differ only by f32 rounding in
/// a different summation order. Bound: this fraction of `Σ|w_i·a_i|`.
const SIMD_REL_TOL: f32 = 2e-6;
/// Scalar reference vs an f64 sum over the dequantised values.
const REF_REL_TOL: f64 = 1e-5;

/// Dequantises an activation row (the formats of `AType`) for known-answer checks.
fn dequant_act(ty: AType, b: &[u8], k: usize) -> Vec<f64> {
    let f16 = |at: usize| half::f16::from_le_bytes([b[at], b[at + 1]]).to_f64();
    match ty {
        AType::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        AType::F16 => b
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        AType::BF16 => b
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16) as f64)
            .collect(),
        AType::Q8_0 | AType::Q8_1 => {
            let (bb, qs) = if ty == AType::Q8_0 { (34, 2) } else { (36, 4) };
            (0..k)
                .map(|i| {
                    let at = (i / 32) * bb;
                    f16(at) * (b[at + qs + i % 32] as i8) as f64
                })
                .collect()
        }
        AType::Q8_K | AType::Q8_KT => (0..k)
            .map(|i| {
                let at = (i / QK_K) * 292;
                let d = f32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as f64;
                let pos = if ty == AType::Q8_KT {
                    q8_kt_pos(i % QK_K)
                } else {
                    i % QK_K
                };
                d * (b[at + 4 + pos] as i8) as f64
            })
            .collect(),
    }
}

fn act_row(wt: WType, x: &[f32]) -> ActRows {
    let mut a = ActRows::new(wt.act_type(), x.len()).unwrap();
    a.quantize(x).unwrap();
    a
}

fn widths(wt: WType) -> Vec<usize> {
    if wt.layout().0 == QK_K {
        vec![256, 512, 2048]
    } else {
        vec![32, 96, 896, 2048]
    }
}

#[test]
fn q8_0_activation_known_answer() {
    let x: Vec<f32> = (0..32).map(|i| i as f32 - 16.0).collect(); // amax 16
    let a = act_row(WType::Q8_0, &x);
    let b = a.row(0);
    let d = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
    assert_eq!(d, half::f16::from_f32(16.0 / 127.0).to_f32());
    assert_eq!(b[2] as i8, -127);
    // -8 * 127/16 = -63.5 rounds half to even: -64.
    assert_eq!(b[2 + 8] as i8, -64);
    assert_eq!(b[2 + 16] as i8, 0);
    assert_eq!(b[2 + 31] as i8, (15.0f32 * 127.0 / 16.0).round() as i8);
}

#[test]
fn q8_1_activation_carries_sum() {
    let mut rng = Rng::new(7);
    let x = rng.vec(64, 3.0);
    let a = act_row(WType::Q4_1, &x);
    let b = a.row(0);
    for blk in b.chunks_exact(36) {
        let d = half::f16::from_le_bytes([blk[0], blk[1]]).to_f32();
        let s = half::f16::from_le_bytes([blk[2], blk[3]]).to_f32();
        let sum: i32 = blk[4..].iter().map(|&q| q as i8 as i32).sum();
        let expect = half::f16::from_f32(d * sum as f32).to_f32();
        assert!(
            (s - expect).abs() <= expect.abs() * 2e-3 + 1e-3,
            "s {s} vs {expect}"
        );
    }
}

#[test]
fn q8_k_activation_known_answer() {
    let mut x = vec![0.5f32; 256];
    x[3] = -2.0; // the extreme value maps to +127 (iscale = -127 / max)
    let a = act_row(WType::Q4_K, &x);
    let b = a.row(0);
    let d = f32::from_le_bytes(b[0..4].try_into().unwrap());
    assert_eq!(d, 1.0 / (-127.0f32 / -2.0));
    assert_eq!(b[4 + 3] as i8, -127);
    assert_eq!(b[4] as i8, 32); // 0.5 · 63.5 = 31.75 → 32
    let bsum0 = i16::from_le_bytes([b[260], b[261]]);
    assert_eq!(bsum0 as i32, 15 * 32 - 127);
    let zero = act_row(WType::Q4_K, &[0.0; 256]);
    assert!(zero.row(0).iter().all(|&v| v == 0));
}

#[test]
fn reference_dot_matches_dequantised_f64() {
    let mut rng = Rng::new(1);
    for wt in WType::ALL {
        for k in widths(wt) {
            let w = random_row(wt, k, &mut rng);
            let x = rng.vec(k, 2.0);
            let a = act_row(wt, &x);
            let mut wf = vec![0.0f32; k];
            reference::dequantize_row(wt, &w, &mut wf);
            let af = dequant_act(wt.act_type(), a.row(0), k);
            let exact: f64 = wf.iter().zip(&af).map(|(p, q)| *p as f64 * q).sum();
            let mag: f64 = wf.iter().zip(&af).map(|(p, q)| (*p as f64 * q).abs()).sum();
            let got = reference::dot(wt, &w, a.row(0)) as f64;
            assert!(
                (got - exact).abs() <= REF_REL_TOL * mag + 1e-6,
                "{wt:?} k={k}: reference {got} vs dequantised {exact} (Σ|·| {mag})"
            );
        }
    }
}

#[test]
fn dequantize_known_values() {
    // Q4_0 block: d = 0.5, nibbles j → element j = (j % 16) - 8 scaled.
    let mut b = half::f16::from_f32(0.5).to_le_bytes().to_vec();
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let mut out = [0.0f32; 32];
    reference::dequantize_row(WType::Q4_0, &b, &mut out);
    for j in 0..16 {
        assert_eq!(out[j], (j as f32 - 8.0) * 0.5);
        assert_eq!(out[16 + j], (7.0 - j as f32) * 0.5);
    }
    // Q8_0: d = 0.25, q = j - 16.
    let mut b = half::f16::from_f32(0.25).to_le_bytes().to_vec();
    b.extend((0..32i8).map(|j| (j - 16) as u8));
    reference::dequantize_row(WType::Q8_0, &b, &mut out);
    assert_eq!(out[0], -4.0);
    assert_eq!(out[31], 3.75);
}

#[test]
fn simd_matches_reference_for_every_type_and_row_count() {
    let mut rng = Rng::new(2);
    let isas = Isa::available();
    eprintln!("kernel sets: {isas:?}");
    for isa in isas {
        for wt in WType::ALL {
            for k in widths(wt) {
                let w = random_row(wt, k, &mut rng);
                let rows: Vec<ActRows> = (0..MAX_ROWS)
                    .map(|_| act_row(wt, &rng.vec(k, 3.0)))
                    .collect();
                for r in 1..=MAX_ROWS {
                    let acts: Vec<&[u8]> = rows[..r].iter().map(|a| a.row(0)).collect();
                    let mut out = [0.0f32; MAX_ROWS];
                    dot_rows(isa, wt, k, &w, &acts, &mut out).unwrap();
                    for (i, a) in acts.iter().enumerate() {
                        let want = reference::dot(wt, &w, a);
                        let mut wf = vec![0.0f32; k];
                        reference::dequantize_row(wt, &w, &mut wf);
                        let af = dequant_act(wt.act_type(), a, k);
                        let mag: f64 = wf.iter().zip(&af).map(|(p, q)| (*p as f64 * q).abs()).sum();
                        let tol = SIMD_REL_TOL * mag as f32 + 1e-6;
                        assert!(
                            (out[i] - want).abs() <= tol,
                            "{isa:?} {wt:?} k={k} rows={r} row {i}: {} vs reference {want} (tol {tol})",
                            out[i]
                        );
                    }
                }
            }
        }
    }
}

/// The quantised types follow llama.cpp's x86 arithmetic exactly (exact integer sums per ggml
/// lane or per pair of Q4_K sub-blocks, then the same FMAs and horizontal sums), so every kernel
/// set equals the scalar reference bit for bit, in every tile shape.
#[test]
fn ggml_exact_types_match_reference_bit_for_bit() {
    let mut rng = Rng::new(7);
    for isa in Isa::available() {
        for wt in [
            WType::Q8_0,
            WType::Q4_0,
            WType::Q4_1,
            WType::Q5_0,
            WType::Q5_1,
            WType::Q4_K,
            WType::Q6_K,
        ] {
            for k in widths(wt) {
                let ws: Vec<Vec<u8>> = (0..TILE_WROWS)
                    .map(|_| random_row(wt, k, &mut rng))
                    .collect();
                let rows: Vec<ActRows> = (0..MAX_ROWS)
                    .map(|_| act_row(wt, &rng.vec(k, 4.0)))
                    .collect();
                let acts: Vec<&[u8]> = rows.iter().map(|a| a.row(0)).collect();
                let wr: Vec<&[u8]> = ws.iter().map(|w| w.as_slice()).collect();
                for nw in [1, TILE_WROWS] {
                    for r in 1..=MAX_ROWS {
                        let mut out = vec![f32::NAN; nw * r];
                        dot_tile(isa, wt, k, &wr[..nw], &acts[..r], &mut out).unwrap();
                        for i in 0..nw {
                            for j in 0..r {
                                let want = reference::dot(wt, wr[i], acts[j]);
                                assert_eq!(
                                    out[i * r + j].to_bits(),
                                    want.to_bits(),
                                    "{isa:?} {wt:?} k={k} tile {nw}x{r} at ({i},{j})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Known answer for the Q4_K order: one FMA per pair of sub-blocks, `acc − accm` at the end.
#[test]
fn q4_k_accumulates_per_pair_of_sub_blocks() {
    // One super-block: d = 1, dmin = 0.5, scales 1..=8 and mins 0 (sub-blocks 0..4 use the
    // plain 6-bit fields), every quant 1; activation d = 2^-20, all ones except 127s.
    let mut w = vec![0u8; 144];
    w[0..2].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
    w[2..4].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
    for j in 0..4 {
        w[4 + j] = (j + 1) as u8; // scales of sub-blocks 0..4
        w[8 + j] = 1; // mins of sub-blocks 0..4
        w[12 + j] = (j + 5) as u8 | (1 << 4); // scale j+5, min 1 of sub-blocks 4..8
    }
    w[16..144].fill(0x11);
    let x: Vec<f32> = (0..256)
        .map(|i| if i % 7 == 0 { 1.0 } else { 0.25 })
        .collect();
    let a = act_row(WType::Q4_K, &x);
    let y = a.row(0);
    let dy = f32::from_le_bytes(y[0..4].try_into().unwrap());
    let q = |i: usize| y[4 + q8_kt_pos(i)] as i8 as i32;
    let (mut acc, mut accm) = (0.0f32, 0.0f32);
    for p in 0..4 {
        let (mut si, mut sm) = (0, 0);
        for j in [2 * p, 2 * p + 1] {
            let s: i32 = (0..32).map(|l| q(32 * j + l)).sum();
            si += (j as i32 + 1) * s;
            sm += s;
        }
        acc = (si as f32).mul_add(dy, acc);
        accm = (sm as f32).mul_add(0.5 * dy, accm);
    }
    assert_eq!(
        reference::dot(WType::Q4_K, &w, y).to_bits(),
        (acc - accm).to_bits()
    );
    let exact: f64 = (0..256)
        .map(|i| ((i / 32 + 1) as f64 - 0.5) * q(i) as f64 * dy as f64)
        .sum();
    assert!((reference::dot(WType::Q4_K, &w, y) as f64 - exact).abs() < 1e-4 * exact.abs());
}

#[test]
fn results_do_not_depend_on_rows_per_call() {
    let mut rng = Rng::new(3);
    for isa in Isa::available() {
        for wt in WType::ALL {
            let k = 512;
            let w = random_row(wt, k, &mut rng);
            let rows: Vec<ActRows> = (0..MAX_ROWS)
                .map(|_| act_row(wt, &rng.vec(k, 1.0)))
                .collect();
            let acts: Vec<&[u8]> = rows.iter().map(|a| a.row(0)).collect();
            let mut all = [0.0f32; MAX_ROWS];
            dot_rows(isa, wt, k, &w, &acts, &mut all).unwrap();
            for (i, a) in acts.iter().enumerate() {
                let mut one = [0.0f32];
                dot_rows(isa, wt, k, &w, &[a], &mut one).unwrap();
                assert_eq!(one[0].to_bits(), all[i].to_bits(), "{isa:?} {wt:?} row {i}");
            }
        }
    }
}

#[test]
fn tiles_match_dot_rows_bit_for_bit() {
    let mut rng = Rng::new(6);
    for isa in Isa::available() {
        for wt in WType::ALL {
            for k in widths(wt) {
                let ws: Vec<Vec<u8>> = (0..TILE_WROWS)
                    .map(|_| random_row(wt, k, &mut rng))
                    .collect();
                let rows: Vec<ActRows> = (0..MAX_ROWS)
                    .map(|_| act_row(wt, &rng.vec(k, 2.0)))
                    .collect();
                let acts: Vec<&[u8]> = rows.iter().map(|a| a.row(0)).collect();
                for nw in [1, TILE_WROWS] {
                    let wr: Vec<&[u8]> = ws[..nw].iter().map(|w| w.as_slice()).collect();
                    for r in 1..=MAX_ROWS {
                        let mut out = vec![f32::NAN; nw * r];
                        dot_tile(isa, wt, k, &wr, &acts[..r], &mut out).unwrap();
                        for (i, w) in wr.iter().enumerate() {
                            for (j, a) in acts[..r].iter().enumerate() {
                                let mut one = [0.0f32];
                                dot_rows(isa, wt, k, w, &[a], &mut one).unwrap();
                                assert_eq!(
                                    out[i * r + j].to_bits(),
                                    one[0].to_bits(),
                                    "{isa:?} {wt:?} k={k} tile {nw}x{r} at ({i},{j})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The span (decode) and block (batch) entry points compute every element exactly as
/// `dot_rows` does, for row counts that are and are not multiples of the tile sizes.
#[test]
fn spans_and_blocks_match_dot_rows_bit_for_bit() {
    let mut rng = Rng::new(9);
    for isa in Isa::available() {
        for wt in WType::ALL {
            let k = widths(wt)[0];
            let (nw, na) = (7, 6);
            let ws: Vec<Vec<u8>> = (0..nw).map(|_| random_row(wt, k, &mut rng)).collect();
            let w: Vec<u8> = ws.concat();
            let x = rng.vec(na * k, 2.0);
            let mut acts = ActRows::new(wt.act_type(), k).unwrap();
            acts.quantize(&x).unwrap();
            let want = |i: usize, t: usize| {
                let mut one = [0.0f32];
                dot_rows(isa, wt, k, &ws[i], &[acts.row(t)], &mut one).unwrap();
                one[0].to_bits()
            };
            let mut span = vec![f32::NAN; nw];
            dot_span(isa, wt, k, &w, acts.row(0), &mut span).unwrap();
            for (i, v) in span.iter().enumerate() {
                assert_eq!(v.to_bits(), want(i, 0), "{isa:?} {wt:?} span row {i}");
            }
            // Weight-major and activation-major output layouts.
            for (w_stride, a_stride) in [(na, 1), (1, nw)] {
                let mut out = vec![f32::NAN; nw * na];
                let st = Strides { w_stride, a_stride };
                dot_block(isa, wt, k, &w, acts.data(), &mut out, st).unwrap();
                for i in 0..nw {
                    for t in 0..na {
                        let v = out[i * w_stride + t * a_stride];
                        assert_eq!(v.to_bits(), want(i, t), "{isa:?} {wt:?} block ({i},{t})");
                    }
                }
            }
        }
    }
}

#[test]
fn spans_and_blocks_reject_malformed_arguments() {
    let (w, a) = (vec![0u8; 34 * 3], vec![0u8; 34 * 2]);
    let st = Strides {
        w_stride: 2,
        a_stride: 1,
    };
    for isa in Isa::available() {
        let mut out = [0.0f32; 6];
        assert!(dot_span(isa, WType::Q8_0, 32, &w, &a[..34], &mut out[..3]).is_ok());
        assert!(dot_span(isa, WType::Q8_0, 32, &w, &a[..34], &mut out[..2]).is_err());
        assert!(dot_span(isa, WType::Q8_0, 32, &w[..100], &a[..34], &mut out[..3]).is_err());
        assert!(dot_span(isa, WType::Q8_0, 32, &w, &a, &mut out[..3]).is_err());
        assert!(dot_block(isa, WType::Q8_0, 32, &w, &a, &mut out, st).is_ok());
        assert!(dot_block(isa, WType::Q8_0, 32, &w, &a, &mut out[..5], st).is_err());
        assert!(dot_block(isa, WType::Q8_0, 32, &w[..101], &a, &mut out, st).is_err());
        assert!(dot_block(isa, WType::Q8_0, 32, &w, &a[..67], &mut out, st).is_err());
        assert!(dot_block(isa, WType::Q4_K, 32, &w, &a, &mut out, st).is_err());
    }
}

#[test]
fn dot_tile_rejects_malformed_arguments() {
    let (wv, av) = (vec![0u8; 34], vec![0u8; 34]);
    let (w, a) = (wv.as_slice(), av.as_slice());
    let mut out = [0.0f32; 16];
    for isa in Isa::available() {
        assert!(dot_tile(isa, WType::Q8_0, 32, &[w, w], &[a], &mut out).is_err());
        assert!(dot_tile(isa, WType::Q8_0, 32, &[w; 4], &[&a[..30]], &mut out).is_err());
        assert!(dot_tile(isa, WType::Q8_0, 32, &[&w[..33]], &[a], &mut out).is_err());
        assert!(dot_tile(isa, WType::Q8_0, 32, &[w; 4], &[a; 4], &mut out[..15]).is_err());
        assert!(dot_tile(isa, WType::Q8_0, 32, &[w; 4], &[], &mut out).is_err());
        assert!(dot_tile(isa, WType::Q8_0, 32, &[w; 4], &[a; 4], &mut out).is_ok());
    }
}

#[test]
fn dot_rows_rejects_malformed_arguments() {
    let w = vec![0u8; 34];
    let a = vec![0u8; 34];
    let mut out = [0.0f32; 4];
    for isa in Isa::available() {
        assert!(dot_rows(isa, WType::Q8_0, 32, &w[..33], &[&a], &mut out).is_err());
        assert!(dot_rows(isa, WType::Q8_0, 32, &w, &[&a[..30]], &mut out).is_err());
        assert!(dot_rows(isa, WType::Q8_0, 33, &w, &[&a], &mut out).is_err());
        assert!(dot_rows(isa, WType::Q8_0, 32, &w, &[a.as_slice(); 5], &mut out).is_err());
        assert!(dot_rows(isa, WType::Q4_K, 32, &w, &[&a], &mut out).is_err());
    }
}

#[test]
fn matmul_is_batch_and_thread_invariant() {
    let mut rng = Rng::new(4);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    for isa in Isa::available() {
        for wt in [WType::Q4_K, WType::Q8_0, WType::F16, WType::Q5_0] {
            let (k, n) = (512, 37);
            let data: Vec<u8> = (0..n).flat_map(|_| random_row(wt, k, &mut rng)).collect();
            let w = WeightMatrix::new(wt, k, n, &data).unwrap();
            let mm = MatMul { isa };
            for m in [1usize, 3, 8, 9, 70] {
                let x = rng.vec(m * k, 1.0);
                let mut acts = ActRows::new(wt.act_type(), k).unwrap();
                acts.quantize(&x).unwrap();
                let mut out = vec![0.0f32; m * n];
                pool.install(|| mm.run(&w, &acts, &mut out)).unwrap();
                for t in 0..m {
                    let mut single = ActRows::new(wt.act_type(), k).unwrap();
                    single.quantize(&x[t * k..(t + 1) * k]).unwrap();
                    let mut one = vec![0.0f32; n];
                    mm.run(&w, &single, &mut one).unwrap();
                    for o in 0..n {
                        assert_eq!(
                            out[t * n + o].to_bits(),
                            one[o].to_bits(),
                            "{isa:?} {wt:?} m={m} t={t} o={o}"
                        );
                        let want = reference::dot(wt, w.row(o), single.row(0));
                        assert!((one[o] - want).abs() <= 1e-3 * want.abs().max(1.0));
                    }
                }
            }
        }
    }
}

/// A group of decode products (one pass over the pool) equals each product run alone, bit for
/// bit, whatever the mix of weight types; a multi-row job falls back to one run per product.
#[test]
fn grouped_matmuls_equal_separate_runs() {
    let mut rng = Rng::new(5);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let k = 512;
    for isa in Isa::available() {
        let mm = MatMul { isa };
        for m in [1usize, 2] {
            let types = [WType::Q4_K, WType::Q6_K, WType::Q8_0];
            let ns = [64usize, 37, 5];
            let data: Vec<Vec<u8>> = types
                .iter()
                .zip(ns)
                .map(|(&wt, n)| (0..n).flat_map(|_| random_row(wt, k, &mut rng)).collect())
                .collect();
            let ws: Vec<WeightMatrix> = types
                .iter()
                .zip(ns)
                .zip(&data)
                .map(|((&wt, n), d)| WeightMatrix::new(wt, k, n, d).unwrap())
                .collect();
            let x = rng.vec(m * k, 1.0);
            let acts: Vec<ActRows> = types
                .iter()
                .map(|wt| {
                    let mut a = ActRows::new(wt.act_type(), k).unwrap();
                    a.quantize(&x).unwrap();
                    a
                })
                .collect();
            let mut outs: Vec<Vec<f32>> = ns.iter().map(|n| vec![f32::NAN; m * n]).collect();
            let mut jobs: Vec<(WeightMatrix, &ActRows, &mut [f32])> = ws
                .iter()
                .zip(&acts)
                .zip(outs.iter_mut())
                .map(|((w, a), o)| (*w, a, o.as_mut_slice()))
                .collect();
            pool.install(|| mm.run_group(&mut jobs)).unwrap();
            for ((w, a), got) in ws.iter().zip(&acts).zip(&outs) {
                let mut want = vec![0.0f32; got.len()];
                mm.run(w, a, &mut want).unwrap();
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(g, w)| g.to_bits() == w.to_bits());
                assert!(same, "{isa:?} {:?} m={m}", w.wt());
                // `run` itself groups single rows, so also check each element on its own.
                for t in 0..m {
                    for o in 0..w.n() {
                        let mut one = [0.0f32];
                        dot_rows(isa, w.wt(), k, w.row(o), &[a.row(t)], &mut one).unwrap();
                        let v = got[t * w.n() + o];
                        assert_eq!(
                            v.to_bits(),
                            one[0].to_bits(),
                            "{isa:?} {:?} ({t},{o})",
                            w.wt()
                        );
                    }
                }
            }
        }
    }
}

/// Attention dot products: lane-ordered (tinyBLAS) sums, so SIMD equals the scalar reference
/// bit for bit; against the exact f64 sum only f32 rounding.
const VEC_REL_TOL: f32 = 1e-5;

#[test]
fn attention_vector_ops_match_reference() {
    use half::f16;
    use switchyard_engine::kernels::act::Lanes;
    use switchyard_engine::kernels::vec;
    let mut rng = Rng::new(5);
    for isa in Isa::available() {
        let lanes = Lanes::of(isa);
        for n in [1usize, 7, 64, 128, 131] {
            let a = rng.vec(n, 2.0);
            let b = rng.vec(n, 2.0);
            let ah: Vec<f16> = a.iter().map(|&x| f16::from_f32(x)).collect();
            let bh: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
            let mag: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum::<f32>() + 1e-6;
            let d = vec::dot_f16(isa, &ah, &bh);
            assert_eq!(
                d.to_bits(),
                vec::dot_f16_ref(lanes, &ah, &bh).to_bits(),
                "{isa:?} dot_f16 n={n}"
            );
            let d = vec::dot_f32(isa, &a, &b);
            assert_eq!(
                d.to_bits(),
                vec::dot_f32_ref(lanes, &a, &b).to_bits(),
                "{isa:?} dot_f32 n={n}"
            );
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((d as f64 - exact).abs() <= (VEC_REL_TOL * mag) as f64);
            // axpy is element-wise FMA: identical to the reference.
            let mut y1 = b.clone();
            let mut y2 = b.clone();
            vec::axpy_f16(isa, &mut y1, 0.37, &ah);
            vec::axpy_f16_ref(&mut y2, 0.37, &ah);
            assert_eq!(y1, y2, "{isa:?} axpy_f16 n={n}");
            vec::axpy_f32(isa, &mut y1, -1.5, &a);
            vec::axpy_f32_ref(&mut y2, -1.5, &a);
            assert_eq!(y1, y2, "{isa:?} axpy_f32 n={n}");
            assert!((y1[0] - (b[0] + 0.37 * ah[0].to_f32() - 1.5 * a[0])).abs() < 1e-4);
        }
    }
}

/// The attention kernels over many KV rows equal the per-row operations they replace, bit for
/// bit: scores as `dot_f16` of each key row; the weighted sum as `axpy_f16` of each value row
/// into chain `j mod L`, then `hsum` of the chains per element. Head sizes 64 and 128 take the
/// fast paths, 24 the fallback.
#[test]
fn attention_row_kernels_match_per_row_operations_bit_for_bit() {
    use half::f16;
    use switchyard_engine::kernels::act::{self, Lanes};
    use switchyard_engine::kernels::vec;
    let mut rng = Rng::new(11);
    for isa in Isa::available() {
        let l = Lanes::of(isa).n();
        for hd in [64usize, 128, 24] {
            for n in [1usize, 5, 16, 17, 40] {
                let stride = hd * 3;
                let keys: Vec<f16> = rng
                    .vec(n * stride, 2.0)
                    .into_iter()
                    .map(f16::from_f32)
                    .collect();
                let q: Vec<f16> = rng.vec(hd, 2.0).into_iter().map(f16::from_f32).collect();
                let off = hd;
                let mut scores = Vec::new();
                vec::dot_f16_rows(isa, &q, &keys[off..], stride, n, &mut scores).unwrap();
                assert_eq!(scores.len(), n);
                for (j, s) in scores.iter().enumerate() {
                    let row = &keys[off + j * stride..off + j * stride + hd];
                    let want = vec::dot_f16(isa, &q, row);
                    assert_eq!(
                        s.to_bits(),
                        want.to_bits(),
                        "{isa:?} hd={hd} n={n} score {j}"
                    );
                }
                let w: Vec<f32> = rng.vec(n, 1.0);
                let mut out = vec![f32::NAN; hd];
                vec::wsum_f16(isa, &w, &keys[off..], stride, &mut out).unwrap();
                let mut chains = vec![0.0f32; l * hd];
                for (j, &wj) in w.iter().enumerate() {
                    let row = &keys[off + j * stride..off + j * stride + hd];
                    let c = (j % l) * hd;
                    vec::axpy_f16_ref(&mut chains[c..c + hd], wj, row);
                }
                for (d, o) in out.iter().enumerate() {
                    let lanes: Vec<f32> = (0..l).map(|c| chains[c * hd + d]).collect();
                    let want = act::hsum(&lanes);
                    assert_eq!(o.to_bits(), want.to_bits(), "{isa:?} hd={hd} n={n} out {d}");
                }
                // Rows past the end are an error, not a panic.
                let short = &keys[..(n - 1) * stride + hd - 1];
                assert!(vec::dot_f16_rows(isa, &q, short, stride, n, &mut Vec::new()).is_err());
                assert!(vec::wsum_f16(isa, &w, short, stride, &mut out).is_err());
            }
        }
    }
}

/// The SIMD activation quantizer (Q8_0, Q8_1, Q8_K and Q8_KT on AVX-512) writes the same bytes
/// as the scalar reference: random rows, an all-zero block, exact halves (rounding ties), values
/// at ±amax (the first one's sign counts for Q8_K), and blocks with an infinity or a NaN (left
/// to the reference).
#[test]
fn activation_quantizer_matches_the_reference_byte_for_byte() {
    use switchyard_engine::kernels::quantize::{quantize_row, quantize_row_reference};
    use switchyard_engine::kernels::types::AType;
    let mut rng = Rng::new(0x5eed_0042);
    let mut rows: Vec<Vec<f32>> = (0..40).map(|i| rng.vec(256, 0.1 + i as f32)).collect();
    let mut special = vec![0.0f32; 32];
    special.extend((0..32).map(|i| (i as f32 - 16.0) * 0.5));
    special.extend((0..32).map(|i| if i % 2 == 0 { 3.0 } else { -3.0 }));
    special.extend((0..32).map(|i| (i as f32 + 0.5) * 127.0 / 32.0));
    let mut inf = rng.vec(32, 2.0);
    inf[5] = f32::INFINITY;
    special.extend(inf);
    let mut nan = rng.vec(32, 2.0);
    nan[9] = f32::NAN;
    special.extend(nan);
    special.extend(std::iter::repeat_n(0.0f32, 64));
    rows.push(special);
    rows.push(vec![0.0f32; 256]);
    let mut ties = rng.vec(256, 1.0);
    ties[3] = 2.0;
    ties[200] = -2.0;
    rows.push(ties.clone());
    ties[3] = -2.0;
    ties[200] = 2.0;
    rows.push(ties);
    for ty in [AType::Q8_0, AType::Q8_1, AType::Q8_K, AType::Q8_KT] {
        for (i, x) in rows.iter().enumerate() {
            let n = ty.row_bytes(x.len()).unwrap();
            let (mut got, mut want) = (vec![0u8; n], vec![0u8; n]);
            quantize_row(ty, x, &mut got);
            quantize_row_reference(ty, x, &mut want);
            assert_eq!(got, want, "{ty:?} row {i}");
        }
    }
}
