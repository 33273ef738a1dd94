//! Candidate selection (top-k, top-p, min-p, top-a), the temperature and the draw.
//!
//! None of these sorts the whole vocabulary: a small top-k is one pass with a short sorted
//! list, a large one a linear-time selection; top-p first keeps only a rank prefix of tokens
//! that provably holds enough mass (found with a logit threshold) and sorts just that; min-p
//! and top-a are single threshold passes.
//!
//! Candidate lists are always in a canonical order (increasing id, or decreasing logit with
//! ties to the lower id), so a seed picks the same token whatever the sort algorithm.

use std::cmp::Ordering;

use super::math;
use super::rng::Rng;

/// A token still in the running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cand {
    pub id: u32,
    pub logit: f32,
}

/// Rank order: higher logit first, ties to the lower id. A total order (no NaN reaches it,
/// and −0 is stored as +0).
fn rank(a: &Cand, b: &Cand) -> Ordering {
    b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id))
}

/// Whether a logit can be drawn at all (NaN and −∞ cannot).
fn viable(l: f32) -> bool {
    l > f32::NEG_INFINITY
}

/// The arg-max of `logits`, ties to the lowest id; 0 when nothing is viable. Two fast passes
/// (a vectorised maximum, then the first position holding it).
pub(crate) fn argmax(logits: &[f32]) -> u32 {
    let m = math::max(logits);
    if !viable(m) {
        return 0;
    }
    math::first_equal(logits, m).unwrap_or(0) as u32
}

/// Every viable token of `logits`, in id order. (`+ 0.0` turns −0 into +0 so that the
/// rank order agrees with `==` on ties.)
pub(crate) fn gather(logits: &[f32], out: &mut Vec<Cand>) {
    out.clear();
    if logits.iter().all(|&l| viable(l)) {
        // The usual case: a straight copy, which the compiler vectorises.
        out.extend(logits.iter().enumerate().map(|(i, &l)| Cand {
            id: i as u32,
            logit: l + 0.0,
        }));
        return;
    }
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

/// The viable tokens of `logits` with a logit ≥ `floor`, in id order.
pub(crate) fn gather_above(logits: &[f32], floor: f32, out: &mut Vec<Cand>) {
    out.clear();
    out.extend(
        logits
            .iter()
            .enumerate()
            .filter(|(_, l)| viable(**l) && **l >= floor)
            .map(|(i, &l)| Cand {
                id: i as u32,
                logit: l + 0.0,
            }),
    );
}

/// The `k` highest logits in rank order (ties to the lower id), skipping NaN; −∞ entries
/// appear only when fewer than `k` others exist. One pass over the vocabulary keeping a
/// short sorted list, so it suits small `k`. `out` is cleared first.
pub(crate) fn top_n(logits: &[f32], k: usize, out: &mut Vec<Cand>) {
    out.clear();
    if k == 0 {
        return;
    }
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() {
            continue;
        }
        // Full and not strictly better than the current k-th: skip (ties keep the lower id).
        if out.len() == k && out.last().is_some_and(|c| l <= c.logit) {
            continue;
        }
        // Insert after every entry with a logit ≥ l (they have lower ids).
        let pos = out.partition_point(|c| c.logit >= l);
        if out.len() == k {
            out.pop();
        }
        out.insert(
            pos,
            Cand {
                id: i as u32,
                logit: l + 0.0,
            },
        );
    }
}

/// Up to this `k`, top-k uses [`top_n`]; beyond it a linear-time selection.
const TOP_K_LIST_MAX: usize = 256;

/// Top-k straight from the logits: the `k` best viable tokens in rank order (`k == 0` or
/// `k ≥` the number of viable tokens: all of them, in id order).
pub(crate) fn gather_top_k(logits: &[f32], k: usize, out: &mut Vec<Cand>) {
    if k > 0 && k <= TOP_K_LIST_MAX {
        top_n(logits, k, out);
        out.retain(|c| viable(c.logit));
        return;
    }
    gather(logits, out);
    if k == 0 || k >= out.len() {
        return;
    }
    out.select_nth_unstable_by(k - 1, rank);
    out.truncate(k);
    out.sort_unstable_by(rank);
}

fn max_logit(c: &[Cand]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = c.chunks_exact(8);
    for ch in &mut chunks {
        for (m, x) in lanes.iter_mut().zip(ch) {
            *m = if x.logit > *m { x.logit } else { *m };
        }
    }
    let rest = chunks.remainder().iter().map(|x| x.logit);
    lanes
        .into_iter()
        .chain(rest)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// Candidate lists longer than this use the bucketed top-p instead of sorting them all.
const TOP_P_SORT_MAX: usize = 512;
/// Number of logit buckets of the bucketed top-p.
const TOP_P_BUCKETS: usize = 1024;

/// Nucleus truncation: keeps the shortest rank prefix whose probability (normalised over the
/// current candidates) reaches `p`; the token that crosses `p` is kept, and at least one
/// token always is. `p ≥ 1`: no change.
///
/// Long lists are not sorted. Tokens more than `D = ln(len / (1 − p))` below the top weigh
/// less than `e^-D` each (the top weighs 1 and the total `z ≥ 1`), so together less than
/// `(1 − p)·z`: the nucleus lies within `D` of the top. That range is cut into buckets by
/// logit; one pass sums each bucket's mass, the bucket where the running mass crosses `p·z`
/// is found, and only its tokens are sorted to find the crossing token. The survivors keep
/// their order (id order or rank order, both canonical).
pub(crate) fn top_p(c: &mut Vec<Cand>, p: f32, weights: &mut math::Weights) {
    if p >= 1.0 || c.len() <= 1 {
        return;
    }
    let m = max_logit(c);
    weights.compute_cands(c, m);
    let target = f64::from(p) * weights.total;

    if c.len() <= TOP_P_SORT_MAX {
        c.sort_unstable_by(rank);
        let mut cum = 0.0f64;
        for (i, x) in c.iter().enumerate() {
            cum += f64::from(math::exp(x.logit - m)); // the same values as `weights`
            if cum >= target {
                c.truncate(i + 1);
                return;
            }
        }
        return; // rounding left the sum a hair under the target: keep everything
    }

    let depth = ((c.len() as f64 / (1.0 - f64::from(p))).ln() + 1e-3) as f32;
    let per_unit = TOP_P_BUCKETS as f32 / depth;
    // Bucket TOP_P_BUCKETS collects everything deeper than `depth`. Branch-free: the
    // cast saturates and d ≥ 0.
    let bucket = |l: f32| ((m - l) * per_unit).min(TOP_P_BUCKETS as f32) as usize;
    let mut masses = [0.0f64; TOP_P_BUCKETS + 1];
    for (x, &w) in c.iter().zip(&weights.w) {
        if let Some(slot) = masses.get_mut(bucket(x.logit)) {
            *slot += f64::from(w);
        }
    }
    let mut before = 0.0f64;
    let mut b_star = None;
    for (b, &bm) in masses.iter().enumerate() {
        if bm > 0.0 {
            b_star = Some(b);
            if before + bm >= target {
                break;
            }
        }
        before += bm;
    }
    let Some(b_star) = b_star else {
        return; // every weight is 0: nothing to choose between
    };
    if before >= target {
        // Rounding: the buckets' sum fell a hair under the target; the last non-empty
        // bucket is taken whole.
        before -= masses.get(b_star).copied().unwrap_or(0.0);
    }
    let mut inside: Vec<Cand> = c
        .iter()
        .copied()
        .filter(|x| bucket(x.logit) == b_star)
        .collect();
    inside.sort_unstable_by(rank);
    let mut cum = before;
    let mut last = inside.last().copied();
    for x in &inside {
        cum += f64::from(math::exp(x.logit - m));
        if cum >= target {
            last = Some(*x);
            break;
        }
    }
    if let Some(last) = last {
        // Keep every token ranked at or before the crossing one.
        retain(c, |x| {
            x.logit > last.logit || (x.logit == last.logit && x.id <= last.id)
        });
    }
}

/// `Vec::retain` without a data-dependent branch per element (the kept set is often a
/// random-looking subset, which a branch would mispredict).
fn retain(c: &mut Vec<Cand>, mut keep: impl FnMut(&Cand) -> bool) {
    let mut w = 0usize;
    for r in 0..c.len() {
        let Some(&x) = c.get(r) else { break };
        if let Some(slot) = c.get_mut(w) {
            *slot = x;
        }
        w += usize::from(keep(&x));
    }
    c.truncate(w);
}

/// Min-p: drops tokens whose probability is below `min_p` × the top token's, i.e. whose
/// logit is below `max + ln(min_p)`. The top token always stays. `min_p ≤ 0`: no change.
pub(crate) fn min_p(c: &mut Vec<Cand>, min_p: f32) {
    if min_p <= 0.0 || c.len() <= 1 {
        return;
    }
    let m = max_logit(c);
    let thr = m + min_p.min(1.0).ln();
    retain(c, |x| x.logit >= thr);
}

/// Top-a: drops tokens whose probability (normalised over the current candidates) is below
/// `a × p_max²`. With weights `w = exp(l − max)` (so `w_max = 1`, `p = w / z`) that is
/// `w < a / z`. The top token always stays since `a ≤ 1 ≤ z`. `a ≤ 0`: no change.
pub(crate) fn top_a(c: &mut Vec<Cand>, a: f32, weights: &mut math::Weights) {
    if a <= 0.0 || c.len() <= 1 {
        return;
    }
    let m = max_logit(c);
    weights.compute_cands(c, m);
    let thr = f64::from(a.min(1.0)) / weights.total;
    let thr = thr as f32;
    let mut i = 0usize;
    let w = &weights.w;
    retain(c, |_| {
        let keep = w.get(i).is_some_and(|&w| w >= thr);
        i += 1;
        keep
    });
}

/// Draws an index of `logits` with probability ∝ `exp((l − max) / temperature)`: one
/// uniform from `rng` (always consumed, so the stream advances one step per token) picks the
/// entry where the running sum of weights, in list order, passes it. NaN and −∞ logits have
/// weight 0. Returns `None` when no entry has positive weight (the caller falls back to
/// greedy). `weights` is a reusable buffer.
pub(crate) fn draw_index(
    logits: &[f32],
    temperature: f32,
    rng: &mut Rng,
    weights: &mut math::Weights,
) -> Option<usize> {
    let u = rng.next_f64();
    let m = math::max(logits);
    if !m.is_finite() {
        return None;
    }
    weights.compute(logits, m, 1.0 / temperature);
    if weights.total.is_nan() || weights.total <= 0.0 {
        return None;
    }
    weights.find(u * weights.total)
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
        assert_eq!(argmax(&[]), 0);
        let long: Vec<f32> = (0..1001).map(|i| ((i * 7) % 13) as f32).collect();
        assert_eq!(argmax(&long), 11); // the first index holding 12.0 (7 × 11 mod 13)
    }

    #[test]
    fn gather_drops_unviable_tokens() {
        let c = cands(&[1.0, f32::NEG_INFINITY, f32::NAN, -2.0]);
        assert_eq!(ids(&c), [0, 3]);
    }

    fn top_k(l: &[f32], k: usize) -> Vec<u32> {
        let mut c = Vec::new();
        gather_top_k(l, k, &mut c);
        ids(&c)
    }

    #[test]
    fn top_k_keeps_k_best_with_ties_to_lower_id() {
        let l = [0.1, 0.9, 0.5, 0.9, f32::NAN, 0.3, f32::NEG_INFINITY];
        assert_eq!(top_k(&l, 3), [1, 3, 2]);
        assert_eq!(top_k(&l, 1), [1]);
        assert_eq!(top_k(&l, 0), [0, 1, 2, 3, 5]);
        assert_eq!(top_k(&l, 6), [1, 3, 2, 5, 0]);
        assert_eq!(top_k(&l, 100), [1, 3, 2, 5, 0]);
        assert_eq!(top_k(&[-0.0, 0.0, -1.0], 1), [0]);
    }

    #[test]
    fn top_k_list_and_selection_paths_agree_with_full_sort() {
        let mut rng = Rng::from_seed(3);
        // Few distinct values, so there are many ties.
        let l: Vec<f32> = (0..5000)
            .map(|_| ((rng.next_u64() % 200) as f32) / 10.0 - 10.0)
            .collect();
        let mut all = cands(&l);
        all.sort_by(rank);
        for k in [1, 20, TOP_K_LIST_MAX, TOP_K_LIST_MAX + 1, 1000, 4999] {
            assert_eq!(top_k(&l, k), ids(&all[..k]), "k = {k}");
        }
    }

    #[test]
    fn top_n_orders_and_breaks_ties_to_lower_id() {
        let l = [1.0f32, 5.0, 3.0, 5.0, f32::NAN, 4.0, 3.0];
        let mut out = Vec::new();
        top_n(&l, 4, &mut out);
        assert_eq!(ids(&out), [1, 3, 5, 2]);
        top_n(&l, 0, &mut out);
        assert!(out.is_empty());
        top_n(&l, 20, &mut out);
        assert_eq!(ids(&out), [1, 3, 5, 2, 6, 0]);
    }

    #[test]
    fn top_p_known_answers() {
        // p = [0.5, 0.25, 0.125, 0.125] via logits ln p.
        let l: Vec<f32> = [0.5f32, 0.25, 0.125, 0.125]
            .iter()
            .map(|p| p.ln())
            .collect();
        let run = |p: f32| {
            let mut c = cands(&l);
            top_p(&mut c, p, &mut math::Weights::default());
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
    fn top_p_buckets_agree_with_full_sort() {
        let mut rng = Rng::from_seed(11);
        // (spread, p, quantum): quantum > 0 rounds logits to multiples of it (many ties).
        for (spread, p, quantum) in [
            (1.0f32, 0.9f32, 0.0f32),
            (5.0, 0.95, 0.0),
            (0.1, 0.5, 0.0),
            (20.0, 0.99, 0.0),
            (3.0, 0.2, 0.0),
            (8.0, 0.7, 0.0),
            (4.0, 0.6, 0.25),
            (0.5, 0.3, 0.1),
            (0.0, 0.5, 0.0), // flat: everything in one bucket
        ] {
            let l: Vec<f32> = (0..20_000)
                .map(|_| {
                    let x = (rng.next_f64() as f32 - 0.5) * 2.0 * spread;
                    if quantum > 0.0 {
                        (x / quantum).round() * quantum
                    } else {
                        x
                    }
                })
                .collect();
            let mut fast = cands(&l);
            top_p(&mut fast, p, &mut math::Weights::default());
            fast.sort_by(rank);
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
            assert!(
                diff <= 1,
                "spread {spread} p {p} q {quantum}: {} vs {keep}",
                fast.len()
            );
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
            top_a(&mut c, a, &mut math::Weights::default());
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
        let mut w = math::Weights::default();
        let mut rng = Rng::from_seed(1);
        let mut seen = [0usize; 3];
        for _ in 0..1000 {
            let i = draw_index(&l, 1.0, &mut rng, &mut w);
            seen[i.unwrap_or(99)] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(seen[0] > 400 && seen[2] > 400, "{seen:?}");
        let none = draw_index(&[f32::NEG_INFINITY; 2], 1.0, &mut rng, &mut w);
        assert_eq!(none, None);
    }
}
