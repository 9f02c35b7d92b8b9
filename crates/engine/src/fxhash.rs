//! A small, fast, non-cryptographic hasher (the Fx hash of rustc) for the engine's internal
//! maps keyed by element and flow ids: those keys come from the loaded model, not from
//! untrusted input at run time, so HashDoS resistance is not needed and SipHash's cost is.

use std::hash::{BuildHasherDefault, Hasher};

/// The Fx hasher: one multiply-rotate per word.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FxHasher`]s.
pub(crate) type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A `HashMap` with the Fx hash.
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_lookups_work() {
        let mut m: FxHashMap<String, usize> = FxHashMap::default();
        for (i, k) in ["a", "task_1", "task_10", "a-much-longer-element-id-0001"]
            .iter()
            .enumerate()
        {
            m.insert(k.to_string(), i);
        }
        assert_eq!(m.get("task_10"), Some(&2));
        assert_eq!(m.get("a-much-longer-element-id-0001"), Some(&3));
        assert_eq!(m.get("task_11"), None);
    }
}
