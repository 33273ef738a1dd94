//! Mat-vec throughput on the weight matrices of a real GGUF file, as the model reads them
//! (mmapped, in place): per tensor type, the best-of-5 time of one pass over every matrix of
//! that type, in GB/s.
//!
//! `cargo run --release -p switchyard-engine --example file_bench -- FILE [threads]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Instant;
use switchyard_engine::kernels::{ActRows, Isa, MatMul, WType, WeightMatrix};
use switchyard_gguf::GgufFile;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = GgufFile::open(&args[1]).unwrap();
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mm = MatMul { isa: Isa::detect() };
    let mut by_type: BTreeMap<String, Vec<WeightMatrix>> = BTreeMap::new();
    for t in file.tensors() {
        if t.dims.len() != 2 {
            continue;
        }
        let wt = WType::try_from(t.ggml_type).unwrap();
        let (k, n) = (t.dims[0] as usize, t.dims[1] as usize);
        let m = WeightMatrix::new(wt, k, n, file.tensor_data(t).unwrap()).unwrap();
        by_type
            .entry(format!(
                "{wt:?} {}",
                if t.name == "token_embd.weight" || t.name == "output.weight" {
                    "output"
                } else {
                    "layers"
                }
            ))
            .or_default()
            .push(m);
    }
    for (name, mats) in &by_type {
        let bytes: usize = mats
            .iter()
            .map(|m| m.wt().row_bytes(m.k()).unwrap() * m.n())
            .sum();
        let inputs: Vec<(ActRows, Vec<f32>)> = mats
            .iter()
            .map(|m| {
                let x: Vec<f32> = (0..m.k())
                    .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
                    .collect();
                let mut a = ActRows::new(m.wt().act_type(), m.k()).unwrap();
                a.quantize(&x).unwrap();
                (a, vec![0.0f32; m.n()])
            })
            .collect();
        let mut inputs = inputs;
        pool.install(|| {
            let gap: u64 = std::env::var("GAP_US")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut best = f64::INFINITY;
            for _ in 0..6 {
                let t = Instant::now();
                for (m, (a, out)) in mats.iter().zip(inputs.iter_mut()) {
                    mm.run(m, a, out).unwrap();
                    let g = Instant::now();
                    while g.elapsed().as_micros() < gap as u128 {}
                }
                best =
                    best.min(t.elapsed().as_secs_f64() - (gap * mats.len() as u64) as f64 * 1e-6);
            }
            println!(
                "{name:>14}: {:4} matrices {:7.1} MB  {:7.2} ms  {:5.1} GB/s",
                mats.len(),
                bytes as f64 / 1e6,
                best * 1e3,
                bytes as f64 / best / 1e9
            );
        });
    }
}
