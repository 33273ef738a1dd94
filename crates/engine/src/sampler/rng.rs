//! A small, self-contained random number generator: xoshiro256** seeded with splitmix64.
//!
//! Written out here (rather than taken from `rand`) so that a seed gives the same stream on
//! every platform and in every version of Switchyard: the algorithm is fixed by this file.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// One step of splitmix64 (Steele, Lea, Flood 2014): advances `state` and returns a
/// well-mixed 64-bit value.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** 1.0 (Blackman and Vigna 2018).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The generator for `seed`: its four state words are the next four outputs of
    /// splitmix64 started at `seed` (the seeding the authors recommend; the state can never
    /// be all zero because splitmix64's outputs for distinct counters are distinct).
    pub fn from_seed(seed: u64) -> Self {
        let mut sm = seed;
        Rng {
            s: [
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
            ],
        }
    }

    /// The generator with exactly this state (for the reference test vectors).
    #[cfg(test)]
    pub(crate) fn from_state(s: [u64; 4]) -> Self {
        Rng { s }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform value in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The seed of choice `index` of a request seeded with `seed`.
///
/// Choice 0 uses `seed` itself, so a request with `n = 1` and the first choice of the same
/// request with `n > 1` produce the same text. Other choices get a seed derived by mixing
/// `(seed, index)` through splitmix64, which makes their streams independent.
pub fn choice_seed(seed: u64, index: u32) -> u64 {
    if index == 0 {
        return seed;
    }
    let mut a = seed;
    let mixed_seed = splitmix64(&mut a);
    let mut b = u64::from(index) ^ 0xD1B5_4A32_D192_ED03;
    let mixed_index = splitmix64(&mut b);
    let mut c = mixed_seed ^ mixed_index.rotate_left(17);
    splitmix64(&mut c)
}

/// A fresh, unpredictable seed for requests without one.
///
/// It hashes the clock and a process-wide counter with std's randomly keyed SipHash
/// (`RandomState` draws its keys from the operating system), so two calls never return the
/// same value in practice, and no extra dependency is needed.
pub fn os_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference_vector() {
        // Published outputs of splitmix64 started at 1234567.
        let mut s = 1_234_567u64;
        let got: Vec<u64> = (0..5).map(|_| splitmix64(&mut s)).collect();
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423,
                4593380528125082431,
                16408922859458223821
            ]
        );
    }

    #[test]
    fn xoshiro256starstar_matches_reference_vector() {
        // Reference outputs of xoshiro256** from the state [1, 2, 3, 4].
        let mut r = Rng::from_state([1, 2, 3, 4]);
        let got: Vec<u64> = (0..10).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [
                11520,
                0,
                1509978240,
                1215971899390074240,
                1216172134540287360,
                607988272756665600,
                16172922978634559625,
                8476171486693032832,
                10595114339597558777,
                2904607092377533576
            ]
        );
    }

    #[test]
    fn next_f64_is_in_unit_interval_and_roughly_uniform() {
        let mut r = Rng::from_seed(7);
        let n = 100_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        // Mean of U(0,1) is 0.5 with sd 0.289/sqrt(n) ≈ 0.0009; allow 5 sd.
        assert!(
            (sum / n as f64 - 0.5).abs() < 0.0046,
            "mean {}",
            sum / n as f64
        );
    }

    #[test]
    fn choice_seeds_are_distinct_and_choice_zero_is_the_seed() {
        assert_eq!(choice_seed(42, 0), 42);
        let seeds: Vec<u64> = (0..64).map(|i| choice_seed(42, i)).collect();
        let mut dedup = seeds.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), seeds.len());
        assert_ne!(choice_seed(42, 1), choice_seed(43, 1));
    }

    #[test]
    fn os_seeds_differ() {
        assert_ne!(os_seed(), os_seed());
    }
}
