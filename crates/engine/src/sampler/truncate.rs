//! Candidate selection (top-k, top-p, min-p, top-a), the temperature and the draw.
//!
//! None of these sorts the whole vocabulary: top-k uses a linear-time selection, top-p
//! first keeps only a rank prefix of tokens that provably holds enough mass (found with a
//! logit threshold) and sorts just that, and min-p and top-a are single threshold passes.
//!
//! Candidate lists are always in a canonical order (increasing id, or decreasing logit with
//! ties to the lower id), so a seed picks the same token whatever the sort algorithm.

use std::cmp::Ordering;

use super::rng::Rng;

/// A token still in the running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cand {
    pub id: u32,
    pub logit: f32,
}

/// Rank order: higher logit first, ties to the lower id. A total order (no NaN reaches it).
fn rank(a: &Cand, b: &Cand) -> Ordering {
    b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id))
}

/// Whether a logit can be drawn at all (NaN and −∞ cannot).
fn viable(l: f32) -> bool {
    l > f32::NEG_INFINITY
}

/// The arg-max of `logits`, ties to the lowest id; 0 when nothing is viable. One pass.
pub(crate) fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_logit = f32::NEG_INFINITY;
    for (i, &l) in logits.iter().enumerate() {
        if l > best_logit {
            best_logit = l;
            best = i;
        }
    }
    best as u32
}

/// Every viable token of `logits`, in id order. (`+ 0.0` turns −0 into +0 so that the
/// rank order agrees with `>` on ties.)
pub(crate) fn gather(logits: &[f32], out: &mut Vec<Cand>) {
    out.clear();
    out.extend(
        logits
            .iter()
            .enumerate()
            .filter(|(_, l)| viable(**l))
            .map(|(i, &l)| Cand {
                id: i as u32,
                logit: l + 0.0,
            }),
    );
}

fn max_logit(c: &[Cand]) -> f32 {
    c.iter().map(|x| x.logit).fold(f32::NEG_INFINITY, f32::max)
}

/// Keeps the `k` highest-ranked candidates (`k == 0` or `k ≥ len`: no change). Linear-time
/// selection, then the survivors are sorted by rank (they are few in practice).
pub(crate) fn top_k(c: &mut Vec<Cand>, k: usize) {
    if k == 0 || k >= c.len() {
        return;
    }
    c.select_nth_unstable_by(k - 1, rank);
    c.truncate(k);
    c.sort_unstable_by(rank);
}

/// Candidate lists longer than this use the threshold prefilter before sorting for top-p.
const TOP_P_PREFILTER_MIN: usize = 512;

/// Nucleus truncation: sorts by rank and keeps the shortest prefix whose probability
/// (normalised over the current candidates) reaches `p`; the token that crosses `p` is
/// kept, and at least one token always is. `p ≥ 1`: no change.
pub(crate) fn top_p(c: &mut Vec<Cand>, p: f32) {
    if p >= 1.0 || c.len() <= 1 {
        return;
    }
    let m = max_logit(c);
    let z: f64 = c.iter().map(|x| f64::from((x.logit - m).exp())).sum();
    let target = f64::from(p) * z;

    if c.len() > TOP_P_PREFILTER_MIN {
        // Tokens more than `d` below the top have weight < e^-d each (the top has weight 1
        // and z ≥ 1). With d = ln(len / (1 − p)) everything below holds < (1 − p)·z in
        // total, so the tokens above hold ≥ p·z and contain the nucleus. Cheaper, tighter
        // thresholds are tried first and used when their mass already suffices.
        let len = c.len() as f64;
        let guaranteed = (len / (1.0 - f64::from(p))).ln() + 1e-3;
        let mut chosen = guaranteed;
        for d in [2.0f64, 4.0, 8.0, 16.0] {
            if d >= guaranteed {
                break;
            }
            let thr = m - d as f32;
            let mass: f64 = c
                .iter()
                .filter(|x| x.logit >= thr)
                .map(|x| f64::from((x.logit - m).exp()))
                .sum();
            if mass >= target {
                chosen = d;
                break;
            }
        }
        let thr = m - chosen as f32;
        c.retain(|x| x.logit >= thr);
    }

    c.sort_unstable_by(rank);
    let mut cum = 0.0f64;
    for (i, x) in c.iter().enumerate() {
        cum += f64::from((x.logit - m).exp());
        if cum >= target {
            c.truncate(i + 1);
            return;
        }
    }
    // Rounding left the sum a hair under the target: keep everything collected.
}

/// Min-p: drops tokens whose probability is below `min_p` × the top token's, i.e. whose
/// logit is below `max + ln(min_p)`. The top token always stays. `min_p ≤ 0`: no change.
pub(crate) fn min_p(c: &mut Vec<Cand>, min_p: f32) {
    if min_p <= 0.0 || c.len() <= 1 {
        return;
    }
    let m = max_logit(c);
    let thr = m + min_p.min(1.0).ln();
    c.retain(|x| x.logit >= thr);
}

/// Top-a: drops tokens whose probability (normalised over the current candidates) is below
/// `a × p_max²`. With weights `w = exp(l − max)` (so `w_max = 1`, `p = w / z`) that is
/// `w < a / z`. The top token always stays since `a ≤ 1 ≤ z`. `a ≤ 0`: no change.
pub(crate) fn top_a(c: &mut Vec<Cand>, a: f32) {
    if a <= 0.0 || c.len() <= 1 {
        return;
    }
    let m = max_logit(c);
    let z: f64 = c.iter().map(|x| f64::from((x.logit - m).exp())).sum();
    let thr = f64::from(a.min(1.0)) / z;
    c.retain(|x| f64::from((x.logit - m).exp()) >= thr);
}

/// Draws an index in `0..n` with probability ∝ `exp((logit_at(i) − max) / temperature)`,
/// walking the entries in index order with one uniform from `rng`. NaN and −∞ logits have
/// weight 0. Returns `None` when no entry has positive weight (the caller falls back to
/// greedy). `weights` is a reusable buffer.
pub(crate) fn draw_index(
    n: usize,
    logit_at: impl Fn(usize) -> f32,
    temperature: f32,
    rng: &mut Rng,
    weights: &mut Vec<f32>,
) -> Option<usize> {
    let m = (0..n).map(&logit_at).fold(f32::NEG_INFINITY, f32::max);
    if !m.is_finite() {
        return None;
    }
    weights.clear();
    let mut total = 0.0f64;
    for i in 0..n {
        let d = (logit_at(i) - m) / temperature;
        let w = if d.is_nan() { 0.0 } else { d.exp() };
        weights.push(w);
        total += f64::from(w);
    }
    // Always consume the uniform, so the stream advances one step per sampled token.
    let u = rng.next_f64() * total;
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let mut cum = 0.0f64;
    let mut last_positive = None;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            cum += f64::from(w);
            last_positive = Some(i);
            if u < cum {
                return Some(i);
            }
        }
    }
    last_positive
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(logits: &[f32]) -> Vec<Cand> {
        let mut c = Vec::new();
        gather(logits, &mut c);
        c
    }

    fn ids(c: &[Cand]) -> Vec<u32> {
        c.iter().map(|x| x.id).collect()
    }

    fn probs(l: &[f32]) -> Vec<f64> {
        let z: f64 = l.iter().map(|&x| f64::from(x).exp()).sum();
        l.iter().map(|&x| f64::from(x).exp() / z).collect()
    }

    #[test]
    fn argmax_ties_to_lowest_and_skips_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.5, f32::NAN, 0.5]), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
        assert_eq!(argmax(&[-0.0, 0.0]), 0);
    }

    #[test]
    fn gather_drops_unviable_tokens() {
        let c = cands(&[1.0, f32::NEG_INFINITY, f32::NAN, -2.0]);
        assert_eq!(ids(&c), [0, 3]);
    }

    #[test]
    fn top_k_keeps_k_best_with_ties_to_lower_id() {
        let mut c = cands(&[0.1, 0.9, 0.5, 0.9, 0.3]);
        top_k(&mut c, 3);
        assert_eq!(ids(&c), [1, 3, 2]);
        let mut c = cands(&[0.1, 0.9, 0.5, 0.9, 0.3]);
        top_k(&mut c, 1);
        assert_eq!(ids(&c), [1]);
        let mut c = cands(&[0.1, 0.9]);
        top_k(&mut c, 0);
        assert_eq!(ids(&c), [0, 1]);
    }

    #[test]
    fn top_p_known_answers() {
        // p = [0.5, 0.25, 0.125, 0.125] via logits ln p.
        let l: Vec<f32> = [0.5f32, 0.25, 0.125, 0.125].iter().map(|p| p.ln()).collect();
        let run = |p: f32| {
            let mut c = cands(&l);
            top_p(&mut c, p);
            ids(&c)
        };
        assert_eq!(run(0.01), [0]);
        assert_eq!(run(0.49), [0]); // the first token alone reaches 0.49
        assert_eq!(run(0.51), [0, 1]);
        assert_eq!(run(0.74), [0, 1]);
        assert_eq!(run(0.76), [0, 1, 2]);
        assert_eq!(run(1.0).len(), 4);
    }

    #[test]
    fn top_p_prefilter_agrees_with_full_sort() {
        let mut rng = Rng::from_seed(11);
        for (spread, p) in [(1.0f32, 0.9f32), (5.0, 0.95), (0.1, 0.5), (20.0, 0.99), (3.0, 0.2)] {
            let l: Vec<f32> = (0..20_000)
                .map(|_| (rng.next_f64() as f32 - 0.5) * 2.0 * spread)
                .collect();
            let mut fast = cands(&l);
            top_p(&mut fast, p);
            // Reference: full sort, then the same walk.
            let mut all = cands(&l);
            all.sort_by(rank);
            let pr = probs(&all.iter().map(|x| x.logit).collect::<Vec<_>>());
            let mut cum = 0.0;
            let mut keep = all.len();
            for (i, q) in pr.iter().enumerate() {
                cum += q;
                if cum >= f64::from(p) {
                    keep = i + 1;
                    break;
                }
            }
            // Summation order differs; allow the boundary to move by one token.
            let diff = fast.len().abs_diff(keep);
            assert!(diff <= 1, "spread {spread} p {p}: {} vs {keep}", fast.len());
            let n = fast.len().min(keep);
            assert_eq!(ids(&fast[..n]), ids(&all[..n]));
        }
    }

    #[test]
    fn min_p_known_answers() {
        // Probabilities 0.5, 0.3, 0.15, 0.05: min_p 0.25 keeps p ≥ 0.125 → first three.
        let l: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
        let mut c = cands(&l);
        min_p(&mut c, 0.25);
        assert_eq!(ids(&c), [0, 1, 2]);
        let mut c = cands(&l);
        min_p(&mut c, 0.61);
        assert_eq!(ids(&c), [0]);
        let mut c = cands(&l);
        min_p(&mut c, 1.0);
        assert_eq!(ids(&c), [0]);
        let mut c = cands(&l);
        min_p(&mut c, 0.0);
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn top_a_known_answers() {
        // p_max = 0.5, so the bar is a × 0.25.
        let l: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
        let run = |a: f32| {
            let mut c = cands(&l);
            top_a(&mut c, a);
            ids(&c)
        };
        assert_eq!(run(0.19), [0, 1, 2, 3]); // bar 0.0475
        assert_eq!(run(0.21), [0, 1, 2]); // bar 0.0525
        assert_eq!(run(0.5), [0, 1, 2]); // bar 0.125
        assert_eq!(run(1.0), [0, 1]); // bar 0.25
        assert_eq!(run(0.0), [0, 1, 2, 3]);
    }

    #[test]
    fn draw_walks_weights() {
        let l = [0.0f32, f32::NEG_INFINITY, 0.0];
        let mut w = Vec::new();
        let mut rng = Rng::from_seed(1);
        let mut seen = [0usize; 3];
        for _ in 0..1000 {
            let i = draw_index(3, |i| l[i], 1.0, &mut rng, &mut w);
            seen[i.unwrap_or(99)] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(seen[0] > 400 && seen[2] > 400, "{seen:?}");
        let none = draw_index(2, |_| f32::NEG_INFINITY, 1.0, &mut rng, &mut w);
        assert_eq!(none, None);
    }
}
