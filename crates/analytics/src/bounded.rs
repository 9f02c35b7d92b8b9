//! Summaries of unbounded streams in bounded memory: a uniform sample, the most used keys, and a
//! series thinned by merging neighbours.
//!
//! - [`Reservoir`]: a uniform random sample of at most `cap` items (Vitter's Algorithm R with a
//!   seeded SplitMix64 generator, so a report is reproducible);
//! - [`TopK`]: the keys with the largest counts, by the Space-Saving algorithm (Metwally, Agrawal
//!   and El Abbadi 2005): at most `cap` counters; a new key takes over the smallest counter, so
//!   every key whose true count exceeds `n / cap` is kept, with its count overestimated by at most
//!   the count it inherited ([`TopK::entries`] returns that bound); the smallest counter is found
//!   with a lazily refreshed min-heap, `O(log cap)` per item;
//! - [`Thinned`]: a series of at most `cap` points; when full, neighbours merge in pairs (their
//!   mean value, the first's time, the last's run number), so a long history becomes a series of
//!   block means of equal length.
//!
//! Written by hand: each is a screenful, and the crates that offer one of them carry no payload per
//! key (file bytes, run numbers) or no seed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

use crate::trends::TrendPoint;

/// SplitMix64: a small, seeded, statistically sound generator for sampling decisions (and for
/// synthetic data in benchmarks).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift (bias below 2^-32 for the sizes used here).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// A uniform random sample of at most `cap` items of a stream. See the module docs.
#[derive(Debug, Clone)]
pub struct Reservoir<T> {
    cap: usize,
    seen: u64,
    items: Vec<T>,
    rng: SplitMix64,
}

impl<T> Reservoir<T> {
    /// An empty reservoir keeping at most `cap` items, sampling with `seed`.
    pub fn new(cap: usize, seed: u64) -> Self {
        Reservoir {
            cap,
            seen: 0,
            items: Vec::new(),
            rng: SplitMix64(seed),
        }
    }

    /// Offers one item: kept with probability `cap / seen`.
    pub fn push(&mut self, item: T) {
        self.offer(|| item);
    }

    /// Offers one item made by `make` only when it is kept (most offers are not, once the
    /// reservoir is full: no copy is made for them).
    pub fn offer(&mut self, make: impl FnOnce() -> T) {
        self.seen += 1;
        if self.items.len() < self.cap {
            self.items.push(make());
        } else if self.cap > 0 {
            let j = self.rng.below(self.seen) as usize;
            if j < self.cap {
                self.items[j] = make();
            }
        }
    }

    /// Items offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The sample (in no particular order).
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// The sample, consumed.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}

/// The keys with the largest counts in a stream, each with a payload. See the module docs.
///
/// The smallest counter is found with a min-heap holding one entry per tracked key; an entry is
/// refreshed lazily (counts only grow: a popped entry whose count is stale goes back with the
/// current count), so each operation costs `O(log cap)` amortised.
#[derive(Debug, Clone)]
pub struct TopK<K, V> {
    cap: usize,
    evictions: u64,
    entries: HashMap<K, (u64, u64, V)>,
    heap: BinaryHeap<Reverse<(u64, K)>>,
}

impl<K: Hash + Eq + Ord + Clone, V> TopK<K, V> {
    /// An empty summary with at most `cap` counters.
    pub fn new(cap: usize) -> Self {
        TopK {
            cap: cap.max(1),
            evictions: 0,
            entries: HashMap::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Counts `key` once and lets `update` change its payload (`fresh` makes the payload of a key
    /// not tracked yet; a key taking over a counter starts from a fresh payload).
    pub fn add(&mut self, key: &K, fresh: impl FnOnce() -> V, update: impl FnOnce(&mut V)) {
        if let Some(e) = self.entries.get_mut(key) {
            e.0 += 1;
            update(&mut e.2);
            return;
        }
        let mut inherited = 0;
        if self.entries.len() >= self.cap {
            inherited = self.evict_smallest();
        }
        let mut v = fresh();
        update(&mut v);
        self.entries.insert(key.clone(), (inherited + 1, inherited, v));
        self.heap.push(Reverse((inherited + 1, key.clone())));
    }

    /// Removes the key with the smallest count and returns its count.
    fn evict_smallest(&mut self) -> u64 {
        while let Some(Reverse((count, key))) = self.heap.pop() {
            match self.entries.get(&key) {
                Some(e) if e.0 == count => {
                    self.entries.remove(&key);
                    self.evictions += 1;
                    return count;
                }
                Some(e) => {
                    let current = e.0;
                    self.heap.push(Reverse((current, key)));
                }
                None => {}
            }
        }
        0
    }

    /// Whether a key ever lost its counter (then counts are upper bounds, not exact).
    pub fn approximate(&self) -> bool {
        self.evictions > 0
    }

    /// Every tracked key with its counted occurrences (an upper bound of the true count), the
    /// overestimate bound, and its payload.
    pub fn entries(&self) -> impl Iterator<Item = (&K, u64, u64, &V)> {
        self.entries.iter().map(|(k, (c, e, v))| (k, *c, *e, v))
    }
}

/// A series of at most `cap` points, thinned by merging neighbours. See the module docs.
#[derive(Debug, Clone)]
pub struct Thinned {
    cap: usize,
    /// Points of the current block size, and the block being filled: (first time, last run,
    /// sum of values, count).
    points: Vec<TrendPoint>,
    block: usize,
    open: Option<(i64, u64, f64, usize)>,
}

impl Thinned {
    /// An empty series keeping at most `cap` points (at least 2).
    pub fn new(cap: usize) -> Self {
        Thinned {
            cap: cap.max(2),
            points: Vec::new(),
            block: 1,
            open: None,
        }
    }

    /// Appends one point (in run order).
    pub fn push(&mut self, p: TrendPoint) {
        let (t, _, sum, n) = self.open.get_or_insert((p.at_unix_ns, p.run, 0.0, 0));
        let t = *t;
        let (sum, n) = (*sum + p.value, *n + 1);
        self.open = Some((t, p.run, sum, n));
        if n < self.block {
            return;
        }
        self.open = None;
        self.points.push(TrendPoint {
            at_unix_ns: t,
            run: p.run,
            value: sum / n as f64,
        });
        if self.points.len() >= self.cap {
            self.points = self
                .points
                .chunks(2)
                .map(|c| TrendPoint {
                    at_unix_ns: c[0].at_unix_ns,
                    run: c[c.len() - 1].run,
                    value: c.iter().map(|p| p.value).sum::<f64>() / c.len() as f64,
                })
                .collect();
            self.block *= 2;
        }
    }

    /// Runs per point.
    pub fn block(&self) -> usize {
        self.block
    }

    /// The points (the last, partly filled block included).
    pub fn points(&self) -> Vec<TrendPoint> {
        let mut out = self.points.clone();
        if let Some((t, run, sum, n)) = self.open {
            out.push(TrendPoint {
                at_unix_ns: t,
                run,
                value: sum / n as f64,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservoir_is_uniform() {
        // 100,000 items into 1,000 slots: each tenth of the stream holds about a tenth of the sample
        let mut r = Reservoir::new(1000, 7);
        for i in 0..100_000u32 {
            r.push(i);
        }
        assert_eq!(r.items().len(), 1000);
        assert_eq!(r.seen(), 100_000);
        for decile in 0..10 {
            let n = r.items().iter().filter(|&&i| i / 10_000 == decile).count();
            assert!((60..=140).contains(&n), "decile {decile}: {n}");
        }
        let mut small = Reservoir::new(5, 1);
        small.push(1);
        assert_eq!(small.into_items(), vec![1]);
    }

    #[test]
    fn top_k_keeps_the_heavy_keys() {
        // keys 0..5 take 60% of 100,000 items (key 0 20,000, keys 1..5 10,000 each); 20,000
        // other keys share the rest
        let mut t: TopK<u32, u64> = TopK::new(50);
        for i in 0..100_000u32 {
            let key = if i % 10 < 6 { i % 5 } else { 1000 + i % 20_000 };
            t.add(&key, || 0, |v| *v += 1);
        }
        let mut heavy: Vec<(u32, u64, u64)> = t.entries().map(|(k, c, e, _)| (*k, c, e)).collect();
        heavy.sort_by_key(|h| std::cmp::Reverse(h.1));
        let top: Vec<u32> = heavy.iter().take(5).map(|h| h.0).collect();
        for k in 0..5 {
            assert!(top.contains(&k), "{heavy:?}");
            let (_, c, e) = heavy.iter().find(|h| h.0 == k).copied().unwrap();
            let truth = if k == 0 { 20_000 } else { 10_000 };
            // the count is an upper bound, and the count less its bound a lower one
            assert!(c - e <= truth && c >= truth, "key {k}: count {c}, bound {e}");
        }
        assert!(t.entries().count() <= 50);
    }

    #[test]
    fn thinned_series_keeps_block_means_and_run_numbers() {
        let mut s = Thinned::new(8);
        for i in 0..100u64 {
            s.push(TrendPoint {
                at_unix_ns: i as i64 * 10,
                run: i + 1,
                value: i as f64,
            });
        }
        let pts = s.points();
        assert!(pts.len() <= 8, "{}", pts.len());
        assert_eq!(s.block(), 16);
        // first block: runs 1..=16, values 0..=15
        assert_eq!((pts[0].at_unix_ns, pts[0].run, pts[0].value), (0, 16, 7.5));
        assert_eq!(pts.last().unwrap().run, 100);
    }
}
