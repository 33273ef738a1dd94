//! Shared test helpers: a seeded PRNG and random rows in every weight format.
#![allow(dead_code)]

pub mod tiny;

use half::f16;
use switchyard_engine::kernels::{QK_K, WType};

/// SplitMix64: small, seeded, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f32() * scale).collect()
    }
}

fn put_f16(b: &mut [u8], at: usize, v: f32) {
    b[at..at + 2].copy_from_slice(&f16::from_f32(v).to_le_bytes());
}

/// A random weight row of `k` elements: random quants, scales of plausible size.
pub fn random_row(wt: WType, k: usize, rng: &mut Rng) -> Vec<u8> {
    let (bs, ts) = wt.layout();
    let mut out = Vec::with_capacity(k / bs * ts);
    match wt {
        WType::F32 => {
            for _ in 0..k {
                out.extend_from_slice(&rng.f32().to_le_bytes());
            }
        }
        WType::F16 => {
            for _ in 0..k {
                out.extend_from_slice(&f16::from_f32(rng.f32()).to_le_bytes());
            }
        }
        WType::BF16 => {
            for _ in 0..k {
                out.extend_from_slice(&((rng.f32().to_bits() >> 16) as u16).to_le_bytes());
            }
        }
        _ => {
            for _ in 0..k / bs {
                let mut b: Vec<u8> = (0..ts).map(|_| rng.byte()).collect();
                let d = 0.002 + 0.01 * rng.f32().abs();
                match wt {
                    WType::Q6_K => put_f16(&mut b, 208, d),
                    WType::Q4_1 | WType::Q5_1 | WType::Q4_K | WType::Q5_K => {
                        put_f16(&mut b, 0, d);
                        put_f16(&mut b, 2, 0.01 * rng.f32());
                    }
                    _ => put_f16(&mut b, 0, d),
                }
                out.extend_from_slice(&b);
            }
        }
    }
    assert_eq!(k % bs, 0);
    assert_eq!(QK_K % 32, 0);
    out
}
