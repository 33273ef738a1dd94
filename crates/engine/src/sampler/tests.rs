//! Tests of the whole sampler (the parts have their own tests next to them).

use super::rng::Rng;
use super::*;

fn params() -> SamplingParams {
    SamplingParams::default()
}

fn seeded(seed: u64) -> SamplingParams {
    SamplingParams {
        seed: Some(seed),
        ..params()
    }
}

/// Random logits in [-spread, spread), reproducible.
fn random_logits(rng: &mut Rng, n: usize, spread: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.next_f64() as f32 * 2.0 - 1.0) * spread)
        .collect()
}

fn softmax(l: &[f32], temperature: f64) -> Vec<f64> {
    let m = l.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let w: Vec<f64> = l
        .iter()
        .map(|&x| ((f64::from(x) - m) / temperature).exp())
        .collect();
    let z: f64 = w.iter().sum();
    w.iter().map(|x| x / z).collect()
}

fn log_softmax(l: &[f32]) -> Vec<f64> {
    softmax(l, 1.0).iter().map(|p| p.ln()).collect()
}

/// Draws `n` tokens from fixed logits; returns the count of each id.
fn histogram(p: &SamplingParams, logits: &[f32], n: usize) -> Vec<usize> {
    let mut s = Sampler::new(p, logits.len());
    let mut counts = vec![0; logits.len()];
    for _ in 0..n {
        let t = s.sample(&mut logits.to_vec(), &[]).token as usize;
        counts[t] += 1;
    }
    counts
}

#[test]
fn greedy_picks_argmax_and_ignores_seed() {
    let mut rng = Rng::from_seed(5);
    for round in 0..20 {
        let logits = random_logits(&mut rng, 1000, 8.0);
        let want = logits
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |b, (i, &l)| if l > b.1 { (i, l) } else { b },
            )
            .0 as u32;
        for seed in [None, Some(1), Some(round + 99)] {
            let p = SamplingParams {
                seed,
                ..SamplingParams::greedy()
            };
            let mut s = Sampler::new(&p, logits.len());
            assert_eq!(s.sample(&mut logits.clone(), &[]).token, want);
        }
    }
    // Ties go to the lowest id.
    let mut s = Sampler::new(&SamplingParams::greedy(), 4);
    assert_eq!(s.sample(&mut [0.0, 3.0, 1.0, 3.0], &[]).token, 1);
}

#[test]
fn greedy_does_not_consume_randomness() {
    let p = SamplingParams {
        temperature: 0.0,
        seed: Some(9),
        ..params()
    };
    let mut s = Sampler::new(&p, 3);
    let before = s.rng.clone();
    s.sample(&mut [1.0, 2.0, 3.0], &[]);
    assert_eq!(s.rng, before);
}

#[test]
fn same_seed_same_sequence_different_seeds_differ() {
    let mut rng = Rng::from_seed(77);
    let steps: Vec<Vec<f32>> = (0..200).map(|_| random_logits(&mut rng, 64, 2.0)).collect();
    let run = |p: &SamplingParams| -> Vec<u32> {
        let mut s = Sampler::new(p, 64);
        let mut hist = Vec::new();
        for l in &steps {
            let t = s.sample(&mut l.clone(), &hist).token;
            hist.push(t);
        }
        hist
    };
    for extra in [
        params(),
        SamplingParams {
            top_k: 10,
            top_p: 0.9,
            min_p: 0.02,
            temperature: 0.7,
            frequency_penalty: 0.3,
            repetition_penalty: 1.2,
            ..params()
        },
    ] {
        let a = run(&SamplingParams {
            seed: Some(1234),
            ..extra.clone()
        });
        let b = run(&SamplingParams {
            seed: Some(1234),
            ..extra.clone()
        });
        let c = run(&SamplingParams {
            seed: Some(1235),
            ..extra.clone()
        });
        assert_eq!(a, b);
        let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
        assert!(same < 150, "different seeds agree on {same}/200 tokens");
    }
    // Unseeded samplers draw their own seeds.
    assert_ne!(
        Sampler::new(&params(), 4).seed(),
        Sampler::new(&params(), 4).seed()
    );
}

#[test]
fn seeded_stream_is_pinned() {
    // Computed independently (a Python transcription of xoshiro256**, splitmix64 seeding and
    // the cumulative walk), so a change of generator, seeding or draw order shows up here.
    let p = SamplingParams {
        temperature: 0.8,
        seed: Some(42),
        ..params()
    };
    let logits = [0.0f32, 1.0, 0.5, -1.0, 2.0];
    let mut s = Sampler::new(&p, 5);
    let got: Vec<u32> = (0..24)
        .map(|_| s.sample(&mut logits.to_vec(), &[]).token)
        .collect();
    assert_eq!(
        got,
        [
            1, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 4, 2, 4, 4, 4, 4, 4, 4, 1, 1, 4, 4
        ]
    );
}

/// Max abs error between empirical frequencies and `want`, and Pearson's chi-square.
fn compare(counts: &[usize], want: &[f64]) -> (f64, f64) {
    let n: usize = counts.iter().sum();
    let mut max_err = 0.0f64;
    let mut chi2 = 0.0;
    for (&c, &p) in counts.iter().zip(want) {
        let f = c as f64 / n as f64;
        max_err = max_err.max((f - p).abs());
        let e = p * n as f64;
        chi2 += (c as f64 - e).powi(2) / e;
    }
    (max_err, chi2)
}

/// 20 000 draws: the sd of a frequency is at most sqrt(0.25 / 20000) ≈ 0.0035, so 0.015 is
/// over 4 sd. Chi-square with 4 degrees of freedom: 18.47 is its 0.999 quantile.
const MAX_FREQ_ERR: f64 = 0.015;
const CHI2_4DF_999: f64 = 18.47;

#[test]
fn empirical_distribution_matches_softmax() {
    let logits = [1.0f32, 0.0, 2.0, -0.5, 1.5];
    for (temperature, seed) in [(1.0f32, 3u64), (0.5, 4), (1.7, 5)] {
        let p = SamplingParams {
            temperature,
            seed: Some(seed),
            ..params()
        };
        let counts = histogram(&p, &logits, 20_000);
        let (err, chi2) = compare(&counts, &softmax(&logits, f64::from(temperature)));
        assert!(err < MAX_FREQ_ERR, "T={temperature}: max error {err}");
        assert!(chi2 < CHI2_4DF_999, "T={temperature}: chi2 {chi2}");
    }
}

#[test]
fn truncated_distribution_is_renormalised_softmax() {
    // top_k = 3 keeps ids 2, 4, 0; draws must follow softmax over those at temperature 0.9.
    let logits = [1.0f32, 0.0, 2.0, -0.5, 1.5];
    let p = SamplingParams {
        top_k: 3,
        temperature: 0.9,
        seed: Some(8),
        ..params()
    };
    let counts = histogram(&p, &logits, 20_000);
    assert_eq!(counts[1] + counts[3], 0);
    let kept = [counts[0], counts[2], counts[4]];
    let want = softmax(&[1.0, 2.0, 1.5], 0.9);
    let (err, _) = compare(&kept, &want);
    assert!(err < MAX_FREQ_ERR, "max error {err}");
}

#[test]
fn top_k_one_is_greedy() {
    let mut rng = Rng::from_seed(21);
    for seed in 0..30 {
        let logits = random_logits(&mut rng, 5000, 3.0);
        let p = SamplingParams {
            top_k: 1,
            temperature: 1.5,
            seed: Some(seed),
            ..params()
        };
        let g = Sampler::new(&SamplingParams::greedy(), 5000)
            .sample(&mut logits.clone(), &[])
            .token;
        assert_eq!(
            Sampler::new(&p, 5000)
                .sample(&mut logits.clone(), &[])
                .token,
            g
        );
    }
}

#[test]
fn tiny_top_p_keeps_only_the_top_token() {
    let logits = [1.0f32, 0.9, 2.0, 1.95, 0.0];
    let p = SamplingParams {
        top_p: 0.01,
        temperature: 2.0,
        seed: Some(2),
        ..params()
    };
    let counts = histogram(&p, &logits, 2000);
    assert_eq!(counts[2], 2000, "{counts:?}");
}

#[test]
fn min_p_and_top_a_truncate_as_defined() {
    // Probabilities 0.5, 0.3, 0.15, 0.05.
    let logits: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
    let p = SamplingParams {
        min_p: 0.25, // keeps p ≥ 0.125
        seed: Some(6),
        ..params()
    };
    let counts = histogram(&p, &logits, 20_000);
    assert_eq!(counts[3], 0);
    let (err, _) = compare(&counts[..3], &[0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95]);
    assert!(err < MAX_FREQ_ERR, "{counts:?}");

    let p = SamplingParams {
        top_a: 1.0, // keeps p ≥ 0.25
        seed: Some(7),
        ..params()
    };
    let counts = histogram(&p, &logits, 20_000);
    assert_eq!(counts[2] + counts[3], 0);
    let (err, _) = compare(&counts[..2], &[0.625, 0.375]);
    assert!(err < MAX_FREQ_ERR, "{counts:?}");
}

#[test]
fn logit_bias_bans_and_forces() {
    let logits = [0.5f32, 1.0, 3.0, 0.0, -1.0];
    let ban = SamplingParams {
        logit_bias: vec![(2, -100.0)],
        seed: Some(1),
        ..params()
    };
    let counts = histogram(&ban, &logits, 5000);
    assert_eq!(counts[2], 0);
    assert!(counts[1] > 0 && counts[0] > 0);
    let greedy_ban = SamplingParams {
        logit_bias: vec![(2, -100.0)],
        ..SamplingParams::greedy()
    };
    assert_eq!(
        Sampler::new(&greedy_ban, 5)
            .sample(&mut logits.to_vec(), &[])
            .token,
        1
    );

    let force = SamplingParams {
        logit_bias: vec![(4, 100.0)],
        temperature: 2.0,
        seed: Some(1),
        ..params()
    };
    assert_eq!(histogram(&force, &logits, 5000)[4], 5000);
}

#[test]
fn penalties_change_the_choice_and_the_logits() {
    let mut s = Sampler::new(
        &SamplingParams {
            repetition_penalty: 1.1,
            ..SamplingParams::greedy()
        },
        3,
    );
    let mut l = vec![2.0f32, 1.9, -1.0];
    // 2.0 / 1.1 = 1.818 < 1.9 → token 1; -1.0 * 1.1 for the seen token 2.
    assert_eq!(s.sample(&mut l, &[0, 2]).token, 1);
    assert!((l[0] - 2.0 / 1.1).abs() < 1e-6 && l[1] == 1.9 && (l[2] + 1.1).abs() < 1e-6);

    let mut s = Sampler::new(
        &SamplingParams {
            frequency_penalty: 0.6,
            presence_penalty: 0.1,
            ..SamplingParams::greedy()
        },
        2,
    );
    let mut l = vec![1.0f32, 0.0];
    // Token 0 (seen twice): 1.0 - 2×0.6 - 0.1 = -0.3; token 1 (once): 0.0 - 0.6 - 0.1 = -0.7.
    assert_eq!(s.sample(&mut l, &[0, 1, 0]).token, 0);
    assert!((l[0] + 0.3).abs() < 1e-6 && (l[1] + 0.7).abs() < 1e-6);
    // With history [0, 0] only, token 1 is unpenalised and wins.
    let mut l = vec![1.0f32, 0.0];
    assert_eq!(s.sample(&mut l, &[0, 0]).token, 1);
}

#[test]
fn logprobs_are_log_softmax_of_penalised_logits_whatever_the_temperature() {
    let mut rng = Rng::from_seed(31);
    let raw = random_logits(&mut rng, 20, 4.0);
    let history = [3u32, 3, 7, 11];
    let base = SamplingParams {
        logit_bias: vec![(5, 2.5), (9, -1.0)],
        repetition_penalty: 1.3,
        frequency_penalty: 0.4,
        presence_penalty: 0.2,
        logprobs: Some(20),
        ..params()
    };
    // The penalised logits, computed here by hand.
    let mut pen = raw.clone();
    pen[5] += 2.5;
    pen[9] -= 1.0;
    for (t, count) in [(3usize, 2.0f32), (7, 1.0), (11, 1.0)] {
        pen[t] = if pen[t] <= 0.0 {
            pen[t] * 1.3
        } else {
            pen[t] / 1.3
        };
        pen[t] -= count * 0.4 + 0.2;
    }
    let want = log_softmax(&pen);
    for (temperature, top_k, top_p) in [
        (1.0f32, 0u32, 1.0f32),
        (0.3, 5, 0.8),
        (1.9, 0, 0.5),
        (0.0, 0, 1.0),
    ] {
        let p = SamplingParams {
            temperature,
            top_k,
            top_p,
            seed: Some(4),
            ..base.clone()
        };
        let mut s = Sampler::new(&p, 20);
        for _ in 0..20 {
            let out = s.sample(&mut raw.clone(), &history);
            let lp = out.logprob.unwrap_or(f32::NAN);
            assert!((f64::from(lp) - want[out.token as usize]).abs() < 1e-5);
            assert_eq!(out.top.len(), 20);
            // Sum to one: logsumexp over the whole vocabulary is 0.
            let total: f64 = out.top.iter().map(|&(_, l)| f64::from(l).exp()).sum();
            assert!((total.ln()).abs() < 1e-5, "log Σ p = {}", total.ln());
            for (i, &(id, l)) in out.top.iter().enumerate() {
                assert!((f64::from(l) - want[id as usize]).abs() < 1e-5);
                if let Some(&(_, next)) = out.top.get(i + 1) {
                    assert!(l >= next);
                }
            }
        }
    }
}

#[test]
fn top_logprobs_count_and_absence() {
    let logits = [0.1f32, 2.0, -1.0, 1.5];
    let mut s = Sampler::new(
        &SamplingParams {
            logprobs: Some(2),
            ..SamplingParams::greedy()
        },
        4,
    );
    let out = s.sample(&mut logits.to_vec(), &[]);
    assert_eq!(out.token, 1);
    assert_eq!(out.top.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(out.top.first().map(|t| t.1), out.logprob);

    let mut s = Sampler::new(
        &SamplingParams {
            logprobs: Some(0),
            ..SamplingParams::greedy()
        },
        4,
    );
    let out = s.sample(&mut logits.to_vec(), &[]);
    assert!(out.logprob.is_some() && out.top.is_empty());

    let mut s = Sampler::new(&SamplingParams::greedy(), 4);
    let out = s.sample(&mut logits.to_vec(), &[]);
    assert!(out.logprob.is_none() && out.top.is_empty());

    // A banned token in the top list reports -inf, and more than 20 is capped.
    let mut s = Sampler::new(
        &SamplingParams {
            logprobs: Some(200),
            ..SamplingParams::greedy()
        },
        4,
    );
    let out = s.sample(&mut [0.0, f32::NEG_INFINITY, 1.0, 0.5], &[]);
    assert_eq!(out.top.len(), 4);
    assert_eq!(out.top.last(), Some(&(1, f32::NEG_INFINITY)));
}

#[test]
fn choices_get_independent_streams() {
    let logits = vec![0.0f32; 50];
    let p = seeded(10);
    let run = |index: u32| -> Vec<u32> {
        let mut s = Sampler::for_choice(&p, 50, index);
        (0..100)
            .map(|_| s.sample(&mut logits.clone(), &[]).token)
            .collect()
    };
    let mut single = Sampler::new(&p, 50);
    let single: Vec<u32> = (0..100)
        .map(|_| single.sample(&mut logits.clone(), &[]).token)
        .collect();
    assert_eq!(run(0), single);
    let (a, b) = (run(1), run(2));
    assert_eq!(a, run(1));
    for other in [&single, &b] {
        let same = a.iter().zip(other).filter(|(x, y)| x == y).count();
        assert!(
            same < 20,
            "{same}/100 equal on a uniform 50-token vocabulary"
        );
    }
}

#[test]
fn padding_beyond_vocab_and_nan_are_never_sampled() {
    let mut logits = vec![0.0f32; 10];
    logits[9] = 50.0; // padding row past the 8-token vocabulary
    logits[3] = f32::NAN;
    let counts = {
        let mut s = Sampler::new(&seeded(3), 8);
        let mut c = [0usize; 10];
        for _ in 0..2000 {
            c[s.sample(&mut logits.clone(), &[]).token as usize] += 1;
        }
        c
    };
    assert_eq!(counts[3] + counts[8] + counts[9], 0);
    assert_eq!(counts.iter().sum::<usize>(), 2000);
    // Degenerate inputs do not panic.
    let mut s = Sampler::new(&seeded(3), 4);
    assert_eq!(s.sample(&mut [f32::NEG_INFINITY; 4], &[]).token, 0);
    assert_eq!(s.sample(&mut [], &[1, 2]).token, 0);
    assert_eq!(s.sample(&mut [0.0, f32::INFINITY, 0.0], &[]).token, 1);
}

#[test]
fn large_vocabulary_respects_the_reference_nucleus() {
    // 150k tokens: every draw with top_k = 40 and top_p = 0.9 lies in the nucleus computed
    // by a full sort.
    let n = 150_000;
    let mut rng = Rng::from_seed(123);
    let logits = random_logits(&mut rng, n, 12.0);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by(|&a, &b| {
        logits[b as usize]
            .total_cmp(&logits[a as usize])
            .then(a.cmp(&b))
    });
    let top40: Vec<f32> = order[..40].iter().map(|&i| logits[i as usize]).collect();
    let pr = softmax(&top40, 1.0);
    let mut cum = 0.0;
    let mut keep = 40;
    for (i, q) in pr.iter().enumerate() {
        cum += q;
        if cum >= 0.9 {
            keep = i + 1;
            break;
        }
    }
    let nucleus = &order[..keep];
    let p = SamplingParams {
        top_k: 40,
        top_p: 0.9,
        seed: Some(5),
        ..params()
    };
    let mut s = Sampler::new(&p, n);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..300 {
        let t = s.sample(&mut logits.clone(), &[]).token;
        assert!(nucleus.contains(&t), "{t} outside the nucleus of {keep}");
        seen.insert(t);
    }
    assert!(seen.len() > 1 || keep == 1);

    // top_p alone over the full vocabulary (exercises the threshold prefilter).
    let p = SamplingParams {
        top_p: 0.5,
        seed: Some(5),
        ..params()
    };
    let all: Vec<f32> = order.iter().map(|&i| logits[i as usize]).collect();
    let pr = softmax(&all, 1.0);
    let mut cum = 0.0;
    let mut keep = n;
    for (i, q) in pr.iter().enumerate() {
        cum += q;
        if cum >= 0.5 {
            keep = i + 1;
            break;
        }
    }
    let nucleus: std::collections::HashSet<u32> = order[..keep + 1].iter().copied().collect();
    let mut s = Sampler::new(&p, n);
    for _ in 0..100 {
        let t = s.sample(&mut logits.clone(), &[]).token;
        assert!(
            nucleus.contains(&t),
            "{t} outside the top-p 0.5 nucleus of {keep}"
        );
    }
}

#[test]
fn validate_reports_bad_fields_and_sampler_sanitises_them() {
    assert!(params().validate(10).is_ok());
    let cases = [
        SamplingParams {
            temperature: -1.0,
            ..params()
        },
        SamplingParams {
            temperature: f32::NAN,
            ..params()
        },
        SamplingParams {
            top_p: 0.0,
            ..params()
        },
        SamplingParams {
            min_p: 1.5,
            ..params()
        },
        SamplingParams {
            top_a: -0.1,
            ..params()
        },
        SamplingParams {
            repetition_penalty: 0.0,
            ..params()
        },
        SamplingParams {
            frequency_penalty: f32::INFINITY,
            ..params()
        },
        SamplingParams {
            logit_bias: vec![(10, 1.0)],
            ..params()
        },
        SamplingParams {
            logit_bias: vec![(1, f32::NAN)],
            ..params()
        },
        SamplingParams {
            logprobs: Some(21),
            ..params()
        },
    ];
    for bad in &cases {
        assert!(bad.validate(10).is_err(), "{bad:?} accepted");
        // The sampler still works on them and stays in the vocabulary.
        let mut s = Sampler::new(bad, 10);
        let t = s.sample(&mut [0.5; 10], &[1, 2, 2]).token;
        assert!(t < 10);
    }
    let s = Sampler::new(
        &SamplingParams {
            temperature: f32::NAN,
            logit_bias: vec![(1, 2.0), (10, 1.0), (2, f32::NAN)],
            logprobs: Some(99),
            ..params()
        },
        10,
    );
    assert_eq!(s.params().temperature, 1.0);
    assert_eq!(s.params().logit_bias, [(1, 2.0)]);
    assert_eq!(s.params().logprobs, Some(MAX_TOP_LOGPROBS));
}

/// Not a test of correctness: prints the per-token cost on a 150k vocabulary of random
/// logits spread uniformly over ±10 (flatter at the top than real models, so top-p keeps
/// ~17k tokens: a hard case)
/// (`cargo test -p switchyard-engine sampler -- --ignored --nocapture`).
#[test]
#[ignore]
fn speed_on_150k_vocabulary() {
    let n = 151_936;
    let mut rng = Rng::from_seed(1);
    let logits = random_logits(&mut rng, n, 10.0);
    let configs = [
        ("greedy", SamplingParams::greedy()),
        ("default T=1", seeded(1)),
        (
            "top_k 40 top_p 0.95 T 0.8",
            SamplingParams {
                top_k: 40,
                top_p: 0.95,
                temperature: 0.8,
                ..seeded(1)
            },
        ),
        (
            "top_p 0.9",
            SamplingParams {
                top_p: 0.9,
                ..seeded(1)
            },
        ),
        (
            "min_p 0.05",
            SamplingParams {
                min_p: 0.05,
                ..seeded(1)
            },
        ),
        (
            "logprobs 20 + penalties",
            SamplingParams {
                logprobs: Some(20),
                frequency_penalty: 0.5,
                repetition_penalty: 1.1,
                ..seeded(1)
            },
        ),
    ];
    let history: Vec<u32> = (0..512).map(|i| (i * 7919) % n as u32).collect();
    for (name, p) in configs {
        let mut s = Sampler::new(&p, n);
        let mut buf = logits.clone();
        // Best of 50 (the machine is shared); the copy of the logits is not timed.
        let best = (0..50)
            .map(|_| {
                buf.copy_from_slice(&logits);
                let start = std::time::Instant::now();
                std::hint::black_box(s.sample(&mut buf, &history));
                start.elapsed()
            })
            .min()
            .unwrap_or_default();
        eprintln!("{name:28} {best:?} per token");
    }
}
