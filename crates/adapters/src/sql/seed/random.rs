//! The random shapes of the data: skewed popularity, heavy-tailed shares, distinct
//! draws.

use std::collections::HashSet;

use rand::{Rng, rngs::StdRng};

use super::{to_u64, to_usize};

/// Zipf-like popularity over `0..n`: item `k` is drawn in proportion to `1 / (k+1)^s`.
pub(super) struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub(super) fn new(n: u64, s: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|k| {
                total += 1.0 / ((k + 1) as f64).powf(s);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    pub(super) fn sample(&self, rng: &mut StdRng) -> u64 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.random::<f64>() * total;
        let k = self.cumulative.partition_point(|c| *c <= target);
        to_u64(k.min(self.cumulative.len().saturating_sub(1)))
    }
}

/// A heavy-tailed weight per item (Pareto with shape `alpha`): most items get little,
/// a few get a lot.
pub(super) fn pareto_weights(rng: &mut StdRng, n: u64, alpha: f64) -> Vec<f64> {
    (0..n)
        .map(|_| (1.0 - rng.random::<f64>()).powf(-1.0 / alpha).min(10_000.0))
        .collect()
}

/// Splits `total` among items in proportion to `weights`, at most `cap` each, summing to
/// exactly `total` (the caller made sure `total <= cap * items`).
pub(super) fn allocate(rng: &mut StdRng, total: u64, weights: &[f64], cap: u64) -> Vec<u32> {
    let cap = cap.min(u64::from(u32::MAX));
    let mut counts = vec![0u32; weights.len()];
    if total == 0 || weights.is_empty() {
        return counts;
    }
    let sum: f64 = weights.iter().sum();
    let mut given = 0u64;
    for (count, weight) in counts.iter_mut().zip(weights) {
        let share = ((total as f64) * weight / sum).floor() as u64;
        let share = share.min(cap).min(total - given);
        *count = u32::try_from(share).unwrap_or(u32::MAX);
        given += share;
    }
    // The rounding left-overs go one by one to random items with room...
    let len = to_u64(counts.len());
    let mut attempts = 0;
    while given < total && attempts < 4 * len + 1_000 {
        attempts += 1;
        let i = to_usize(rng.random_range(0..len));
        if u64::from(counts[i]) < cap {
            counts[i] += 1;
            given += 1;
        }
    }
    // ...and what still remains (caps hit) to whoever has room.
    for count in &mut counts {
        if given == total {
            break;
        }
        let more = (cap - u64::from(*count)).min(total - given);
        *count += u32::try_from(more).unwrap_or(0);
        given += more;
    }
    counts
}

pub(super) fn counts_at(counts: &[u32], index: u64) -> u64 {
    counts.get(to_usize(index)).copied().map_or(0, u64::from)
}

/// `k` distinct numbers below `n`, uniformly (Floyd's algorithm), in a reproducible
/// order.
pub(super) fn distinct_uniform(rng: &mut StdRng, n: u64, k: u64) -> Vec<u64> {
    let k = k.min(n);
    let mut seen = HashSet::with_capacity(to_usize(k));
    let mut chosen = Vec::with_capacity(to_usize(k));
    for j in (n - k)..n {
        let t = rng.random_range(0..=j);
        let pick = if seen.insert(t) { t } else { j };
        seen.insert(pick);
        chosen.push(pick);
    }
    chosen
}

/// `k` distinct numbers below `n` drawn from `popularity`, never `except`; once
/// popularity keeps repeating itself, uniformly.
pub(super) fn distinct_skewed(
    rng: &mut StdRng,
    popularity: &Zipf,
    n: u64,
    k: u64,
    except: Option<u64>,
) -> Vec<u64> {
    let room = n - u64::from(except.is_some_and(|e| e < n));
    let k = k.min(room);
    let mut seen = HashSet::with_capacity(to_usize(k));
    let mut chosen = Vec::with_capacity(to_usize(k));
    let mut attempts = 0;
    while to_u64(chosen.len()) < k {
        attempts += 1;
        let candidate = if attempts <= 8 * k + 32 {
            popularity.sample(rng)
        } else {
            rng.random_range(0..n)
        };
        if Some(candidate) != except && seen.insert(candidate) {
            chosen.push(candidate);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn allocations_sum_exactly_and_respect_the_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        let weights = pareto_weights(&mut rng, 1_000, 1.3);
        for (total, cap) in [(5_000, 50), (0, 10), (10_000, 10), (1, 1)] {
            let counts = allocate(&mut rng, total, &weights, cap);
            assert_eq!(counts.iter().map(|c| u64::from(*c)).sum::<u64>(), total);
            assert!(counts.iter().all(|c| u64::from(*c) <= cap));
        }
    }

    #[test]
    fn distinct_draws_are_distinct_and_skip_the_excluded() {
        let mut rng = StdRng::seed_from_u64(1);
        let zipf = Zipf::new(10, 1.0);
        for k in 0..=9 {
            let drawn = distinct_skewed(&mut rng, &zipf, 10, k, Some(3));
            assert_eq!(drawn.len() as u64, k);
            assert!(!drawn.contains(&3));
            assert_eq!(drawn.iter().collect::<HashSet<_>>().len() as u64, k);
            let uniform = distinct_uniform(&mut rng, 10, k);
            assert_eq!(uniform.iter().collect::<HashSet<_>>().len() as u64, k);
            assert!(uniform.iter().all(|u| *u < 10));
        }
    }
}
