//! Kernel throughput at Llama-3.2-1B shapes: mat-vec (decode, memory-bound) over enough
//! matrices to defeat the caches, and mat-mat with 512 rows (prefill, compute-bound).
//!
//! `cargo run --release -p switchyard-engine --example kernel_bench -- [threads] [types…]`
//!
//! With `HUGE=1` the matrices live in transparent-huge-page memory (as a model file's page
//! cache does when it was read through a `MADV_HUGEPAGE` mapping), which lifts the TLB-bound
//! memory ceiling and shows the kernels' own limit. With `CACHED=1` one matrix is read again and
//! again from the last-level cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;
use switchyard_engine::kernels::{ActRows, Isa, MatMul, WType, WeightMatrix};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let only: Vec<String> = args.iter().skip(2).cloned().collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let isa = Isa::detect();
    println!("isa {isa:?}, {threads} threads");
    let (k, n) = (2048usize, 8192usize);
    for wt in WType::ALL {
        if !only.is_empty()
            && !only
                .iter()
                .any(|o| o.eq_ignore_ascii_case(&format!("{wt:?}")))
        {
            continue;
        }
        let row = wt.row_bytes(k).unwrap();
        let mat_bytes = row * n;
        // `CACHED=1`: one matrix, read from the last-level cache (the kernels' compute limit).
        let cached = std::env::var("CACHED").is_ok_and(|v| v == "1");
        let count = if cached {
            1
        } else {
            (512 << 20) / mat_bytes + 1
        };
        let mut seed = 0x1234_5678u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Random bytes with small f16 scales where the format has them.
        let huge = std::env::var("HUGE").is_ok_and(|v| v == "1");
        let mut data = memmap2::MmapOptions::new()
            .len(mat_bytes * count)
            .map_anon()
            .unwrap();
        if huge {
            data.advise(memmap2::Advice::HugePage).unwrap();
        }
        for v in data.chunks_exact_mut(mat_bytes) {
            v.iter_mut().for_each(|b| *b = next() as u8);
            fix_scales(wt, v);
        }
        let mats: Vec<WeightMatrix> = data
            .chunks_exact(mat_bytes)
            .map(|d| WeightMatrix::new(wt, k, n, d).unwrap())
            .collect();
        let mm = MatMul { isa };
        let x: Vec<f32> = (0..k)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let mut acts = ActRows::new(wt.act_type(), k).unwrap();
        acts.quantize(&x).unwrap();
        let mut out = vec![0.0f32; n];
        let reps = 40;
        pool.install(|| {
            for m in &mats {
                mm.run(m, &acts, &mut out).unwrap();
            }
            // Best of 5 rounds (the machine is shared; the minimum is the least disturbed).
            let mut dt = f64::INFINITY;
            for _ in 0..5 {
                let t = Instant::now();
                for i in 0..reps {
                    mm.run(&mats[i % count], &acts, &mut out).unwrap();
                }
                dt = dt.min(t.elapsed().as_secs_f64() / reps as f64);
            }
            // Llama-3.2-1B reads ~1.236e9 weights per token.
            let per_token = 1.236e9 / (k * n) as f64 * dt;
            println!(
                "{:>5} matvec 8192x2048: {:7.1} us  {:5.1} GB/s  ≈ {:5.1} tok/s at 1B size",
                format!("{wt:?}"),
                dt * 1e6,
                mat_bytes as f64 / dt / 1e9,
                1.0 / per_token
            );
        });
        // Prefill: 512 rows against one matrix.
        let m = 512;
        let xs: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let mut acts = ActRows::new(wt.act_type(), k).unwrap();
        let mut out = vec![0.0f32; m * n];
        pool.install(|| {
            // Best of 5 (activation quantisation included).
            let mut dt = f64::INFINITY;
            for _ in 0..5 {
                let t = Instant::now();
                acts.quantize(&xs).unwrap();
                mm.run(&mats[0], &acts, &mut out).unwrap();
                dt = dt.min(t.elapsed().as_secs_f64());
            }
            let flops = 2.0 * (m * k * n) as f64;
            println!(
                "{:>5} matmul 512x8192x2048: {:7.1} ms  {:6.1} GFLOP/s  ≈ {:5.1} tok/s prefill at 1B size",
                format!("{wt:?}"),
                dt * 1e3,
                flops / dt / 1e9,
                1.0 / (2.0 * 1.236e9 / (flops / dt))
            );
        });
    }
}

fn fix_scales(wt: WType, v: &mut [u8]) {
    let (bs, ts) = wt.layout();
    let small = half::f16::from_f32(0.01).to_le_bytes();
    let fields: &[usize] = match wt {
        WType::F32 => {
            for c in v.chunks_exact_mut(4) {
                c.copy_from_slice(&0.01f32.to_le_bytes());
            }
            return;
        }
        WType::F16 => {
            for c in v.chunks_exact_mut(2) {
                c.copy_from_slice(&small);
            }
            return;
        }
        WType::BF16 => {
            for c in v.chunks_exact_mut(2) {
                c.copy_from_slice(&[0x24, 0x3c]);
            }
            return;
        }
        WType::Q6_K => &[208],
        WType::Q4_1 | WType::Q5_1 | WType::Q4_K | WType::Q5_K => &[0, 2],
        _ => &[0],
    };
    let _ = bs;
    for b in v.chunks_exact_mut(ts) {
        for &f in fields {
            b[f..f + 2].copy_from_slice(&small);
        }
    }
}
